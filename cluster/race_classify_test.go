package cluster

import (
	"strings"
	"testing"
)

func TestClassifyRaces_FailsOnlyRacesTouchingOurCode(t *testing.T) {
	report := func(first, second string) string {
		return strings.Join([]string{
			"==================",
			"WARNING: DATA RACE",
			"Read at 0x00c00012e848 by goroutine 20:",
			"  " + first,
			"      /src/a.go:1 +0x1",
			"",
			"Previous write at 0x00c00012e848 by goroutine 39 (mutexes: write M1):",
			"  " + second,
			"      /src/b.go:2 +0x2",
			"==================",
		}, "\n")
	}
	log := "level=INFO msg=started\n" +
		report("github.com/ucgrid/ucgrid/cluster.(*Provider).publish()", "github.com/asynkron/protoactor-go/remote.(*BlockList).Block()") +
		report("github.com/asynkron/protoactor-go/remote.(*BlockList).BlockedMembers()", "github.com/asynkron/protoactor-go/remote.(*BlockList).Block()") +
		"\nWARNING: DATA RACE\ngarbled"

	ours, upstream := classifyRaces(log)
	if len(ours) != 2 {
		t.Errorf("ours = %d reports, want 2 (one of our functions, one unparsable)", len(ours))
	}
	want := "github.com/asynkron/protoactor-go/remote.(*BlockList).BlockedMembers() vs github.com/asynkron/protoactor-go/remote.(*BlockList).Block()"
	if len(upstream) != 1 || upstream[0] != want {
		t.Errorf("upstream = %q, want [%q]", upstream, want)
	}
}
