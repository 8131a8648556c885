package actors

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
)

// The hub on a plain actor system (no cluster, so no library races): this
// test runs under -race and exercises the hub's locking against concurrent
// deliveries, opens and closes.
func startPlainHub(t *testing.T) (*Hub, *actor.ActorSystem) {
	t.Helper()
	system := actor.NewActorSystem()
	h, err := StartHub(system, &Deps{Logger: slog.New(slog.DiscardHandler), Request: func(context.Context, string, string, proto.Message) (proto.Message, error) {
		return &actorspb.UnwatchReply{}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Stop(); system.Shutdown() })
	return h, system
}

func TestHub_DeliversBatchesAndClosesLaggingSessions(t *testing.T) {
	h, system := startPlainHub(t)
	fast := h.Open("ben", 8)
	slow := h.Open("carl", 1)
	view := &actorspb.PresenceView{Visible: true, State: "busy"}
	for range 3 {
		system.Root.Send(h.bound.Load().pid, &actorspb.PresenceBatch{Target: "anna", Groups: []*actorspb.PresenceGroup{
			{View: view, Sessions: sessionList(fast.ID, slow.ID, "gone")}}})
	}
	for i := range 3 {
		select {
		case ev := <-fast.Events:
			if ev.Target != "anna" || ev.View.GetState() != "busy" {
				t.Fatalf("event %d: %v", i, ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d not delivered", i)
		}
	}
	// The slow session had room for one: it is closed as lagged, so its
	// client resynchronises instead of silently missing changes.
	deadline := time.After(5 * time.Second)
	for n := 0; ; n++ {
		select {
		case _, ok := <-slow.Events:
			if !ok {
				if !slow.Lagged() || n != 1 {
					t.Fatalf("slow session closed after %d events, lagged=%v", n, slow.Lagged())
				}
				return
			}
		case <-deadline:
			t.Fatal("slow session neither closed nor drained")
		}
	}
}

func TestHub_ConcurrentOpenCloseAndDelivery(t *testing.T) {
	h, system := startPlainHub(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				s := h.Open(fmt.Sprintf("v%d-%d", g, i), 2)
				system.Root.Send(h.bound.Load().pid, presenceBatch("t", delivery{s.ID, &actorspb.PresenceView{}}))
				h.Close(context.Background(), s)
				// Closed: the channel ends after at most the one event, and
				// a session closed by its owner is not "lagged".
				n := 0
				for range s.Events {
					n++
				}
				if n > 1 || s.Lagged() {
					t.Errorf("session %s: %d events after close, lagged=%v", s.Viewer, n, s.Lagged())
				}
			}
		}()
	}
	wg.Wait()
	h.mu.Lock()
	left := len(h.sessions)
	h.mu.Unlock()
	if left != 0 {
		t.Errorf("%d sessions still registered after every one was closed", left)
	}
}

// viewsOf lists a batch's deliveries by session; a session in two groups
// or a view listed twice fails the test.
func viewsOf(t *testing.T, b *actorspb.PresenceBatch) map[string]*actorspb.PresenceView {
	t.Helper()
	out := map[string]*actorspb.PresenceView{}
	for i, g := range b.GetGroups() {
		for _, o := range b.GetGroups()[:i] {
			if proto.Equal(o.GetView(), g.GetView()) {
				t.Fatalf("view %v listed twice in one batch", g.GetView())
			}
		}
		for _, s := range sessionIDs(t, g.GetSessions()) {
			if _, dup := out[s]; dup {
				t.Fatalf("session %s in two groups", s)
			}
			out[s] = g.GetView()
		}
	}
	return out
}

func TestFanOut_OnlyChangedViewsAndOneBatchPerHub(t *testing.T) {
	ws := watchers{}
	n1, n2 := hubRef{"n1", HubName}, hubRef{"n2", HubName}
	ws.add(n1, "s-ben", "ben")
	ws.add(n1, "s-carl", "carl")
	ws.add(n2, "s-dora", "dora")
	held := map[string]rights.Set{"ben": rights.LevelSet(rights.Team), "carl": rights.LevelSet(rights.Public), "dora": 0}
	rightsOf := func(w *watcher) rights.Set { return held[w.viewer] }
	out := fanOut(ws, presence.Presence{State: presence.Busy, Note: "x"}, true, rightsOf)
	if len(out) != 1 || len(viewsOf(t, out[n1])) != 2 {
		t.Fatalf("batches %v: want one batch for n1 with ben and carl, none for dora (blocked)", out)
	}
	// A note change reaches ben only.
	out = fanOut(ws, presence.Presence{State: presence.Busy, Note: "y"}, true, rightsOf)
	if v := viewsOf(t, out[n1]); len(out) != 1 || len(v) != 1 || v["s-ben"] == nil {
		t.Fatalf("note change: %v", out)
	}
	// Revoking carl sends him one "not visible", then nothing.
	held["carl"] = 0
	out = fanOut(ws, presence.Presence{State: presence.Busy, Note: "y"}, true, rightsOf)
	if v := viewsOf(t, out[n1]); len(v) != 1 || v["s-carl"] == nil || v["s-carl"].GetVisible() {
		t.Fatalf("revocation: %v", out)
	}
	out = fanOut(ws, presence.Presence{State: presence.Away, Note: "y"}, true, rightsOf)
	if v := viewsOf(t, out[n1]); len(v) != 1 || v["s-ben"] == nil {
		t.Fatalf("after revocation: %v", out)
	}
}
