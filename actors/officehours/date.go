package officehours

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Date is a calendar day in the schedule's time zone. Year 0 means the same
// day every year (written --MM-DD); a yearly 29 February applies in leap
// years only.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// Holiday closes the whole of one day, from 00:00 to 24:00 on the wall clock,
// whatever the weekly hours say.
type Holiday struct {
	Date Date
	Name string // optional, shown in the verdict ("closed: Christmas Eve")
}

// ParseDate parses YYYY-MM-DD, or --MM-DD for a day that recurs every year.
func ParseDate(s string) (Date, error) {
	d, err := parseDate(s)
	if err != nil {
		return Date{}, fmt.Errorf("officehours: %w", err)
	}
	return d, nil
}

// parseDate is ParseDate with errors left bare for a *FieldError to wrap.
func parseDate(s string) (Date, error) {
	var d Date
	rest, yearly := strings.CutPrefix(s, "--")
	if !yearly {
		if len(s) != 10 || s[4] != '-' || !digits(s[:4]) {
			return Date{}, fmt.Errorf("%q is not YYYY-MM-DD or --MM-DD", s)
		}
		y, err := strconv.Atoi(s[:4])
		if err != nil {
			return Date{}, fmt.Errorf("%q is not YYYY-MM-DD or --MM-DD", s)
		}
		if y == 0 {
			return Date{}, fmt.Errorf("year 0000 out of range in %q (write --MM-DD for every year)", s)
		}
		d.Year, rest = y, s[5:]
	}
	if len(rest) != 5 || rest[2] != '-' || !digits(rest[:2]) || !digits(rest[3:]) {
		return Date{}, fmt.Errorf("%q is not YYYY-MM-DD or --MM-DD", s)
	}
	m, errM := strconv.Atoi(rest[:2])
	day, errD := strconv.Atoi(rest[3:])
	if errM != nil || errD != nil {
		return Date{}, fmt.Errorf("%q is not YYYY-MM-DD or --MM-DD", s)
	}
	d.Month, d.Day = time.Month(m), day
	if err := d.check(); err != nil {
		return Date{}, err
	}
	return d, nil
}

// Yearly reports whether the date recurs every year.
func (d Date) Yearly() bool { return d.Year == 0 }

// String formats the date as YYYY-MM-DD, or --MM-DD when yearly.
func (d Date) String() string {
	if d.Yearly() {
		return fmt.Sprintf("--%02d-%02d", int(d.Month), d.Day)
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// check reports why the date names no day of the calendar.
func (d Date) check() error {
	if d.Year < 0 || d.Year > 9999 {
		return fmt.Errorf("year %d out of range 1 to 9999 (0 for every year)", d.Year)
	}
	if d.Month < time.January || d.Month > time.December {
		return fmt.Errorf("month %d out of range in %s", int(d.Month), d)
	}
	if d.Day < 1 || d.Day > daysIn(d.Year, d.Month) {
		return fmt.Errorf("%s is not a day of the calendar", d)
	}
	return nil
}

// daysIn returns the number of days in month m of year y; year 0 (every
// year) counts as a leap year so that --02-29 is valid.
func daysIn(y int, m time.Month) int {
	if y == 0 {
		y = 2000
	}
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
