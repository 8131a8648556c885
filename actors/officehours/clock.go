package officehours

import (
	"fmt"
	"strconv"
)

// MinutesPerDay is the length of a day on the wall clock. 24:00 (= 1440) is a
// valid interval end: an interval [08:00, 24:00) is open until midnight.
const MinutesPerDay = 24 * 60

// Clock is a time of day on the wall clock in the schedule's time zone, in
// minutes since midnight: 0 (00:00) to MinutesPerDay (24:00).
type Clock int

// At returns the Clock for hour h and minute m.
func At(h, m int) Clock { return Clock(h*60 + m) }

// ParseClock parses "HH:MM", two digits each, from "00:00" to "24:00".
func ParseClock(s string) (Clock, error) {
	c, err := parseClock(s)
	if err != nil {
		return 0, fmt.Errorf("officehours: %w", err)
	}
	return c, nil
}

// parseClock is ParseClock with errors left bare for a *FieldError to wrap.
func parseClock(s string) (Clock, error) {
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, errH := strconv.Atoi(s[:2])
	m, errM := strconv.Atoi(s[3:])
	if errH != nil || errM != nil { // unreachable after digits(); kept for safety
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	c := At(h, m)
	if m > 59 || c > MinutesPerDay {
		return 0, fmt.Errorf("%s out of range 00:00 to 24:00", s)
	}
	return c, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the clock as HH:MM (24:00 for MinutesPerDay). Values out of
// range print as they are, e.g. 25:00 or -00:10, so errors can name them.
func (c Clock) String() string {
	if c < 0 {
		return "-" + (-c).String()
	}
	return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60)
}

// Interval is a half-open span [Start, End) of one day on the wall clock. It
// never crosses midnight: split 22:00–06:00 into 22:00–24:00 on one day and
// 00:00–06:00 on the next.
type Interval struct {
	Start, End Clock
}

// Span returns the interval [start, end); it is a shorthand for tests and
// literals.
func Span(start, end Clock) Interval { return Interval{Start: start, End: end} }

// Contains reports whether minute m of the day falls in the interval.
func (iv Interval) Contains(m Clock) bool { return iv.Start <= m && m < iv.End }

func (iv Interval) String() string { return iv.Start.String() + "-" + iv.End.String() }

// check reports why the interval is not a valid span of one day.
func (iv Interval) check() error {
	switch {
	case iv.Start < 0 || iv.Start >= MinutesPerDay:
		return fmt.Errorf("start %s out of range 00:00 to 23:59", iv.Start)
	case iv.End <= 0 || iv.End > MinutesPerDay:
		return fmt.Errorf("end %s out of range 00:01 to 24:00", iv.End)
	case iv.End <= iv.Start:
		return fmt.Errorf("end %s not after start %s (split an interval that crosses midnight at 24:00)", iv.End, iv.Start)
	}
	return nil
}
