// Package officehours decides whether a group is open: a pure verdict over a
// weekly schedule, breaks, holidays and the receptionist's override, at an
// instant the caller passes in.
//
// A Schedule is read on the wall clock of its IANA time zone (the embedded
// zone database is linked in, so every zone name works on any machine). A
// schedule without weekly hours is open around the clock. An Override set to
// open or closed holds until set back to auto, or until its optional Until.
//
// Verdict(schedule, override, now) returns open or closed, the reason
// (schedule, break, holiday, override) and the next instant that changes,
// DST included. Parse reads the JSON shape the API stores under a group's
// "office_hours" key; Validate names the offending field. Nothing here does
// I/O or reads the clock. docs/hunt-groups.md describes the semantics.
package officehours
