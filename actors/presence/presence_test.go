package presence

import (
	"errors"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/actors/rights"
)

func ptr[T any](v T) *T { return &v }

func TestApply_WhoMayChangeWhat(t *testing.T) {
	start := Presence{State: Available, Note: "in the office"}
	tests := []struct {
		name    string
		held    rights.Set
		update  Update
		want    Presence
		wantErr error
	}{
		{"self sets everything", rights.All, Update{State: ptr(DND), Note: ptr("focus"), Idle: ptr(true)}, Presence{DND, "focus", true}, nil},
		{"team sets note", rights.LevelSet(rights.Team), Update{Note: ptr("back at 3")}, Presence{Available, "back at 3", false}, nil},
		{"team may not set state", rights.LevelSet(rights.Team), Update{State: ptr(Away)}, start, ErrForbidden},
		{"personal may not set state", rights.LevelSet(rights.Personal), Update{State: ptr(Away)}, start, ErrForbidden},
		{"set_presence sets state", rights.Set(0).With(rights.SetPresence, 1), Update{State: ptr(Away)}, Presence{Away, "in the office", false}, nil},
		{"set_presence alone may not set note", rights.Set(0).With(rights.SetPresence, 1), Update{State: ptr(Away), Note: ptr("x")}, start, ErrForbidden},
		{"business may not set note", rights.LevelSet(rights.Business), Update{Note: ptr("x")}, start, ErrForbidden},
		{"note too long", rights.All, Update{Note: ptr(strings.Repeat("ä", MaxNoteLen+1))}, start, ErrNoteLong},
		{"note at the limit", rights.All, Update{Note: ptr(strings.Repeat("ä", MaxNoteLen))}, Presence{Available, strings.Repeat("ä", MaxNoteLen), false}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Apply(start, tc.update, tc.held)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestViewFor_ByLevel(t *testing.T) {
	p := Presence{State: Busy, Note: "with a customer", Idle: true}
	tests := []struct {
		level    rights.Level
		visible  bool
		seesNote bool
	}{
		{rights.Blocked, false, false},
		{rights.Public, true, false},
		{rights.Business, true, false},
		{rights.Team, true, true},
		{rights.Personal, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.level.String(), func(t *testing.T) {
			v, ok := ViewFor(p, rights.LevelSet(tc.level), true)
			if ok != tc.visible {
				t.Fatalf("visible %v, want %v", ok, tc.visible)
			}
			if ok && v.State != Busy {
				t.Errorf("state %s", v.State)
			}
			if got := v.Note != ""; got != tc.seesNote {
				t.Errorf("note %q shown=%v, want %v", v.Note, got, tc.seesNote)
			}
		})
	}
}

func TestVisible_OnlyChangesTheViewerCanSee(t *testing.T) {
	base := Presence{State: Available, Note: "a"}
	team, public := rights.LevelSet(rights.Team), rights.LevelSet(rights.Public)
	tests := []struct {
		name        string
		new         Presence
		held        rights.Set
		idleDisplay bool
		want        bool
	}{
		{"state change to public", Presence{Away, "a", false}, public, true, true},
		{"note change to public", Presence{Available, "b", false}, public, true, false},
		{"note change to team", Presence{Available, "b", false}, team, true, true},
		{"idle with display on", Presence{Available, "a", true}, team, true, true},
		{"idle with display off", Presence{Available, "a", true}, team, false, false},
		{"anything to blocked", Presence{DND, "z", true}, 0, true, false},
		{"no change", base, team, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Visible(base, tc.new, tc.held, tc.idleDisplay); got != tc.want {
				t.Errorf("Visible = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseState_NamesRoundTrip(t *testing.T) {
	for s := Offline; s <= DND; s++ {
		if got, err := ParseState(s.String()); err != nil || got != s {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := ParseState("lunch"); err == nil {
		t.Error("accepted lunch")
	}
}
