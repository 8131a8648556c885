package officehours

import (
	"testing"
	"time"
)

func BenchmarkVerdict(b *testing.B) {
	cases := []struct{ name, js, now string }{
		{"no_hours", `{}`, "2026-11-23T10:00:00Z"},
		{"office_week_open", `{` + berlinWeek + `,"breaks":{"mon":[["12:00","12:30"]]},"holidays":[{"date":"--12-25"}]}`, "2026-11-23T10:00:00+01:00"},
		{"office_week_closed_over_dst", `{` + berlinWeek + `}`, "2026-10-24T18:00:00+02:00"},
		{"always_open_past_holiday", `{"holidays":[{"date":"2020-01-01"}]}`, "2026-11-23T10:00:00Z"},
	}
	for _, bc := range cases {
		s, err := Parse([]byte(bc.js))
		if err != nil {
			b.Fatal(err)
		}
		now, err := time.Parse(time.RFC3339, bc.now)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Verdict(s, Override{}, now)
			}
		})
	}
}
