package linestate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/rights"
)

func TestLine_StateFromCalls(t *testing.T) {
	tests := []struct {
		name  string
		calls []Call
		want  State
	}{
		{"no calls", nil, Idle},
		{"one ringing", []Call{{ID: "a"}}, Ringing},
		{"answered", []Call{{ID: "a", Answered: true}}, Busy},
		{"answered and a second ringing", []Call{{ID: "b"}, {ID: "a", Answered: true}}, Busy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Line{Calls: tc.calls}).State(); got != tc.want {
				t.Errorf("state %s, want %s", got, tc.want)
			}
		})
	}
}

func TestViewFor_PerLevelAndLineKind(t *testing.T) {
	calls := []Call{{ID: "1", Direction: Incoming, Remote: "+4930111"}, {ID: "2", Direction: Outgoing, Remote: "+4930222", Answered: true}}
	fwd := Forwarding{Enabled: true, Destination: "+49170999"}
	tests := []struct {
		name           string
		kind           rights.LineKind
		held           rights.Set
		seesState      bool
		inRemote       string
		outRemote      string
		seesForwarding bool
		destination    string
		canForward     bool
	}{
		{"blocked primary", rights.PrimaryLine, rights.LevelSet(rights.Blocked), false, "", "", false, "", false},
		{"public primary", rights.PrimaryLine, rights.LevelSet(rights.Public), false, "", "", true, "", false},
		{"business primary", rights.PrimaryLine, rights.LevelSet(rights.Business), true, "+4930111", "", true, "", false},
		{"business secondary", rights.SecondaryLine, rights.LevelSet(rights.Business), true, "", "", true, "", false},
		{"team secondary", rights.SecondaryLine, rights.LevelSet(rights.Team), true, "+4930111", "", true, "", false},
		{"personal primary", rights.PrimaryLine, rights.LevelSet(rights.Personal), true, "+4930111", "", true, "", true},
		{"trusted primary", rights.PrimaryLine, rights.LevelSet(rights.Business).With(rights.Line1SeeOutgoing, 1).With(rights.Line1SeeForwardingNumber, 1), true, "+4930111", "+4930222", true, "+49170999", false},
		{"line1 trust does not reach line2", rights.SecondaryLine, rights.LevelSet(rights.Team).With(rights.Line1SeeOutgoing, 1).With(rights.Line1SeeForwardingNumber, 1), true, "+4930111", "", true, "", false},
		{"owner", rights.SecondaryLine, rights.All, true, "+4930111", "+4930222", true, "+49170999", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := ViewFor(Line{Number: "100", Kind: tc.kind, Calls: calls, Forwarding: fwd}, tc.held)
			if v.SeesState != tc.seesState || (tc.seesState && (v.State != Busy || len(v.Calls) != 2)) || (!tc.seesState && (v.State != Idle || len(v.Calls) != 0)) {
				t.Errorf("state: sees=%v %s calls=%d", v.SeesState, v.State, len(v.Calls))
			}
			if tc.seesState && (v.Calls[0].Remote != tc.inRemote || v.Calls[1].Remote != tc.outRemote) {
				t.Errorf("remotes %q %q, want %q %q", v.Calls[0].Remote, v.Calls[1].Remote, tc.inRemote, tc.outRemote)
			}
			if v.SeesForwarding != tc.seesForwarding || v.Forwarding.Enabled != tc.seesForwarding || v.Forwarding.Destination != tc.destination {
				t.Errorf("forwarding: sees=%v %+v", v.SeesForwarding, v.Forwarding)
			}
			if v.CanForward != tc.canForward {
				t.Errorf("can forward %v", v.CanForward)
			}
		})
	}
}

func TestViewFor_PickupOnlyWhileRingingWithTheRight(t *testing.T) {
	ringing := Line{Number: "100", Calls: []Call{{ID: "1", Remote: "555"}}}
	if !ViewFor(ringing, rights.LevelSet(rights.Team)).CanPickup {
		t.Error("team may pick up a ringing primary line")
	}
	if ViewFor(ringing, rights.LevelSet(rights.Business)).CanPickup {
		t.Error("business may not pick up")
	}
	ringing.Kind = rights.SecondaryLine
	if ViewFor(ringing, rights.LevelSet(rights.Team)).CanPickup {
		t.Error("team may not pick up a secondary line")
	}
	busy := Line{Number: "100", Calls: []Call{{ID: "1", Answered: true}}}
	if ViewFor(busy, rights.All).CanPickup {
		t.Error("nothing to pick up on a busy line")
	}
}

func TestSetForwarding_NeedsTheLinesRight(t *testing.T) {
	l := Line{Number: "200", Kind: rights.SecondaryLine}
	f := Forwarding{Enabled: true, Destination: "300"}
	if _, err := SetForwarding(l, f, rights.Set(0).With(rights.Line1SetForwarding, 1)); err == nil {
		t.Error("line1 right changed a secondary line")
	}
	got, err := SetForwarding(l, f, rights.Set(0).With(rights.Line2SetForwarding, 1))
	if err != nil || got.Forwarding != f {
		t.Errorf("%+v, %v", got.Forwarding, err)
	}
	if _, err := SetForwarding(l, Forwarding{Enabled: true}, rights.All); err == nil {
		t.Error("enabled without destination accepted")
	}
}

func TestApply_CallLifecycleIsIdempotentAndEndedStaysEnded(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l := Line{Number: "100"}
	steps := []struct {
		step Step
		want State
		n    int
	}{
		{Step{ID: "c1", Phase: PhaseRinging, Remote: "200", At: t0}, Ringing, 1},
		{Step{ID: "c1", Phase: PhaseRinging, Remote: "200", At: t0}, Ringing, 1}, // repeated
		{Step{ID: "c2", Phase: PhaseRinging, Remote: "300", At: t0}, Ringing, 2},
		{Step{ID: "c1", Phase: PhaseAnswered, At: t0.Add(time.Second)}, Busy, 2},
		{Step{ID: "c1", Phase: PhaseRinging, At: t0}, Busy, 2}, // late ringing does not un-answer
		{Step{ID: "c2", Phase: PhaseEnded}, Busy, 1},
		{Step{ID: "c2", Phase: PhaseAnswered}, Busy, 1}, // late answer of an ended call
		{Step{ID: "c1", Phase: PhaseEnded}, Idle, 0},
		{Step{ID: "c1", Phase: PhaseRinging}, Idle, 0},
		{Step{ID: "", Phase: PhaseRinging}, Idle, 0},
		{Step{ID: "c3", Phase: 0}, Idle, 0},
	}
	for i, s := range steps {
		l = Apply(l, s.step)
		if l.State() != s.want || len(l.Calls) != s.n {
			t.Fatalf("step %d (%+v): state %s with %d calls, want %s with %d", i, s.step, l.State(), len(l.Calls), s.want, s.n)
		}
	}
	if c := Apply(l, Step{ID: "c4", Phase: PhaseAnswered, Direction: Outgoing, Remote: "400", At: t0}).Calls; len(c) != 1 || !c[0].Answered || c[0].Direction != Outgoing {
		t.Errorf("an answered step of an unknown call adds it answered: %+v", c)
	}
	for i := range 2 * rememberEnded {
		l = Apply(l, Step{ID: fmt.Sprint("x", i), Phase: PhaseEnded})
	}
	if len(l.Ended) != rememberEnded || l.Ended[0] != fmt.Sprint("x", rememberEnded) || l.Ended[rememberEnded-1] != fmt.Sprint("x", 2*rememberEnded-1) {
		t.Errorf("remembers %v, want the last %d ended calls, oldest first", l.Ended, rememberEnded)
	}
	if next := Apply(l, Step{ID: fmt.Sprint("x", 2*rememberEnded-1), Phase: PhaseRinging}); len(next.Calls) != 0 {
		t.Error("a late step of a remembered ended call brought it back")
	}
}

func TestPrune_DropsCallsNeverReportedEnded(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l := Apply(Line{}, Step{ID: "r", Phase: PhaseRinging, At: t0})
	l = Apply(l, Step{ID: "a", Phase: PhaseAnswered, At: t0})
	if _, dropped := Prune(l, t0.Add(MaxRinging)); dropped {
		t.Error("pruned at exactly the ringing limit")
	}
	l2, dropped := Prune(l, t0.Add(MaxRinging+time.Second))
	if !dropped || len(l2.Calls) != 1 || l2.Calls[0].ID != "a" || len(l.Calls) != 2 {
		t.Errorf("after the ringing limit: %+v (dropped %v)", l2.Calls, dropped)
	}
	if l3, _ := Prune(l, t0.Add(MaxAnswered+time.Second)); len(l3.Calls) != 0 {
		t.Errorf("after the call limit: %+v", l3.Calls)
	}
}

func TestParsePhase(t *testing.T) {
	for _, p := range []Phase{PhaseRinging, PhaseAnswered, PhaseEnded} {
		if got, err := ParsePhase(p.String()); err != nil || got != p {
			t.Errorf("ParsePhase(%q) = %v, %v", p, got, err)
		}
	}
	if _, err := ParsePhase("hold"); err == nil {
		t.Error("ParsePhase accepted hold")
	}
}

// The AV indicator follows the viewer's av_see_line_state grade: none
// hides it, gray shows a busy line only as unavailable, red as busy.
func TestViewFor_AVIndicatorFollowsTheGrade(t *testing.T) {
	idle := Line{Number: "100"}
	busy := Apply(idle, Step{ID: "c", Phase: PhaseAnswered})
	tests := []struct {
		level      rights.Level
		idle, busy rights.AVDisplay
	}{
		{rights.Blocked, rights.AVHidden, rights.AVHidden},
		{rights.Public, rights.AVAvailable, rights.AVUnavailable},
		{rights.Business, rights.AVAvailable, rights.AVUnavailable},
		{rights.Team, rights.AVAvailable, rights.AVBusy},
		{rights.Personal, rights.AVAvailable, rights.AVBusy},
	}
	for _, tt := range tests {
		s := rights.LevelSet(tt.level)
		if got := ViewFor(idle, s).AV; got != tt.idle {
			t.Errorf("%s, idle line: AV %s, want %s", tt.level, got, tt.idle)
		}
		if got := ViewFor(busy, s).AV; got != tt.busy {
			t.Errorf("%s, busy line: AV %s, want %s", tt.level, got, tt.busy)
		}
	}
}

// BenchmarkApply_BusyLine is one call's steps (ringing, answered, ended)
// on a line that holds 60 other ringing calls: a group member's line at
// 200 group calls/s with 300 ms of ringing (issue 16).
func BenchmarkApply_BusyLine(b *testing.B) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var l Line
	for i := range 60 {
		l = Apply(l, Step{ID: fmt.Sprint("other", i), Phase: PhaseRinging, Remote: "200", At: t0})
	}
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprint("call", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := ids[i%len(ids)]
		l = Apply(l, Step{ID: id, Phase: PhaseRinging, Remote: "300", At: t0})
		l = Apply(l, Step{ID: id, Phase: PhaseAnswered, At: t0})
		l = Apply(l, Step{ID: id, Phase: PhaseEnded, At: t0})
	}
}

// The node holding a call is kept from the first step that names it, and
// no view shows it.
func TestApply_KeepsTheNodeOfTheCall(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l := Apply(Line{Number: "100"}, Step{ID: "c1", Phase: PhaseRinging, At: t0})
	l = Apply(l, Step{ID: "c1", Phase: PhaseRinging, At: t0, Node: "sip:10.0.0.1:5060"})
	l = Apply(l, Step{ID: "c1", Phase: PhaseAnswered, At: t0, Node: "sip:10.0.0.2:5060"})
	if len(l.Calls) != 1 || l.Calls[0].Node != "sip:10.0.0.1:5060" || !l.Calls[0].Answered {
		t.Fatalf("calls %+v", l.Calls)
	}
	if v := fmt.Sprintf("%+v", ViewFor(l, rights.LevelSet(rights.Personal))); strings.Contains(v, "10.0.0.1") {
		t.Errorf("a view shows the node: %s", v)
	}
}

// A transfer reported on a later step of a call (the REFER comes while it
// is answered) is kept with the call; steps without one leave it.
func TestApply_TransferStaysWithTheCall(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l := Apply(Line{Number: "100"}, Step{ID: "c1", Phase: PhaseRinging, Remote: "200", At: t0})
	l = Apply(l, Step{ID: "c1", Phase: PhaseAnswered, At: t0.Add(time.Second)})
	l = Apply(l, Step{ID: "c1", Phase: PhaseAnswered, At: t0.Add(5 * time.Second), TransferredBy: "200", TransferredTo: "300"})
	l = Apply(l, Step{ID: "c1", Phase: PhaseAnswered, At: t0.Add(6 * time.Second)})
	if c := l.Calls[0]; c.TransferredBy != "200" || c.TransferredTo != "300" || !c.Since.Equal(t0.Add(time.Second)) {
		t.Errorf("call after the transfer: %+v", c)
	}
	l = Apply(l, Step{ID: "c2", Phase: PhaseRinging, Remote: "201", At: t0, TransferredBy: "202", TransferredTo: "100"})
	if c := l.Calls[1]; c.TransferredBy != "202" || c.TransferredTo != "100" {
		t.Errorf("a referred call's first step: %+v", c)
	}
}
