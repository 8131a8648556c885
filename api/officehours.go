package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ucgrid/ucgrid/actors/officehours"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Office hours travel in the JSON shape of actors/officehours (weekly,
// breaks, holidays; see officehours.Parse) and are stored as
// dirpb.OfficeHours. The two differ; docs/api.md lists how:
//   - the time zone is the group's "timezone"; office_hours.timezone may
//     repeat it but not differ;
//   - yearly holidays (--MM-DD) have no stored form: 400;
//   - stored holidays with opening hours (written by another client) have
//     no JSON form: they are shown as closed all day.

// officeHoursRecord parses and validates the wire office hours of a group
// in time zone tz; empty or null means none (open around the clock).
func officeHoursRecord(raw json.RawMessage, tz string) (*dirpb.OfficeHours, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	s, err := officehours.Parse(raw)
	if err != nil {
		return nil, officeHoursError(err)
	}
	if s.TimeZone != "" && s.TimeZone != tz {
		return nil, invalid("office_hours.timezone", "%q differs from the group's timezone %q; set timezone instead", s.TimeZone, tz)
	}
	s.TimeZone = tz
	if err := s.Validate(); err != nil {
		return nil, officeHoursError(err)
	}
	oh := &dirpb.OfficeHours{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if len(s.Weekly[d]) == 0 && len(s.Breaks[d]) == 0 {
			continue
		}
		oh.Days = append(oh.Days, &dirpb.DayHours{Weekday: int32(d), Open: intervalsRecord(s.Weekly[d]), Breaks: intervalsRecord(s.Breaks[d])})
	}
	for i, hd := range s.Holidays {
		if hd.Date.Yearly() {
			return nil, invalid("office_hours.holidays["+strconv.Itoa(i)+"].date",
				"%s: yearly holidays are not stored by this version; give the date with its year", hd.Date)
		}
		oh.Holidays = append(oh.Holidays, &dirpb.Holiday{Date: hd.Date.String(), Name: hd.Name})
	}
	return oh, nil
}

func officeHoursError(err error) error {
	var fe *officehours.FieldError
	if errors.As(err, &fe) {
		return errorf(http.StatusBadRequest, codeInvalid, "%s: %v", fe.Field, fe.Err)
	}
	return invalid("office_hours", "%v", err)
}

func intervalsRecord(ivs []officehours.Interval) []*dirpb.Interval {
	out := make([]*dirpb.Interval, len(ivs))
	for i, iv := range ivs {
		out[i] = &dirpb.Interval{FromMin: int32(iv.Start), ToMin: int32(iv.End)}
	}
	return out
}

// officeHoursOut converts stored office hours to the wire shape (without
// the time zone, which is the group's). Stored values that do not parse
// are reported as an error: they were not written through this API.
func officeHoursOut(oh *dirpb.OfficeHours) (json.RawMessage, error) {
	var s officehours.Schedule
	for _, d := range oh.GetDays() {
		if d.Weekday < 0 || d.Weekday > 6 {
			return nil, fmt.Errorf("api: stored office hours: weekday %d", d.Weekday)
		}
		s.Weekly[d.Weekday] = append(s.Weekly[d.Weekday], intervalsOut(d.Open)...)
		s.Breaks[d.Weekday] = append(s.Breaks[d.Weekday], intervalsOut(d.Breaks)...)
	}
	for _, hd := range oh.GetHolidays() {
		date, err := officehours.ParseDate(hd.Date)
		if err != nil {
			return nil, fmt.Errorf("api: stored office hours: %w", err)
		}
		s.Holidays = append(s.Holidays, officehours.Holiday{Date: date, Name: hd.Name})
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("api: office hours: %w", err)
	}
	return b, nil
}

func intervalsOut(ivs []*dirpb.Interval) []officehours.Interval {
	out := make([]officehours.Interval, len(ivs))
	for i, iv := range ivs {
		out[i] = officehours.Span(officehours.Clock(iv.FromMin), officehours.Clock(iv.ToMin))
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }
