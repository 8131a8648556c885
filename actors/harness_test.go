//go:build !race

// Built without -race only: a protoactor-go cluster node in this process
// trips the race detector inside the library (disthash reads its rendezvous
// table unlocked while a topology update replaces it; PITFALLS.md, upstream
// #1108). The Makefile runs these tests in its non-race pass.

package actors

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	ucluster "github.com/ucgrid/ucgrid/cluster"
	"github.com/ucgrid/ucgrid/cluster/membership"
	"github.com/ucgrid/ucgrid/internal/leakcheck"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// testNode is one real node: a Raft+Pebble directory in a temp dir, a
// protoactor-go cluster node on loopback with memberlist, the grains and the
// session hub.
type testNode struct {
	dir  *persistence.Node
	cn   *ucluster.Node
	deps *Deps
	hub  *Hub
}

func startTestNode(t testing.TB, name string, seeds ...string) *testNode {
	t.Helper()
	return startTestNodeWith(t, name, persistence.Config{}, seeds...)
}

// startTestNodeWith is startTestNode with the directory's config (its Dir
// is a temp dir): a test clock (Now), say.
func startTestNodeWith(t testing.TB, name string, cfg persistence.Config, seeds ...string) *testNode {
	t.Helper()
	if tt, ok := t.(*testing.T); ok && len(seeds) == 0 {
		// Registered before the nodes' own clean-ups, so it runs after
		// every node of the test stopped.
		tt.Cleanup(func() { goleak.VerifyNone(tt, leakcheck.Protoactor()...) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg.Dir = t.TempDir()
	dir, err := persistence.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := dir.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("UCGRID_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", name)
	}
	var deps *Deps
	cn, err := ucluster.Start(ctx, ucluster.Config{
		GrainsStopped: func() { deps.WaitAside() },
		Membership:    membership.Config{NodeName: name, BindAddr: "127.0.0.1:0", Seeds: seeds},
		ActorAddr:     "127.0.0.1:0",
		Kinds:         Kinds(),
		Logger:        logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	deps = &Deps{Store: dir.Store(), Applied: dir.Applied, WaitApplied: dir.WaitApplied, Request: cn.Request, Apply: dir.Apply,
		ApplyGrouped: dir.ApplyGrouped, ApplyGroupedAll: dir.ApplyGroupedAll, Logger: logger}
	unregister := Register(cn.Cluster().ActorSystem, deps)
	hub, err := StartHub(cn.Cluster().ActorSystem, deps)
	if err != nil {
		t.Fatal(err)
	}
	changes, cancelFeed := dir.Subscribe(1024)
	dctx, stopDispatch := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Dispatch(dctx, cn.Cluster().ActorSystem, deps, changes)
	}()
	t.Cleanup(func() {
		stopDispatch()
		cancelFeed()
		<-done
		hub.Stop()
		if !cn.HasPeers() {
			deps.SkipHandovers()
		}
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		if err := cn.Shutdown(sctx); err != nil {
			t.Error(err)
		}
		unregister()
		if err := dir.Close(); err != nil {
			t.Error(err)
		}
	})
	return &testNode{dir: dir, cn: cn, deps: deps, hub: hub}
}

// waitTopology polls until every node sees want members.
func waitTopology(t testing.TB, nodes []*testNode, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, node := range nodes {
		for countInTopology(node) != want {
			if time.Now().After(deadline) {
				t.Fatalf("node %s sees %d members, want %d", node.cn.Name(), countInTopology(node), want)
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
}

func (n *testNode) apply(t testing.TB, cmds ...*dirpb.Command) uint64 {
	t.Helper()
	var idx uint64
	for _, c := range cmds {
		var err error
		if idx, err = n.dir.Apply(context.Background(), c); err != nil {
			t.Fatalf("apply %v: %v", c, err)
		}
	}
	return idx
}

func putUser(id string, idleDisplay bool) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: id, DisplayName: id, IdleDisplay: idleDisplay}}}}
}

func putGlobal(level string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutGlobal{PutGlobal: &dirpb.PutGlobal{Global: &dirpb.Global{Grant: &dirpb.Grant{Level: level}}}}}
}

func putGrant(target, viewer, level string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: target, Viewer: viewer, Grant: &dirpb.Grant{Level: level}}}}
}

func deleteGrant(target, viewer string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_DeleteGrant{DeleteGrant: &dirpb.DeleteGrant{Target: target, Viewer: viewer}}}
}

func reqCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
