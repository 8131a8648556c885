package officehours

import (
	"testing"
	"time"
)

const (
	berlinWeek = `"timezone":"Europe/Berlin","weekly":{"mon":[["08:00","17:00"]],"tue":[["08:00","17:00"]],"wed":[["08:00","17:00"]],"thu":[["08:00","17:00"]],"fri":[["08:00","17:00"]]}`
	nyWeek     = `"timezone":"America/New_York","weekly":{"mon":[["08:00","17:00"]],"fri":[["08:00","17:00"]]}`
)

type verdictCase struct {
	name     string
	schedule string // JSON shape
	override Override
	now      string // RFC 3339
	open     bool
	reason   Reason
	holiday  string
	next     string // RFC 3339, "" for none
}

func mustParse(t *testing.T, js string) Schedule {
	t.Helper()
	s, err := Parse([]byte(js))
	if err != nil {
		t.Fatalf("parse %s: %v", js, err)
	}
	return s
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func runVerdictCases(t *testing.T, cases []verdictCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Verdict(mustParse(t, tc.schedule), tc.override, mustTime(t, tc.now))
			if got.Open != tc.open || got.Reason != tc.reason || got.Holiday != tc.holiday {
				t.Errorf("got %s, want open=%v reason=%s holiday=%q", got, tc.open, tc.reason, tc.holiday)
			}
			if got.Err != nil {
				t.Errorf("unexpected error %v", got.Err)
			}
			switch {
			case tc.next == "" && !got.Next.IsZero():
				t.Errorf("next change %s, want none", got.Next.Format(time.RFC3339))
			case tc.next != "" && !got.Next.Equal(mustTime(t, tc.next)):
				t.Errorf("next change %s, want %s", got.Next.Format(time.RFC3339), tc.next)
			}
		})
	}
}

func TestVerdict_WeeklyHours(t *testing.T) {
	runVerdictCases(t, []verdictCase{
		{name: "open inside hours until closing", schedule: `{` + berlinWeek + `}`,
			now: "2026-11-23T10:00:00+01:00", open: true, next: "2026-11-23T17:00:00+01:00"},
		{name: "closed before opening until opening", schedule: `{` + berlinWeek + `}`,
			now: "2026-11-23T07:59:59+01:00", next: "2026-11-23T08:00:00+01:00"},
		{name: "opening minute is open", schedule: `{` + berlinWeek + `}`,
			now: "2026-11-23T08:00:00+01:00", open: true, next: "2026-11-23T17:00:00+01:00"},
		{name: "closing minute is closed", schedule: `{` + berlinWeek + `}`,
			now: "2026-11-23T17:00:00+01:00", next: "2026-11-24T08:00:00+01:00"},
		{name: "friday evening closed until monday", schedule: `{` + berlinWeek + `}`,
			now: "2026-11-27T18:30:00+01:00", next: "2026-11-30T08:00:00+01:00"},
		{name: "evaluated in the schedule zone not in UTC", schedule: `{` + berlinWeek + `}`,
			now: "2026-11-23T07:30:00Z", open: true, next: "2026-11-23T16:00:00Z"},
		{name: "two intervals a day close between them", schedule: `{"weekly":{"mon":[["08:00","12:00"],["13:00","17:00"]]}}`,
			now: "2026-11-23T12:15:00Z", next: "2026-11-23T13:00:00Z"},
		{name: "touching intervals read as one", schedule: `{"weekly":{"mon":[["12:00","17:00"],["08:00","12:00"]]}}`,
			now: "2026-11-23T09:00:00Z", open: true, next: "2026-11-23T17:00:00Z"},
		{name: "interval to midnight joins the next day", schedule: `{"weekly":{"mon":[["20:00","24:00"]],"tue":[["00:00","06:00"]]}}`,
			now: "2026-11-23T21:00:00Z", open: true, next: "2026-11-24T06:00:00Z"},
		{name: "no weekly hours is open around the clock", schedule: `{}`,
			now: "2026-11-23T03:00:00Z", open: true, reason: ReasonNoHours},
		{name: "no weekly hours in a zone is open around the clock", schedule: `{"timezone":"Asia/Tokyo"}`,
			now: "2026-11-23T03:00:00Z", open: true, reason: ReasonNoHours},
		{name: "half-hour zone", schedule: `{"timezone":"Asia/Kolkata","weekly":{"mon":[["09:00","18:00"]]}}`,
			now: "2026-11-23T03:00:00Z", open: false, next: "2026-11-23T03:30:00Z"},
	})
}

func TestVerdict_BreaksAndHolidays(t *testing.T) {
	const lunch = `,"breaks":{"mon":[["12:00","12:30"]],"fri":[["16:30","17:00"]]}`
	const holidays = `,"holidays":[{"date":"2026-12-24","name":"Christmas Eve"},{"date":"--12-25","name":"Christmas Day"},{"date":"--02-29"}]`
	runVerdictCases(t, []verdictCase{
		{name: "break closes inside hours until it ends", schedule: `{` + berlinWeek + lunch + `}`,
			now: "2026-11-23T12:10:00+01:00", reason: ReasonBreak, next: "2026-11-23T12:30:00+01:00"},
		{name: "open before a break until it starts", schedule: `{` + berlinWeek + lunch + `}`,
			now: "2026-11-23T11:00:00+01:00", open: true, next: "2026-11-23T12:00:00+01:00"},
		{name: "break at closing time stays closed until next opening", schedule: `{` + berlinWeek + lunch + `}`,
			now: "2026-11-27T16:45:00+01:00", reason: ReasonBreak, next: "2026-11-30T08:00:00+01:00"},
		{name: "break applies only on its weekday", schedule: `{` + berlinWeek + lunch + `}`,
			now: "2026-11-24T12:10:00+01:00", open: true, next: "2026-11-24T17:00:00+01:00"},
		{name: "break without weekly hours closes the always open group", schedule: `{"breaks":{"mon":[["12:00","13:00"]]}}`,
			now: "2026-11-23T12:00:00Z", reason: ReasonBreak, next: "2026-11-23T13:00:00Z"},
		{name: "break outside hours reads as schedule", schedule: `{"weekly":{"mon":[["08:00","12:00"]]},"breaks":{"mon":[["11:00","14:00"]]}}`,
			now: "2026-11-23T13:00:00Z", reason: ReasonSchedule, next: "2026-11-30T08:00:00Z"},
		{name: "dated holiday closes a working day with its name", schedule: `{` + berlinWeek + holidays + `}`,
			now: "2026-12-24T10:00:00+01:00", reason: ReasonHoliday, holiday: "Christmas Eve", next: "2026-12-28T08:00:00+01:00"},
		{name: "yearly holiday recurs", schedule: `{` + berlinWeek + holidays + `}`,
			now: "2031-12-25T10:00:00+01:00", reason: ReasonHoliday, holiday: "Christmas Day", next: "2031-12-26T08:00:00+01:00"},
		{name: "open the day before a holiday until closing", schedule: `{` + berlinWeek + holidays + `}`,
			now: "2026-12-23T16:00:00+01:00", open: true, next: "2026-12-23T17:00:00+01:00"},
		{name: "yearly 29 February applies in leap years", schedule: `{` + berlinWeek + holidays + `}`,
			now: "2028-02-29T10:00:00+01:00", reason: ReasonHoliday, next: "2028-03-01T08:00:00+01:00"},
		{name: "yearly 29 February leaves other years alone", schedule: `{` + berlinWeek + holidays + `}`,
			now: "2027-03-01T10:00:00+01:00", open: true, next: "2027-03-01T17:00:00+01:00"},
		{name: "holiday closes the always open group from local midnight", schedule: `{"timezone":"Europe/Berlin"` + holidays + `}`,
			now: "2026-12-23T12:00:00+01:00", open: true, reason: ReasonNoHours, next: "2026-12-24T00:00:00+01:00"},
		{name: "two holidays in a row reopen after both", schedule: `{"timezone":"Europe/Berlin"` + holidays + `}`,
			now: "2026-12-24T12:00:00+01:00", reason: ReasonHoliday, holiday: "Christmas Eve", next: "2026-12-26T00:00:00+01:00"},
		{name: "past dated holiday only leaves no next change", schedule: `{"holidays":[{"date":"2020-01-01"}]}`,
			now: "2026-11-23T12:00:00Z", open: true, reason: ReasonNoHours},
		{name: "yearly holiday on always open group is a year away at most", schedule: `{"holidays":[{"date":"--11-22"}]}`,
			now: "2026-11-23T12:00:00Z", open: true, reason: ReasonNoHours, next: "2027-11-22T00:00:00Z"},
	})
}

func TestVerdict_DaylightSavingTime(t *testing.T) {
	sun := func(zone, ivs string) string {
		return `{"timezone":"` + zone + `","weekly":{"sun":[` + ivs + `],"mon":[["08:00","17:00"]]}}`
	}
	runVerdictCases(t, []verdictCase{
		// Europe/Berlin: 2026-03-29 02:00 CET → 03:00 CEST; 2026-10-25 03:00 CEST → 02:00 CET.
		{name: "berlin spring forward weekend next opening in summer time", schedule: `{` + berlinWeek + `}`,
			now: "2026-03-27T18:00:00+01:00", next: "2026-03-30T08:00:00+02:00"},
		{name: "berlin opening on the spring forward day", schedule: sun("Europe/Berlin", `["08:00","17:00"]`),
			now: "2026-03-29T00:30:00+01:00", next: "2026-03-29T08:00:00+02:00"},
		{name: "berlin interval starting in the gap opens at the jump", schedule: sun("Europe/Berlin", `["02:30","06:00"]`),
			now: "2026-03-29T01:59:00+01:00", next: "2026-03-29T03:00:00+02:00"},
		{name: "berlin open after the jump until wall clock closing", schedule: sun("Europe/Berlin", `["02:30","06:00"]`),
			now: "2026-03-29T03:00:00+02:00", open: true, next: "2026-03-29T06:00:00+02:00"},
		{name: "berlin interval ending in the gap closes at the jump", schedule: sun("Europe/Berlin", `["00:00","02:30"]`),
			now: "2026-03-29T01:30:00+01:00", open: true, next: "2026-03-29T03:00:00+02:00"},
		{name: "berlin interval inside the gap never opens", schedule: sun("Europe/Berlin", `["02:00","03:00"]`),
			now: "2026-03-29T01:00:00+01:00", next: "2026-03-30T08:00:00+02:00"},
		{name: "berlin autumn weekend next opening in winter time", schedule: `{` + berlinWeek + `}`,
			now: "2026-10-24T18:00:00+02:00", next: "2026-10-26T08:00:00+01:00"},
		{name: "berlin repeated hour first pass closes at wall clock end", schedule: sun("Europe/Berlin", `["00:00","02:30"]`),
			now: "2026-10-25T02:10:00+02:00", open: true, next: "2026-10-25T02:30:00+02:00"},
		{name: "berlin repeated hour reopens when the clock goes back", schedule: sun("Europe/Berlin", `["00:00","02:30"]`),
			now: "2026-10-25T02:45:00+02:00", next: "2026-10-25T02:00:00+01:00"},
		{name: "berlin repeated hour second pass closes again", schedule: sun("Europe/Berlin", `["00:00","02:30"]`),
			now: "2026-10-25T02:10:00+01:00", open: true, next: "2026-10-25T02:30:00+01:00"},
		{name: "berlin long sunday lasts 25 hours of real time", schedule: sun("Europe/Berlin", `["00:00","24:00"]`),
			now: "2026-10-25T00:00:00+02:00", open: true, next: "2026-10-26T00:00:00+01:00"},
		// America/New_York: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
		{name: "new york spring forward weekend", schedule: `{` + nyWeek + `}`,
			now: "2026-03-06T18:00:00-05:00", next: "2026-03-09T08:00:00-04:00"},
		{name: "new york fall back weekend", schedule: `{` + nyWeek + `}`,
			now: "2026-10-30T18:00:00-04:00", next: "2026-11-02T08:00:00-05:00"},
		{name: "new york interval in the spring gap opens at the jump", schedule: sun("America/New_York", `["02:15","04:00"]`),
			now: "2026-03-08T01:00:00-05:00", next: "2026-03-08T03:00:00-04:00"},
		{name: "new york repeated hour first pass", schedule: sun("America/New_York", `["01:00","01:30"]`),
			now: "2026-11-01T01:10:00-04:00", open: true, next: "2026-11-01T01:30:00-04:00"},
		{name: "new york repeated hour reopens in standard time", schedule: sun("America/New_York", `["01:00","01:30"]`),
			now: "2026-11-01T01:40:00-04:00", next: "2026-11-01T01:00:00-05:00"},
		{name: "new york repeated hour second pass", schedule: sun("America/New_York", `["01:00","01:30"]`),
			now: "2026-11-01T01:00:00-05:00", open: true, next: "2026-11-01T01:30:00-05:00"},
		// Australia/Lord_Howe moves its clock by 30 minutes: 2026-04-05 02:00 → 01:30.
		{name: "lord howe half hour fall back closes when the clock goes back before opening", schedule: sun("Australia/Lord_Howe", `["01:45","03:00"]`),
			now: "2026-04-05T01:50:00+11:00", open: true, next: "2026-04-05T01:30:00+10:30"},
		{name: "lord howe reopens at the wall clock opening after going back", schedule: sun("Australia/Lord_Howe", `["01:45","03:00"]`),
			now: "2026-04-05T01:30:00+10:30", next: "2026-04-05T01:45:00+10:30"},
	})
}

func TestVerdict_Override(t *testing.T) {
	week := `{` + berlinWeek + `}`
	at := func(s string) time.Time { return mustTime(t, s) }
	runVerdictCases(t, []verdictCase{
		{name: "open override holds outside hours until set back", schedule: week,
			override: Override{Mode: ModeOpen}, now: "2026-11-23T22:00:00+01:00", open: true, reason: ReasonOverride},
		{name: "closed override holds inside hours until set back", schedule: week,
			override: Override{Mode: ModeClosed}, now: "2026-11-23T10:00:00+01:00", reason: ReasonOverride},
		{name: "closed override with expiry inside hours reopens at expiry", schedule: week,
			override: Override{Mode: ModeClosed, Until: at("2026-11-23T14:00:00+01:00")},
			now:      "2026-11-23T10:00:00+01:00", reason: ReasonOverride, next: "2026-11-23T14:00:00+01:00"},
		{name: "closed override expiring at night stays closed until opening", schedule: week,
			override: Override{Mode: ModeClosed, Until: at("2026-11-24T00:00:00+01:00")},
			now:      "2026-11-23T15:00:00+01:00", reason: ReasonOverride, next: "2026-11-24T08:00:00+01:00"},
		{name: "open override expiring at night closes at expiry", schedule: week,
			override: Override{Mode: ModeOpen, Until: at("2026-11-24T00:00:00+01:00")},
			now:      "2026-11-23T18:00:00+01:00", open: true, reason: ReasonOverride, next: "2026-11-24T00:00:00+01:00"},
		{name: "open override expiring inside hours stays open until closing", schedule: week,
			override: Override{Mode: ModeOpen, Until: at("2026-11-24T09:00:00+01:00")},
			now:      "2026-11-23T18:00:00+01:00", open: true, reason: ReasonOverride, next: "2026-11-24T17:00:00+01:00"},
		{name: "expired override follows the schedule", schedule: week,
			override: Override{Mode: ModeClosed, Until: at("2026-11-23T09:00:00+01:00")},
			now:      "2026-11-23T09:00:00+01:00", open: true, next: "2026-11-23T17:00:00+01:00"},
		{name: "auto ignores until", schedule: week,
			override: Override{Mode: ModeAuto, Until: at("2026-11-30T09:00:00+01:00")},
			now:      "2026-11-23T22:00:00+01:00", next: "2026-11-24T08:00:00+01:00"},
		{name: "open override beats a holiday", schedule: `{` + berlinWeek + `,"holidays":[{"date":"2026-12-24"}]}`,
			override: Override{Mode: ModeOpen}, now: "2026-12-24T10:00:00+01:00", open: true, reason: ReasonOverride},
		{name: "closed override on always open group", schedule: `{}`,
			override: Override{Mode: ModeClosed, Until: at("2026-11-23T12:00:00Z")},
			now:      "2026-11-23T10:00:00Z", reason: ReasonOverride, next: "2026-11-23T12:00:00Z"},
	})
}

func TestOverride_CurrentClearsExpired(t *testing.T) {
	until := mustTime(t, "2026-11-23T12:00:00Z")
	o := Override{Mode: ModeOpen, Until: until}
	if got := o.Current(until.Add(-time.Second)); got != o {
		t.Errorf("before expiry: %+v, want %+v", got, o)
	}
	if got := o.Current(until); got != (Override{}) {
		t.Errorf("at expiry: %+v, want auto", got)
	}
}

func TestVerdict_InvalidScheduleFailsOpen(t *testing.T) {
	s := Schedule{TimeZone: "Mars/Olympus_Mons", Weekly: Week{time.Monday: {Span(At(8, 0), At(17, 0))}}}
	got := Verdict(s, Override{}, mustTime(t, "2026-11-23T22:00:00Z"))
	if !got.Open || got.Reason != ReasonInvalid || got.Err == nil || !got.Next.IsZero() {
		t.Errorf("got %+v, want open, invalid, with error, no next change", got)
	}
	got = Verdict(s, Override{Mode: ModeClosed}, mustTime(t, "2026-11-23T22:00:00Z"))
	if got.Open || got.Reason != ReasonOverride || got.Err == nil {
		t.Errorf("with closed override got %+v, want closed by override with error", got)
	}
}

func TestResult_String(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		r    Result
		want string
	}{
		{"open without change", Result{Open: true, Reason: ReasonNoHours}, "open (no_hours)"},
		{"closed until", Result{Reason: ReasonSchedule, Next: time.Date(2026, 11, 30, 8, 0, 0, 0, berlin)}, "closed (schedule) until Mon 2026-11-30 08:00 CET"},
		{"unnamed holiday", Result{Reason: ReasonHoliday}, "closed (holiday)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
