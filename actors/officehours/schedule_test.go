package officehours

import (
	"errors"
	"testing"
	"time"
)

func TestValidate_NamesTheField(t *testing.T) {
	mon := func(ivs ...Interval) Week { return Week{time.Monday: ivs} }
	cases := []struct {
		name string
		s    Schedule
		want string // error text, "" for valid
	}{
		{"empty schedule is valid", Schedule{}, ""},
		{"known zone is valid", Schedule{TimeZone: "America/New_York"}, ""},
		{"unknown zone", Schedule{TimeZone: "Europe/Berln"},
			`officehours: office_hours.timezone: unknown time zone "Europe/Berln"`},
		{"local is no iana zone", Schedule{TimeZone: "Local"},
			`officehours: office_hours.timezone: unknown time zone "Local"`},
		{"end out of range", Schedule{Weekly: mon(Span(At(8, 0), At(12, 0)), Span(At(13, 0), At(25, 0)))},
			`officehours: office_hours.weekly.mon[1]: end 25:00 out of range 00:01 to 24:00`},
		{"negative start", Schedule{Weekly: mon(Span(-10, At(12, 0)))},
			`officehours: office_hours.weekly.mon[0]: start -00:10 out of range 00:00 to 23:59`},
		{"crossing midnight", Schedule{Weekly: Week{time.Friday: {Span(At(22, 0), At(6, 0))}}},
			`officehours: office_hours.weekly.fri[0]: end 06:00 not after start 22:00 (split an interval that crosses midnight at 24:00)`},
		{"empty interval", Schedule{Weekly: mon(Span(At(8, 0), At(8, 0)))},
			`officehours: office_hours.weekly.mon[0]: end 08:00 not after start 08:00 (split an interval that crosses midnight at 24:00)`},
		{"overlap names the day and both intervals", Schedule{Weekly: Week{time.Wednesday: {Span(At(13, 0), At(17, 0)), Span(At(8, 0), At(13, 30))}}},
			`officehours: office_hours.weekly.wed[0]: 13:00-17:00 overlaps office_hours.weekly.wed[1] 08:00-13:30`},
		{"touching intervals are valid", Schedule{Weekly: mon(Span(At(8, 0), At(12, 0)), Span(At(12, 0), At(24, 0)))}, ""},
		{"overlapping breaks", Schedule{Breaks: Week{time.Sunday: {Span(At(12, 0), At(13, 0)), Span(At(12, 30), At(12, 45))}}},
			`officehours: office_hours.breaks.sun[1]: 12:30-12:45 overlaps office_hours.breaks.sun[0] 12:00-13:00`},
		{"impossible holiday", Schedule{Holidays: []Holiday{{Date: Date{2026, time.February, 29}}}},
			`officehours: office_hours.holidays[0].date: 2026-02-29 is not a day of the calendar`},
		{"yearly 29 february is valid", Schedule{Holidays: []Holiday{{Date: Date{0, time.February, 29}}}}, ""},
		{"month out of range", Schedule{Holidays: []Holiday{{Date: Date{2026, 13, 1}}}},
			`officehours: office_hours.holidays[0].date: month 13 out of range in 2026-13-01`},
		{"repeated holiday", Schedule{Holidays: []Holiday{{Date: Date{0, 12, 25}}, {Date: Date{2026, 12, 25}}, {Date: Date{0, 12, 25}, Name: "again"}}},
			`officehours: office_hours.holidays[2].date: --12-25 repeats office_hours.holidays[0]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			got := ""
			if err != nil {
				got = err.Error()
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Errorf("%v is no *FieldError", err)
				}
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestValidate_UnknownZoneIsSentinel(t *testing.T) {
	err := Schedule{TimeZone: "Nowhere/Nothing"}.Validate()
	if !errors.Is(err, ErrUnknownTimeZone) {
		t.Errorf("%v does not wrap ErrUnknownTimeZone", err)
	}
}

func TestParseClock(t *testing.T) {
	cases := []struct {
		in   string
		want Clock
		err  string
	}{
		{"00:00", 0, ""},
		{"08:30", At(8, 30), ""},
		{"23:59", At(23, 59), ""},
		{"24:00", MinutesPerDay, ""},
		{"24:01", 0, "officehours: 24:01 out of range 00:00 to 24:00"},
		{"25:00", 0, "officehours: 25:00 out of range 00:00 to 24:00"},
		{"12:60", 0, "officehours: 12:60 out of range 00:00 to 24:00"},
		{"8:00", 0, `officehours: "8:00" is not HH:MM`},
		{"08-00", 0, `officehours: "08-00" is not HH:MM`},
		{"+8:00", 0, `officehours: "+8:00" is not HH:MM`},
		{"", 0, `officehours: "" is not HH:MM`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseClock(tc.in)
			if msg := errText(err); msg != tc.err || got != tc.want {
				t.Errorf("ParseClock(%q) = %v, %q; want %v, %q", tc.in, got, msg, tc.want, tc.err)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	cases := []struct {
		in   string
		want Date
		err  string
	}{
		{"2026-12-24", Date{2026, 12, 24}, ""},
		{"--01-01", Date{0, 1, 1}, ""},
		{"--02-29", Date{0, 2, 29}, ""},
		{"2028-02-29", Date{2028, 2, 29}, ""},
		{"2027-02-29", Date{}, "officehours: 2027-02-29 is not a day of the calendar"},
		{"--04-31", Date{}, "officehours: --04-31 is not a day of the calendar"},
		{"0000-01-01", Date{}, `officehours: year 0000 out of range in "0000-01-01" (write --MM-DD for every year)`},
		{"2026-00-10", Date{}, "officehours: month 0 out of range in 2026-00-10"},
		{"2026-1-1", Date{}, `officehours: "2026-1-1" is not YYYY-MM-DD or --MM-DD`},
		{"12-24", Date{}, `officehours: "12-24" is not YYYY-MM-DD or --MM-DD`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDate(tc.in)
			if msg := errText(err); msg != tc.err || got != tc.want {
				t.Errorf("ParseDate(%q) = %v, %q; want %v, %q", tc.in, got, msg, tc.want, tc.err)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
