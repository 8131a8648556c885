package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/wrapperspb"

	actorcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/ucgrid/ucgrid/cluster/membership"
	"github.com/ucgrid/ucgrid/internal/leakcheck"
	"github.com/ucgrid/ucgrid/internal/testlog"
)

// localConfig is a node on free loopback ports hosting the echo kind.
func localConfig(t testing.TB, name string, seeds ...string) Config {
	return Config{
		Membership: membership.Config{
			NodeName:       name,
			BindAddr:       "127.0.0.1:0",
			Seeds:          seeds,
			RejoinInterval: time.Second,
		},
		ActorAddr: "127.0.0.1:0",
		Kinds:     []*actorcluster.Kind{newEchoKind(name)},
		Logger:    testlog.New(t, slog.LevelInfo).With("test_node", name),
	}
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait for an event
	}
	return time.Since(start)
}

func TestNode_SingleNodeServesGrainsAndStopsWithoutLeaks(t *testing.T) {
	defer goleak.VerifyNone(t, leakcheck.Protoactor()...)

	n, err := Start(context.Background(), localConfig(t, "solo"))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	waitFor(t, 3*time.Second, "solo in its own topology", func() bool {
		ms := n.Members()
		return len(ms) == 1 && ms[0].InTopology
	})
	self := n.Members()[0]
	if self.ActorAddr != n.ActorAddr() || self.ActorID != n.ActorID() || self.State != membership.StateAlive {
		t.Errorf("self status = %+v, want actor %s/%s alive", self, n.ActorAddr(), n.ActorID())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var first echoReply
	for i := 1; i <= 3; i++ {
		resp, err := n.Request(ctx, "alice", echoKind, wrapperspb.String("hi"))
		if err != nil {
			t.Fatalf("Request %d: %v", i, err)
		}
		got := parseEchoReply(t, resp.(*wrapperspb.StringValue).GetValue())
		if i == 1 {
			first = got
		}
		if got.Node != "solo" || got.Activation != first.Activation || got.Count != i {
			t.Errorf("reply %d = %+v, want solo, activation %s, count %d", i, got, first.Activation, i)
		}
	}

	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestNode_RequestForUnknownKindEndsAtDeadline(t *testing.T) {
	n := startLocal(t, "solo")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := n.Request(ctx, "x", "no-such-kind", wrapperspb.String("hi"))
	if err == nil {
		t.Fatal("Request to an unknown kind succeeded")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Request took %v, want about its 300ms deadline", took)
	}
	if !strings.HasPrefix(err.Error(), "cluster: request no-such-kind/x: ") {
		t.Errorf("error = %q, want it prefixed and naming the grain", err)
	}

	got := gatherMetrics(t, n.Collector())
	want := map[string]float64{
		`ucgrid_cluster_members{state="alive"}`:  1,
		`ucgrid_cluster_members{state="failed"}`: 0,
		`ucgrid_cluster_topology_members`:        1,
		`ucgrid_cluster_request_failures_total`:  1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("metric %s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if got["ucgrid_cluster_request_retries_total"] < 2 {
		t.Errorf("retries = %v, want several within the deadline", got["ucgrid_cluster_request_retries_total"])
	}
}

// gatherMetrics registers c in a fresh registry and returns its samples
// keyed name{label="value"}.
func gatherMetrics(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatalf("register collector: %v", err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
			}
			switch {
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func TestStart_FailsClearlyOnBusyActorPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := localConfig(t, "busy")
	cfg.ActorAddr = ln.Addr().String()
	_, err = Start(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "cluster: actor address "+cfg.ActorAddr) {
		t.Fatalf("Start on a busy actor port: %v, want a clear cluster: error", err)
	}
}

// startLocal starts a node and shuts it down at the end of the test.
func startLocal(t *testing.T, name string, seeds ...string) *Node {
	t.Helper()
	n, err := Start(context.Background(), localConfig(t, name, seeds...))
	if err != nil {
		t.Fatalf("Start(%s): %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown(%s): %v", name, err)
		}
	})
	return n
}

func TestStart_FailsClearlyWhenMetadataTooLarge(t *testing.T) {
	defer goleak.VerifyNone(t, leakcheck.Protoactor()...)
	cfg := localConfig(t, "big")
	for i := range 60 {
		cfg.Kinds = append(cfg.Kinds, newKindNamed(fmt.Sprintf("kind-with-a-long-name-%02d", i)))
	}
	_, err := Start(context.Background(), cfg)
	if !errors.Is(err, membership.ErrMetaTooLarge) {
		t.Fatalf("Start with 61 kinds: %v, want ErrMetaTooLarge", err)
	}
	t.Logf("error: %v", err)
}
