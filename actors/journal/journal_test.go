package journal

import (
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/linestate"
)

func TestEntry_OutcomesAndDurations(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	in := linestate.Incoming
	out := linestate.Outgoing
	tests := []struct {
		name       string
		call       linestate.Call
		ended      time.Time
		reason     string
		outcome    string
		ring, talk int32
		start      int64
		direction  string
	}{
		{"answered incoming", linestate.Call{ID: "a", Direction: in, Answered: true, Started: t0, Since: t0.Add(7 * time.Second)},
			t0.Add(67 * time.Second), "", Answered, 7, 60, t0.Unix(), "in"},
		{"missed", linestate.Call{ID: "b", Direction: in, Started: t0, Since: t0}, t0.Add(20 * time.Second), "", Missed, 20, 0, t0.Unix(), "in"},
		{"caller cancelled is missed for the callee", linestate.Call{ID: "b", Direction: in, Started: t0, Since: t0},
			t0.Add(3 * time.Second), Cancelled, Missed, 3, 0, t0.Unix(), "in"},
		{"answered elsewhere", linestate.Call{ID: "c", Direction: in, Started: t0, Since: t0}, t0.Add(4 * time.Second),
			AnsweredElsewhere, AnsweredElsewhere, 4, 0, t0.Unix(), "in"},
		{"outgoing cancelled", linestate.Call{ID: "d", Direction: out, Started: t0, Since: t0}, t0.Add(9 * time.Second), "",
			Cancelled, 9, 0, t0.Unix(), "out"},
		{"outgoing busy", linestate.Call{ID: "e", Direction: out, Started: t0, Since: t0}, t0.Add(time.Second), Busy, Busy, 1, 0, t0.Unix(), "out"},
		{"answered elsewhere on an outgoing call means nothing", linestate.Call{ID: "f", Direction: out, Started: t0, Since: t0},
			t0.Add(time.Second), AnsweredElsewhere, Cancelled, 1, 0, t0.Unix(), "out"},
		{"no start known: since", linestate.Call{ID: "g", Direction: in, Answered: true, Since: t0}, t0.Add(5 * time.Second), "",
			Answered, 0, 5, t0.Unix(), "in"},
		{"clock skew never negative", linestate.Call{ID: "h", Direction: in, Started: t0, Since: t0}, t0.Add(-time.Second), "",
			Missed, 0, 0, t0.Unix(), "in"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.call.Remote, tc.call.Group = "+4930123", "sales"
			e, ok := Entry(Leg{Line: "201", Owner: "anna", Call: tc.call, Ended: tc.ended, Reason: tc.reason})
			if !ok {
				t.Fatal("not journaled")
			}
			if e.Outcome != tc.outcome || e.RingS != tc.ring || e.TalkS != tc.talk || e.StartUnix != tc.start || e.Direction != tc.direction {
				t.Errorf("entry = %v", e)
			}
			if e.Owner != "anna" || e.Line != "201" || e.RemoteNumber != "+4930123" || e.Group != "sales" || e.CallId != tc.call.ID || e.Id != EntryID("201", tc.call.ID) {
				t.Errorf("entry = %v", e)
			}
		})
	}
}

func TestEntry_PrivateLinesAreNotJournaled(t *testing.T) {
	c := linestate.Call{ID: "x", Since: time.Unix(1, 0)}
	if e, ok := Entry(Leg{Line: "299", Owner: "works-council", Private: true, Call: c, Ended: time.Unix(9, 0)}); ok || e != nil {
		t.Errorf("private line journaled: %v", e)
	}
	if _, ok := Entry(Leg{Line: "299", Call: c}); ok {
		t.Error("a line without owner journaled")
	}
}

func TestEntryID_StablePerLineAndCall(t *testing.T) {
	if EntryID("201", "abc") != EntryID("201", "abc") {
		t.Error("not deterministic")
	}
	if EntryID("201", "abc") == EntryID("202", "abc") || EntryID("20", "1abc") == EntryID("201", "abc") {
		t.Error("different legs share an id")
	}
}
