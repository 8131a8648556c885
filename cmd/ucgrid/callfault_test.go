package main

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/bench"
	"github.com/ucgrid/ucgrid/internal/racereport"
)

// benchCluster is a bench cluster of three `ucgrid serve` child processes
// (this test binary re-executed) in the test's temporary directory, on
// free 127.0.0.1 ports; the children's log goes to the returned
// function's text, which the test checks for races in our code.
func benchCluster(t *testing.T) (bench.ClusterConfig, func() string) {
	t.Helper()
	var mu sync.Mutex
	var log strings.Builder
	text := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	t.Cleanup(func() {
		if races, _ := racereport.Classify(text()); len(races) > 0 {
			t.Errorf("data race in ucgrid code:\n%s", strings.Join(races, "\n----\n"))
		}
		if t.Failed() {
			t.Logf("nodes' log:\n%s", text())
		}
	})
	return bench.ClusterConfig{
		Nodes: 3, Procs: true, DataDir: t.TempDir(),
		Exec:    []string{os.Args[0], "serve"},
		Env:     []string{childEnv + "=1", "GORACE=exitcode=0"},
		NodeLog: &syncWriter{mu: &mu, b: &log},
	}, text
}

// metricOf returns the named metric of res.
func metricOf(t *testing.T, res *bench.Result, name string) bench.Metric {
	t.Helper()
	for _, m := range res.Metrics {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no metric %q in %+v", name, res.Metrics)
	return bench.Metric{}
}

// figureOf returns the value of the figure whose name starts with prefix.
func figureOf(t *testing.T, res *bench.Result, prefix string) float64 {
	t.Helper()
	for _, f := range res.Figures {
		if strings.HasPrefix(f.Name, prefix) {
			return f.Value
		}
	}
	t.Fatalf("no figure %q in %+v", prefix, res.Figures)
	return 0
}

func logFigures(t *testing.T, res *bench.Result) {
	t.Helper()
	for _, f := range res.Figures {
		t.Logf("%s: %.3g %s", f.Name, f.Value, f.Unit)
	}
	for _, n := range res.Notes {
		t.Logf("note: %s", n)
	}
}

// Three nodes carry a steady load of group calls (registered phones,
// ring_all groups, answered after a short ring, hung up after a short
// hold) while each node in turn is stopped with SIGTERM, waits for its
// calls, exits 0 and is started again on its data, back in the cluster
// before the next one goes. The callers know every node (RFC 3263): a 503
// or no response sends the call to the next node, and that is one call.
// No call may fail: the leaving node refuses new calls with 503 and lets
// those under way, whose ACK and BYE pass through it, end.
func TestCluster_RollingRestartUnderCallLoadLosesNoCall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ucgrid nodes")
	}
	cl, _ := benchCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := bench.RunRollingRestart(ctx, bench.RollingConfig{
		Common: bench.Common{Cluster: cl,
			Directory: bench.DirectoryConfig{Prefix: "r", Users: 12, Groups: 4, Members: 3},
			Load:      bench.LoadConfig{Rate: 15}},
		SIP: bench.SIPConfig{Banks: 2, Callers: 3, AnswerAfter: 50 * time.Millisecond, Hold: 300 * time.Millisecond,
			CallTimeout: 8 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	logFigures(t, res)
	calls := metricOf(t, res, "INVITE→200 (call)")
	t.Logf("%d calls answered in %.1fs, %d failed %v; INVITE→200 p50 %.0f ms, p99 %.0f ms, max %.0f ms",
		calls.Count, res.Seconds, calls.Errors, calls.ErrorKinds, calls.P50, calls.P99, calls.Max)
	if calls.Count == 0 {
		t.Fatal("no call answered")
	}
	if calls.Errors > 0 {
		t.Errorf("%d calls failed during the rolling restart: %v", calls.Errors, calls.ErrorKinds)
	}
	busy := 0.0
	for _, n := range []string{"n1", "n2", "n3"} {
		busy += figureOf(t, res, "node "+n+": calls on it at SIGTERM")
	}
	if busy == 0 {
		t.Error("no node held a call when it was told to stop: the drain was not exercised")
	}
}

// A node hosting call groups' grains is SIGKILLed while calls to the
// groups enter through the other two; the group calls must succeed again
// within the 2 s (the figure: from the kill to the end of the last
// call started after it that failed or took longer than 500 ms). The
// victim is the node hosting the most group grains.
func TestCluster_KilledGroupHostRecoversWithin2s(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ucgrid nodes")
	}
	cl, _ := benchCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := bench.RunFailover(ctx, bench.FailoverConfig{
		Common: bench.Common{Cluster: cl,
			Directory: bench.DirectoryConfig{Prefix: "f", Users: 18, Groups: 6, Members: 3},
			Load:      bench.LoadConfig{Rate: 30, Duration: 6 * time.Second}},
		SIP:       bench.SIPConfig{Banks: 2, Callers: 2, CallTimeout: 4 * time.Second},
		KillAfter: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	logFigures(t, res)
	if hosted := figureOf(t, res, "group grains on the killed node"); hosted < 1 {
		t.Fatalf("the killed node hosted %v group grains: nothing to fail over", hosted)
	}
	calls := metricOf(t, res, "INVITE→200 (call)")
	t.Logf("%d calls answered, %d failed %v; INVITE→200 p99 %.0f ms, max %.0f ms", calls.Count, calls.Errors, calls.ErrorKinds, calls.P99, calls.Max)
	fo := time.Duration(figureOf(t, res, "failover time") * float64(time.Second))
	t.Logf("group calls succeed again %v after the SIGKILL (budget 2s)", fo.Round(time.Millisecond))
	if fo > 2*time.Second {
		t.Errorf("failover took %v, over the 2 s budget", fo.Round(time.Millisecond))
	}
}
