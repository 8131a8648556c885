package rights

import (
	"errors"
	"testing"
)

func TestSet_WithAndGradeRoundTrip(t *testing.T) {
	for _, r := range AllRights() {
		top := Grade(1)
		if r.Graded() {
			top = Grade(len(r.Grades()) - 1)
		}
		for g := Grade(0); g <= top; g++ {
			s := Set(0).With(r, g)
			if got := s.Grade(r); got != g {
				t.Errorf("%s: With(%d).Grade = %d", r, g, got)
			}
			// No other right is touched.
			for _, o := range AllRights() {
				if o != r && s.Has(o) {
					t.Errorf("%s=%d also sets %s", r, g, o)
				}
			}
			// Lowering works: With replaces, it does not add.
			if got := All.With(r, g).Grade(r); got != g {
				t.Errorf("%s: All.With(%d).Grade = %d", r, g, got)
			}
		}
		if got := Set(0).With(r, top+5).Grade(r); got != top {
			t.Errorf("%s: a grade beyond the top is not capped: %d", r, got)
		}
	}
}

func TestSet_UnionTakesLargerGrade(t *testing.T) {
	for _, r := range []Right{SeePrivateAppointments, AVSeeLineState} {
		for a := Grade(0); a <= 2; a++ {
			for b := Grade(0); b <= 2; b++ {
				got := Set(0).With(r, a).Union(Set(0).With(r, b)).Grade(r)
				if want := max(a, b); got != want {
					t.Errorf("%s: %s ∪ %s = %s, want %s", r, r.GradeName(a), r.GradeName(b), r.GradeName(got), r.GradeName(want))
				}
			}
		}
	}
}

func TestSet_LevelNamesStandardSetsOnly(t *testing.T) {
	for l := Blocked; l <= Personal; l++ {
		if got := LevelSet(l).Level(); got != l {
			t.Errorf("LevelSet(%s).Level() = %s", l, got)
		}
	}
	tests := []struct {
		name string
		set  Set
		want Level
		cov  Level
	}{
		{"team plus set_presence", LevelSet(Team).With(SetPresence, 1), Special, Team},
		{"personal minus line2_pickup", LevelSet(Personal).With(Line2Pickup, 0), Special, Team},
		{"every right", All, Special, Personal},
		{"public appointments only", Set(0).With(SeePublicAppointments, 1), Special, Blocked},
		{"business with details", LevelSet(Business).With(SeePrivateAppointments, AppointmentsDetails), Special, Business},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.set.Level(); got != tc.want {
				t.Errorf("Level = %s, want %s", got, tc.want)
			}
			if got := tc.set.Covered(); got != tc.cov {
				t.Errorf("Covered = %s, want %s", got, tc.cov)
			}
		})
	}
}

func TestSet_MapRoundTrip(t *testing.T) {
	for l := Blocked; l <= Personal; l++ {
		m := LevelSet(l).Map()
		if len(m) != NumRights {
			t.Fatalf("%s map has %d rights", l, len(m))
		}
		back, err := SetFromMap(m)
		if err != nil || back != LevelSet(l) {
			t.Errorf("%s: round trip = %v, %v", l, back, err)
		}
	}
	m := Set(0).With(AVSeeLineState, AVRed).With(SeeNote, 1).Map()
	if m["av_see_line_state"] != "red" || m["see_note"] != true || m["set_presence"] != false || m["see_private_appointments"] != "none" {
		t.Errorf("map shape: %v", m)
	}
}

func TestSetFromMap_NamesTheBadRight(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]any
		bad  string
	}{
		{"unknown right", map[string]any{"see_secrets": true}, "see_secrets"},
		{"grade for boolean", map[string]any{"see_note": "details"}, "see_note"},
		{"bool for graded", map[string]any{"av_see_line_state": true}, "av_see_line_state"},
		{"unknown grade", map[string]any{"see_private_appointments": "all"}, "see_private_appointments"},
		{"number", map[string]any{"see_presence": 1.0}, "see_presence"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SetFromMap(tc.in)
			if err == nil {
				t.Fatal("accepted")
			}
			var unknown *UnknownNameError
			var bad *BadValueError
			switch {
			case errors.As(err, &unknown):
				if unknown.Name != tc.bad {
					t.Errorf("names %q, want %q", unknown.Name, tc.bad)
				}
			case errors.As(err, &bad):
				if bad.Right != tc.bad {
					t.Errorf("names %q, want %q", bad.Right, tc.bad)
				}
			default:
				t.Errorf("error %T: %v", err, err)
			}
		})
	}
	s, err := SetFromMap(map[string]any{"see_note": false, "see_presence": true, "see_private_appointments": "busy"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Has(SeeNote) || !s.Has(SeePresence) || s.Grade(SeePrivateAppointments) != AppointmentsBusy {
		t.Errorf("parsed %s", s)
	}
}

func TestSet_String(t *testing.T) {
	if got := LevelSet(Team).String(); got != "team" {
		t.Errorf("team prints %q", got)
	}
	got := Set(0).With(SeeNote, 1).With(AVSeeLineState, AVGray).String()
	if want := "special{see_note av_see_line_state=gray}"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestServices_ParseAndNames(t *testing.T) {
	ss, err := ParseServices([]string{"chat", "apps"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ss.Names(); len(got) != 2 || got[0] != "chat" || got[1] != "apps" {
		t.Errorf("names %v", got)
	}
	if _, err := ParseServices([]string{"chat", "telepathy"}); err == nil {
		t.Error("accepted an unknown service")
	}
}
