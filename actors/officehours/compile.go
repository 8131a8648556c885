package officehours

import (
	"slices"
	"time"
)

// compiled is a validated schedule prepared for evaluation: the location,
// and for each weekday the day's wall-clock profile, a sorted list of
// segments that starts at 00:00.
type compiled struct {
	loc      *time.Location
	days     [7][]segment
	holidays map[Date]string // dated and yearly (Year 0) holidays → name
	constant bool            // same state on every day forever: no next change
	err      error           // validation error: evaluated as always open
}

// segment is the state from minute start of the day up to the next
// segment's start (or midnight).
type segment struct {
	start  Clock
	open   bool
	reason Reason
}

// compile validates s and prepares it. An invalid schedule compiles to one
// that is always open with ReasonInvalid and the error kept, so a broken
// configuration rings the members instead of turning every caller away.
func compile(s Schedule) *compiled {
	if err := s.Validate(); err != nil {
		c := &compiled{loc: time.UTC, constant: true, err: err}
		for d := range c.days {
			c.days[d] = []segment{{open: true, reason: ReasonInvalid}}
		}
		return c
	}
	loc, _ := loadZone(s.TimeZone) // cannot fail: Validate loaded it
	noHours := s.Weekly.empty()
	c := &compiled{loc: loc, holidays: make(map[Date]string, len(s.Holidays))}
	for d := range c.days {
		c.days[d] = profile(s.Weekly[d], s.Breaks[d], noHours)
	}
	for _, h := range s.Holidays {
		c.holidays[h.Date] = h.Name
	}
	c.constant = noHours && s.Breaks.empty() && len(s.Holidays) == 0
	return c
}

// profile computes the segments of one weekday from its open intervals and
// breaks. State can only change where an interval starts or ends, so it
// evaluates each such cut and keeps those where the state changes.
func profile(open, breaks []Interval, noHours bool) []segment {
	cuts := []Clock{0}
	for _, iv := range slices.Concat(open, breaks) {
		cuts = append(cuts, iv.Start, iv.End)
	}
	slices.Sort(cuts)
	var segs []segment
	for _, m := range slices.Compact(cuts) {
		if m >= MinutesPerDay {
			break
		}
		seg := segmentAt(m, open, breaks, noHours)
		if n := len(segs); n > 0 && segs[n-1].open == seg.open && segs[n-1].reason == seg.reason {
			continue
		}
		segs = append(segs, seg)
	}
	return segs
}

// segmentAt is the state at minute m of a day, from first principles.
func segmentAt(m Clock, open, breaks []Interval, noHours bool) segment {
	inHours := noHours || slices.ContainsFunc(open, func(iv Interval) bool { return iv.Contains(m) })
	inBreak := slices.ContainsFunc(breaks, func(iv Interval) bool { return iv.Contains(m) })
	switch {
	case inHours && inBreak:
		return segment{start: m, reason: ReasonBreak}
	case noHours:
		return segment{start: m, open: true, reason: ReasonNoHours}
	default:
		return segment{start: m, open: inHours, reason: ReasonSchedule}
	}
}

// wall is a wall-clock reading in the schedule's zone, held as a time in UTC
// with the same calendar fields, so that calendar arithmetic on it has no
// DST in the way.
type wall = time.Time

// wallOf returns the wall-clock reading of t in loc.
func wallOf(t time.Time, loc *time.Location) wall {
	_, off := t.In(loc).Zone()
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// state is the verdict of the schedule at wall reading w.
type state struct {
	open    bool
	reason  Reason
	holiday string
}

// at evaluates the schedule at wall reading w.
func (c *compiled) at(w wall) state {
	if name, ok := c.holiday(w); ok {
		return state{reason: ReasonHoliday, holiday: name}
	}
	seg := c.segmentAt(w.Weekday(), minuteOf(w))
	return state{open: seg.open, reason: seg.reason}
}

// holiday returns the name of the holiday on w's date, dated before yearly.
func (c *compiled) holiday(w wall) (string, bool) {
	if len(c.holidays) == 0 {
		return "", false
	}
	y, m, d := w.Date()
	if name, ok := c.holidays[Date{y, m, d}]; ok {
		return name, true
	}
	name, ok := c.holidays[Date{0, m, d}]
	return name, ok
}

// segmentAt returns the segment of weekday d that holds minute m.
func (c *compiled) segmentAt(d time.Weekday, m Clock) segment {
	segs := c.days[d]
	i := len(segs) - 1
	for i > 0 && segs[i].start > m {
		i--
	}
	return segs[i]
}

func minuteOf(w wall) Clock { return At(w.Hour(), w.Minute()) }

func midnight(w wall) wall {
	y, m, d := w.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
