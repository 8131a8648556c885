package officehours

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// scheduleJSON is the JSON shape of a schedule, the value of a group's
// "office_hours" key:
//
//	{"timezone": "Europe/Berlin",
//	 "weekly":   {"mon": [["08:00","12:00"], ["13:00","17:00"]], "fri": [["08:00","14:00"]]},
//	 "breaks":   {"mon": [["10:00","10:15"]]},
//	 "holidays": [{"date": "2026-12-24", "name": "Christmas Eve"}, {"date": "--01-01"}]}
//
// Day keys are sun, mon, tue, wed, thu, fri, sat (full names are accepted
// too). Times are HH:MM from 00:00 to 24:00.
type scheduleJSON struct {
	TimeZone string                `json:"timezone,omitempty"`
	Weekly   map[string][][]string `json:"weekly,omitempty"`
	Breaks   map[string][][]string `json:"breaks,omitempty"`
	Holidays []holidayJSON         `json:"holidays,omitempty"`
}

type holidayJSON struct {
	Date string `json:"date"`
	Name string `json:"name,omitempty"`
}

// fullDayNames are the long spellings accepted for the day keys.
var fullDayNames = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// Parse decodes a schedule from its JSON shape and validates it. Errors are
// *FieldError values naming the field, e.g.
// `officehours: office_hours.weekly.mon[1]: end "25:00" ...`.
func Parse(data []byte) (Schedule, error) {
	var s Schedule
	err := s.UnmarshalJSON(data)
	return s, err
}

// UnmarshalJSON decodes and validates a schedule; unknown keys are errors.
// JSON null leaves the schedule unchanged.
func (s *Schedule) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	var raw scheduleJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return decodeErr(err)
	}
	if dec.More() {
		return fieldErr("office_hours", "trailing data after the schedule")
	}
	out, err := raw.schedule()
	if err != nil {
		return err
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*s = out
	return nil
}

// decodeErr names the field of a JSON type error.
func decodeErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fieldErr("office_hours."+te.Field, "got JSON %s, want %s", te.Value, jsonKind(te.Type))
	}
	return &FieldError{Field: "office_hours", Err: err}
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	default:
		return t.Kind().String()
	}
}

// schedule converts the JSON shape, checking the syntax of every value.
func (raw *scheduleJSON) schedule() (Schedule, error) {
	s := Schedule{TimeZone: raw.TimeZone}
	var err error
	if s.Weekly, err = weekFromJSON("office_hours.weekly", raw.Weekly); err != nil {
		return Schedule{}, err
	}
	if s.Breaks, err = weekFromJSON("office_hours.breaks", raw.Breaks); err != nil {
		return Schedule{}, err
	}
	for i, h := range raw.Holidays {
		d, err := parseDate(h.Date)
		if err != nil {
			return Schedule{}, &FieldError{Field: fmt.Sprintf("office_hours.holidays[%d].date", i), Err: err}
		}
		s.Holidays = append(s.Holidays, Holiday{Date: d, Name: h.Name})
	}
	return s, nil
}

// weekFromJSON converts a day-key → intervals map, taking the keys in a
// fixed order so that the first error reported does not vary.
func weekFromJSON(path string, days map[string][][]string) (Week, error) {
	var w Week
	keys := make([]string, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		d, ok := dayOf(key)
		if !ok {
			return Week{}, fieldErr(path+"."+key, "unknown day (want sun, mon, tue, wed, thu, fri or sat)")
		}
		if w[d] != nil {
			return Week{}, fieldErr(path+"."+key, "day %s given twice", dayKeys[d])
		}
		w[d] = make([]Interval, 0, len(days[key]))
		for i, pair := range days[key] {
			iv, err := intervalFromJSON(pair)
			if err != nil {
				return Week{}, &FieldError{Field: fmt.Sprintf("%s.%s[%d]", path, key, i), Err: err}
			}
			w[d] = append(w[d], iv)
		}
	}
	return w, nil
}

func dayOf(key string) (time.Weekday, bool) {
	for d := range dayKeys {
		if key == dayKeys[d] || key == fullDayNames[d] {
			return time.Weekday(d), true
		}
	}
	return 0, false
}

func intervalFromJSON(pair []string) (Interval, error) {
	if len(pair) != 2 {
		return Interval{}, fmt.Errorf("want [\"HH:MM\", \"HH:MM\"], got %d values", len(pair))
	}
	start, err := parseClock(pair[0])
	if err != nil {
		return Interval{}, fmt.Errorf("start: %w", err)
	}
	end, err := parseClock(pair[1])
	if err != nil {
		return Interval{}, fmt.Errorf("end: %w", err)
	}
	return Interval{Start: start, End: end}, nil
}

// MarshalJSON encodes the schedule in the JSON shape Parse reads.
func (s Schedule) MarshalJSON() ([]byte, error) {
	raw := scheduleJSON{TimeZone: s.TimeZone, Weekly: weekToJSON(&s.Weekly), Breaks: weekToJSON(&s.Breaks)}
	for _, h := range s.Holidays {
		raw.Holidays = append(raw.Holidays, holidayJSON{Date: h.Date.String(), Name: h.Name})
	}
	return json.Marshal(raw)
}

func weekToJSON(w *Week) map[string][][]string {
	if w.empty() {
		return nil
	}
	m := map[string][][]string{}
	for d, day := range w {
		for _, iv := range day {
			m[dayKeys[d]] = append(m[dayKeys[d]], []string{iv.Start.String(), iv.End.String()})
		}
	}
	return m
}
