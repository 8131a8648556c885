package sip

import (
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors"
)

func TestRingingElsewhere_IncomingRingingCallsOfOtherNodesOldestFirst(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	const self, n2, n3 = "sip:10.0.0.1:5060", "sip:10.0.0.2:5060", "sip:10.0.0.3:5060"
	reports := []lineCalls{
		{line: "2001", calls: []actors.LineCallInfo{
			{CallID: "newer", Started: t0.Add(2 * time.Second), Node: n2},
			{CallID: "answered", Answered: true, Started: t0, Node: n2},
			{CallID: "outgoing", Outgoing: true, Started: t0, Node: n2},
			{CallID: "here", Started: t0, Node: self},
			{CallID: "unknown-node", Started: t0},
			{CallID: "mine", Started: t0, Node: n3},
		}},
		{line: "3001", calls: []actors.LineCallInfo{
			{CallID: "oldest", Started: t0.Add(time.Second), Node: n3},
			{CallID: "newer", Started: t0.Add(2 * time.Second), Node: n2}, // the same group call on another line
		}},
		{line: "4001"}, // a line whose grain did not answer
	}
	got := ringingElsewhere(reports, "", self, "mine")
	want := []remoteRinging{
		{callID: "oldest", line: "3001", node: n3, started: t0.Add(time.Second)},
		{callID: "newer", line: "2001", node: n2, started: t0.Add(2 * time.Second)},
		{callID: "newer", line: "3001", node: n2, started: t0.Add(2 * time.Second)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := ringingElsewhere(reports, "oldest", self, ""); len(got) != 1 || got[0].callID != "oldest" {
		t.Fatalf("by call id: %+v", got)
	}
	if got := ringingElsewhere(reports, "answered", self, ""); len(got) != 0 {
		t.Fatalf("an answered call counts as ringing: %+v", got)
	}
}
