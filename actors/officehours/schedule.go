package officehours

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Schedule is the office hours of a group: when calls ring the members and
// when they go to the closed destination.
//
// A schedule with no weekly open interval on any day is open around the
// clock (a group with no office hours configured is open 24/7); its breaks
// and holidays still close it. Weekly intervals, breaks and holidays are
// read on the wall clock of TimeZone.
type Schedule struct {
	// TimeZone is the IANA time zone name the schedule is read in, e.g.
	// "Europe/Berlin". Empty means UTC.
	TimeZone string
	// Weekly holds the open intervals of each weekday, indexed by
	// time.Weekday (Sunday = 0). Intervals of one day may not overlap; they
	// may touch (08:00–12:00 and 12:00–17:00 read as one open span).
	Weekly Week
	// Breaks close the group inside its open hours on every such weekday,
	// e.g. a lunch break 12:00–12:30. Breaks of one day may not overlap.
	Breaks Week
	// Holidays close whole days. No two may name the same date.
	Holidays []Holiday
}

// Week holds intervals per weekday, indexed by time.Weekday.
type Week [7][]Interval

// empty reports whether no day has an interval.
func (w *Week) empty() bool {
	for _, day := range w {
		if len(day) > 0 {
			return false
		}
	}
	return true
}

// dayKeys are the weekday names used in the JSON shape and in field paths,
// indexed by time.Weekday.
var dayKeys = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Validate reports the first problem with the schedule, as a *FieldError
// naming the field: an unknown time zone, an interval out of range or
// crossing midnight, overlapping intervals of one day, an impossible or
// repeated holiday date.
func (s Schedule) Validate() error {
	if _, err := loadZone(s.TimeZone); err != nil {
		return &FieldError{Field: "office_hours.timezone", Err: err}
	}
	if err := s.Weekly.check("office_hours.weekly"); err != nil {
		return err
	}
	if err := s.Breaks.check("office_hours.breaks"); err != nil {
		return err
	}
	return checkHolidays(s.Holidays)
}

// check validates each interval of each day and that the intervals of a day
// do not overlap.
func (w *Week) check(path string) error {
	for d := time.Sunday; d <= time.Saturday; d++ {
		for i, iv := range w[d] {
			if err := iv.check(); err != nil {
				return &FieldError{Field: fmt.Sprintf("%s.%s[%d]", path, dayKeys[d], i), Err: err}
			}
		}
		if err := checkOverlap(path+"."+dayKeys[d], w[d]); err != nil {
			return err
		}
	}
	return nil
}

// checkOverlap reports two intervals of one day that share a minute.
func checkOverlap(path string, day []Interval) error {
	order := make([]int, len(day))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(day[a].Start, day[b].Start) })
	for k := 1; k < len(order); k++ {
		prev, cur := order[k-1], order[k]
		if day[cur].Start < day[prev].End {
			return fieldErr(fmt.Sprintf("%s[%d]", path, cur), "%s overlaps %s[%d] %s", day[cur], path, prev, day[prev])
		}
	}
	return nil
}

// checkHolidays validates each date and that no date repeats.
func checkHolidays(hs []Holiday) error {
	seen := make(map[Date]int, len(hs))
	for i, h := range hs {
		field := fmt.Sprintf("office_hours.holidays[%d].date", i)
		if err := h.Date.check(); err != nil {
			return &FieldError{Field: field, Err: err}
		}
		if j, dup := seen[h.Date]; dup {
			return fieldErr(field, "%s repeats office_hours.holidays[%d]", h.Date, j)
		}
		seen[h.Date] = i
	}
	return nil
}
