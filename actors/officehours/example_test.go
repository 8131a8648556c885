package officehours_test

import (
	"fmt"
	"time"

	"github.com/ucgrid/ucgrid/actors/officehours"
)

// A Berlin office with a lunch break and a named holiday, asked on the
// holiday, during lunch, and after the receptionist closed early.
func ExampleVerdict() {
	s, err := officehours.Parse([]byte(`{
		"timezone": "Europe/Berlin",
		"weekly": {"mon": [["08:00","17:00"]], "tue": [["08:00","17:00"]], "wed": [["08:00","17:00"]],
		           "thu": [["08:00","17:00"]], "fri": [["08:00","15:00"]]},
		"breaks": {"mon": [["12:00","12:30"]]},
		"holidays": [{"date": "2026-12-24", "name": "Christmas Eve"}, {"date": "--12-25", "name": "Christmas Day"}]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	auto := officehours.Override{}
	fmt.Println(officehours.Verdict(s, auto, time.Date(2026, 12, 24, 10, 0, 0, 0, berlin)))
	fmt.Println(officehours.Verdict(s, auto, time.Date(2026, 11, 23, 12, 10, 0, 0, berlin)))

	closedTonight := officehours.Override{Mode: officehours.ModeClosed, Until: time.Date(2026, 11, 24, 0, 0, 0, 0, berlin)}
	fmt.Println(officehours.Verdict(s, closedTonight, time.Date(2026, 11, 23, 15, 0, 0, 0, berlin)))
	// Output:
	// closed (holiday "Christmas Eve") until Mon 2026-12-28 08:00 CET
	// closed (break) until Mon 2026-11-23 12:30 CET
	// closed (override) until Tue 2026-11-24 08:00 CET
}

// Errors name the field in the JSON shape.
func ExampleParse() {
	_, err := officehours.Parse([]byte(`{"weekly": {"mon": [["08:00","12:00"], ["13:00","25:00"]]}}`))
	fmt.Println(err)
	_, err = officehours.Parse([]byte(`{"timezone": "Europe/Berln"}`))
	fmt.Println(err)
	// Output:
	// officehours: office_hours.weekly.mon[1]: end: 25:00 out of range 00:00 to 24:00
	// officehours: office_hours.timezone: unknown time zone "Europe/Berln"
}
