package officehours

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

const fullJSON = `{"timezone":"Europe/Berlin",
	"weekly":{"mon":[["08:00","12:00"],["13:00","17:00"]],"fri":[["08:00","24:00"]],"saturday":[["10:00","12:00"]]},
	"breaks":{"fri":[["12:00","12:30"]]},
	"holidays":[{"date":"2026-12-24","name":"Christmas Eve"},{"date":"--01-01"}]}`

func TestParse_ReadsTheJSONShape(t *testing.T) {
	got := mustParse(t, fullJSON)
	want := Schedule{
		TimeZone: "Europe/Berlin",
		Weekly: Week{
			time.Monday:   {Span(At(8, 0), At(12, 0)), Span(At(13, 0), At(17, 0))},
			time.Friday:   {Span(At(8, 0), MinutesPerDay)},
			time.Saturday: {Span(At(10, 0), At(12, 0))},
		},
		Breaks:   Week{time.Friday: {Span(At(12, 0), At(12, 30))}},
		Holidays: []Holiday{{Date: Date{2026, 12, 24}, Name: "Christmas Eve"}, {Date: Date{0, 1, 1}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParse_RoundTripsThroughMarshal(t *testing.T) {
	s := mustParse(t, fullJSON)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back := mustParse(t, string(b))
	if !reflect.DeepEqual(s, back) {
		t.Errorf("round trip through %s\ngot  %+v\nwant %+v", b, back, s)
	}
}

func TestParse_DecodesInsideAGroupDocument(t *testing.T) {
	var group struct {
		Name        string   `json:"name"`
		OfficeHours Schedule `json:"office_hours"`
	}
	err := json.Unmarshal([]byte(`{"name":"sales","office_hours":{"timezone":"Asia/Tokyo","weekly":{"mon":[["09:00","18:00"]]}}}`), &group)
	if err != nil || group.OfficeHours.TimeZone != "Asia/Tokyo" || len(group.OfficeHours.Weekly[time.Monday]) != 1 {
		t.Errorf("got %+v, %v", group, err)
	}
	if err := json.Unmarshal([]byte(`{"office_hours":null}`), &group); err != nil {
		t.Errorf("null office hours: %v", err)
	}
}

func TestParse_ErrorsNameTheField(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"end out of range", `{"weekly":{"mon":[["08:00","12:00"],["13:00","25:00"]]}}`,
			`officehours: office_hours.weekly.mon[1]: end: 25:00 out of range 00:00 to 24:00`},
		{"malformed start", `{"breaks":{"tue":[["8h","12:00"]]}}`,
			`officehours: office_hours.breaks.tue[0]: start: "8h" is not HH:MM`},
		{"interval needs two values", `{"weekly":{"mon":[["08:00"]]}}`,
			`officehours: office_hours.weekly.mon[0]: want ["HH:MM", "HH:MM"], got 1 values`},
		{"unknown day", `{"weekly":{"mo":[["08:00","12:00"]]}}`,
			`officehours: office_hours.weekly.mo: unknown day (want sun, mon, tue, wed, thu, fri or sat)`},
		{"day given twice", `{"weekly":{"mon":[],"monday":[]}}`,
			`officehours: office_hours.weekly.monday: day mon given twice`},
		{"unknown key", `{"holiday":[]}`,
			`officehours: office_hours: json: unknown field "holiday"`},
		{"wrong type", `{"weekly":[["08:00","12:00"]]}`,
			`officehours: office_hours.weekly: got JSON array, want object`},
		{"wrong nested type", `{"holidays":[{"date":1}]}`,
			`officehours: office_hours.holidays.date: got JSON number, want string`},
		{"bad holiday date", `{"holidays":[{"date":"2026-12-24"},{"date":"24.12.2026"}]}`,
			`officehours: office_hours.holidays[1].date: "24.12.2026" is not YYYY-MM-DD or --MM-DD`},
		{"validation after syntax", `{"weekly":{"thu":[["08:00","12:00"],["11:00","13:00"]]}}`,
			`officehours: office_hours.weekly.thu[1]: 11:00-13:00 overlaps office_hours.weekly.thu[0] 08:00-12:00`},
		{"unknown zone", `{"timezone":"Berlin"}`,
			`officehours: office_hours.timezone: unknown time zone "Berlin"`},
		{"not json", `{"weekly":`,
			`officehours: office_hours: unexpected EOF`},
		{"trailing data", `{} {}`,
			`officehours: office_hours: trailing data after the schedule`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if got := errText(err); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"00:00", "08:30", "24:00", "24:01", "9:00", "12:60", "-1:00", "ab:cd", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseClock(s)
		if err != nil {
			return
		}
		if c < 0 || c > MinutesPerDay {
			t.Fatalf("ParseClock(%q) = %d out of range", s, c)
		}
		if c.String() != s {
			t.Fatalf("ParseClock(%q).String() = %q", s, c.String())
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(fullJSON))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"timezone":"America/New_York","weekly":{"sun":[["02:00","03:00"]]},"holidays":[{"date":"--02-29"}]}`))
	f.Add([]byte(`{"weekly":{"mon":[["22:00","06:00"]]}}`))
	now := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid schedule: %v", err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := Parse(b)
		if err != nil || !reflect.DeepEqual(normalize(s), normalize(back)) {
			t.Fatalf("round trip of %s: %+v, %v", b, back, err)
		}
		r := Verdict(s, Override{}, now)
		if r.Err != nil || (!r.Next.IsZero() && !r.Next.After(now)) {
			t.Fatalf("verdict %+v", r)
		}
	})
}

// normalize maps empty day lists to nil: {"mon":[]} and {} mean the same.
func normalize(s Schedule) Schedule {
	for d := range s.Weekly {
		if len(s.Weekly[d]) == 0 {
			s.Weekly[d] = nil
		}
		if len(s.Breaks[d]) == 0 {
			s.Breaks[d] = nil
		}
	}
	return s
}
