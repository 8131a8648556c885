package officehours

import (
	"fmt"
	"time"
)

// Horizon bounds the search for the next change: Result.Next is zero when
// the verdict does not change within a year of now (a group open 24/7, an
// override without expiry).
const Horizon = 366 * 24 * time.Hour

// Reason says what decided a verdict.
type Reason uint8

const (
	// ReasonSchedule: inside or outside the weekly open hours.
	ReasonSchedule Reason = iota
	// ReasonNoHours: no weekly hours are configured, so the group is open
	// around the clock.
	ReasonNoHours
	// ReasonBreak: a break inside the open hours.
	ReasonBreak
	// ReasonHoliday: a holiday closes the whole day.
	ReasonHoliday
	// ReasonOverride: the receptionist set the group open or closed.
	ReasonOverride
	// ReasonInvalid: the schedule does not validate; the group is treated
	// as open and Result.Err says why.
	ReasonInvalid
)

var reasonNames = [...]string{
	ReasonSchedule: "schedule", ReasonNoHours: "no_hours", ReasonBreak: "break",
	ReasonHoliday: "holiday", ReasonOverride: "override", ReasonInvalid: "invalid",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Result is an office-hours verdict.
type Result struct {
	Open    bool
	Reason  Reason
	Holiday string // the holiday's name when Reason is ReasonHoliday
	// Next is the first instant after now at which Open changes, in the
	// schedule's zone ("closed until Mon 08:00"); zero when it does not
	// change within Horizon or ever.
	Next time.Time
	// Err is the validation error of an invalid schedule (Reason
	// ReasonInvalid, or ReasonOverride while an override is active).
	Err error
}

// String describes the verdict for logs and the console, e.g.
// `closed (holiday "Christmas Eve") until Mon 2026-12-28 08:00 CET`.
func (r Result) String() string {
	s := "closed"
	if r.Open {
		s = "open"
	}
	s += " (" + r.Reason.String()
	if r.Reason == ReasonHoliday && r.Holiday != "" {
		s += fmt.Sprintf(" %q", r.Holiday)
	}
	s += ")"
	if !r.Next.IsZero() {
		s += " until " + r.Next.Format("Mon 2006-01-02 15:04 MST")
	}
	return s
}

// Verdict says whether the group is open at now, why, and when that next
// changes. An active override decides; otherwise the schedule, read on the
// wall clock of its zone: the state at an instant is that of the wall-clock
// date and minute it shows. So an interval starting inside a spring-forward
// gap opens when the clock jumps past its start, and in the autumn hour
// that repeats, the schedule repeats with the wall clock.
//
// An invalid schedule is evaluated as always open (Reason ReasonInvalid,
// Err set): validate schedules when they are stored.
func Verdict(s Schedule, o Override, now time.Time) Result {
	return Compile(s).Verdict(o, now)
}

// Compiled is a schedule validated and prepared once for many verdicts (a
// group grain asked for a ring plan many times a second).
type Compiled struct{ c *compiled }

// Compile validates and prepares s (see Verdict for invalid schedules).
func Compile(s Schedule) Compiled { return Compiled{compile(s)} }

// Verdict is Verdict of the compiled schedule.
func (cs Compiled) Verdict(o Override, now time.Time) Result {
	c := cs.c
	if c == nil {
		c = compile(Schedule{})
	}
	if o.Active(now) {
		return c.overrideVerdict(o, now)
	}
	return c.verdict(now)
}

// overrideVerdict is the verdict while override o is active.
func (c *compiled) overrideVerdict(o Override, now time.Time) Result {
	r := Result{Open: o.Mode == ModeOpen, Reason: ReasonOverride, Err: c.err}
	if o.Until.IsZero() {
		return r
	}
	after := c.verdict(o.Until)
	r.Next = after.Next
	if after.Open != r.Open {
		r.Next = o.Until.In(c.loc)
	}
	return r
}

// verdict is the schedule's verdict at now.
func (c *compiled) verdict(now time.Time) Result {
	st := c.at(wallOf(now, c.loc))
	r := Result{Open: st.open, Reason: st.reason, Holiday: st.holiday, Err: c.err}
	if next := c.next(now, st.open); !next.IsZero() {
		r.Next = next.In(c.loc)
	}
	return r
}

// next returns the first instant after now, within Horizon, at which the
// schedule is not open (if open) or open (if not), or zero. It walks the
// zone's offset periods: inside one, wall time runs with real time, so the
// change is found on the wall clock; at a period's end the clock jumps and
// the state is checked again.
func (c *compiled) next(now time.Time, open bool) time.Time {
	if c.constant {
		return time.Time{}
	}
	limit := now.Add(Horizon)
	for t := now; t.Before(limit); {
		_, end := t.In(c.loc).ZoneBounds()
		if end.IsZero() || end.After(limit) {
			end = limit
		}
		w := wallOf(t, c.loc)
		if nw, ok := c.nextOnWall(w, w.Add(end.Sub(t)), open); ok {
			return t.Add(nw.Sub(w))
		}
		t = end
		if c.at(wallOf(t, c.loc)).open != open {
			return t
		}
	}
	return time.Time{}
}

// nextOnWall returns the first wall reading in (w, until) at which the open
// state differs from open, given that it equals open at w. State changes
// only at midnight and at segment starts, so it visits those in order.
func (c *compiled) nextOnWall(w, until wall, open bool) (wall, bool) {
	for day := midnight(w); day.Before(until); day = day.AddDate(0, 0, 1) {
		if _, closed := c.holiday(day); closed {
			if open && day.After(w) {
				return day, day.Before(until)
			}
			continue
		}
		for _, seg := range c.days[day.Weekday()] {
			t := day.Add(time.Duration(seg.start) * time.Minute)
			if t.After(w) && seg.open != open {
				return t, t.Before(until)
			}
		}
	}
	return wall{}, false
}
