//go:build !race

// Built without -race only: see harness_test.go.

package actors

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// A phone that registers on a node cut off from the majority (no Raft
// leader takes the write) gets its binding: the node keeps it, its line
// grain (also a new activation) rings it, later REGISTERs of the line
// queue behind it, and once a leader takes writes again every binding
// reaches the directory in order and the node keeps nothing.
func TestLineGrain_RegisterWhileCutOffAnswersFromNodeAndWritesAfterHeal(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putLine("100", "anna", "primary", nil))
	var cut atomic.Bool
	cut.Store(true)
	n.deps.ApplyGrouped = func(ctx context.Context, cmd *dirpb.Command) (uint64, error) {
		if cut.Load() {
			return 0, fmt.Errorf("%w: no leader heard from for 6s", persistence.ErrNoLeader)
		}
		return n.dir.ApplyGrouped(ctx, cmd)
	}
	n.deps.ApplyGroupedAll = func(ctx context.Context, cmds []*dirpb.Command) []persistence.Result {
		if cut.Load() {
			out := make([]persistence.Result, len(cmds))
			for i := range out {
				out[i].Err = fmt.Errorf("%w: no leader heard from for 6s", persistence.ErrNoLeader)
			}
			return out
		}
		return n.dir.ApplyGroupedAll(ctx, cmds)
	}
	now := time.Now().Unix()
	register := func(m *actorspb.RegisterLine) []*actorspb.Binding {
		t.Helper()
		resp, err := n.cn.Request(reqCtx(t), "100", KindLine, m)
		if err != nil {
			t.Fatal(err)
		}
		r := resp.(*actorspb.RegisterLineReply)
		if r.GetError() != nil {
			t.Fatalf("REGISTER while cut off: %v", r.GetError())
		}
		return r.GetBindings()
	}
	contacts := func() []*actorspb.Binding {
		t.Helper()
		resp, err := n.cn.Request(reqCtx(t), "100", KindLine, &actorspb.GetContacts{})
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*actorspb.GetContactsReply).GetBindings()
	}
	a := &actorspb.Binding{Contact: "sip:100@192.0.2.1:5060", ExpiresAtUnix: now + 3600, CallId: "reg-1", Cseq: 1}
	if got := register(&actorspb.RegisterLine{Put: []*actorspb.Binding{a}}); len(got) != 1 {
		t.Fatalf("bindings after a REGISTER while cut off: %v, want 1", got)
	}
	if regs, _ := n.dir.Store().Registrations("100"); len(regs) != 0 {
		t.Fatalf("the directory took a write with no leader: %v", regs)
	}
	if bs := contacts(); len(bs) != 1 || bs[0].GetContact() != a.GetContact() {
		t.Fatalf("contacts while cut off: %v", bs)
	}
	// A new activation of the line's grain sees the kept binding too.
	if pid := n.deps.local.get(KindLine, "100"); pid != nil {
		n.cn.Cluster().ActorSystem.Root.Poison(pid)
	}
	pollJournal(t, 5*time.Second, func() string {
		if bs := contacts(); len(bs) != 1 {
			return fmt.Sprintf("contacts after reactivation: %v, want the kept binding", bs)
		}
		return ""
	})
	b := &actorspb.Binding{Contact: "sip:100@192.0.2.2:5060", ExpiresAtUnix: now + 3600, CallId: "reg-2", Cseq: 1}
	if got := register(&actorspb.RegisterLine{Put: []*actorspb.Binding{b}}); len(got) != 2 {
		t.Fatalf("bindings after a second REGISTER: %v, want 2", got)
	}
	// a unregisters: the removal queues behind its put.
	if got := register(&actorspb.RegisterLine{Remove: []string{a.GetContact()}}); len(got) != 1 {
		t.Fatalf("bindings after removing one: %v, want 1", got)
	}

	if got := testutil.ToFloat64(n.deps.Metrics.kept); got != 3 {
		t.Fatalf("ucgrid_registrations_kept = %v, want 3", got)
	}

	cut.Store(false)
	pollJournal(t, 15*time.Second, func() string {
		regs, err := n.dir.Store().Registrations("100")
		if err != nil || len(regs) != 1 || regs[0].GetContact() != b.GetContact() || n.deps.regs.has("100") {
			return fmt.Sprintf("directory after the heal: %v (err %v, still kept %v), want %s", regs, err, n.deps.regs.has("100"), b.GetContact())
		}
		return ""
	})
	if got := testutil.ToFloat64(n.deps.Metrics.kept); got != 0 {
		t.Fatalf("ucgrid_registrations_kept = %v after the heal, want 0", got)
	}
	if got := register(&actorspb.RegisterLine{RemoveAll: true}); len(got) != 0 {
		t.Fatalf("after '*' removal: %v", got)
	}
	if regs, _ := n.dir.Store().Registrations("100"); len(regs) != 0 {
		t.Errorf("the directory still holds %v after a REGISTER once healed", regs)
	}
}

// A node restarted during a cut still has the registrations it kept: they
// are on disk before the REGISTER is answered, read back when the next
// actor layer starts, and written once a leader takes writes, after which
// the disk queue is empty.
func TestLocalRegistrations_KeptOnDiskAcrossARestart(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putLine("100", "anna", "primary", nil))
	var cut atomic.Bool
	cut.Store(true)
	noLeader := fmt.Errorf("%w: no leader heard from for 6s", persistence.ErrNoLeader)
	n.deps.ApplyGrouped = func(ctx context.Context, cmd *dirpb.Command) (uint64, error) {
		if cut.Load() {
			return 0, noLeader
		}
		return n.dir.ApplyGrouped(ctx, cmd)
	}
	n.deps.ApplyGroupedAll = func(ctx context.Context, cmds []*dirpb.Command) []persistence.Result {
		out := make([]persistence.Result, len(cmds))
		if cut.Load() {
			for i := range out {
				out[i].Err = noLeader
			}
			return out
		}
		return n.dir.ApplyGroupedAll(ctx, cmds)
	}
	now := time.Now().Unix()
	a := &actorspb.Binding{Contact: "sip:100@192.0.2.1:5060", ExpiresAtUnix: now + 3600, CallId: "reg-1", Cseq: 1}
	b := &actorspb.Binding{Contact: "sip:100@192.0.2.2:5060", ExpiresAtUnix: now + 3600, CallId: "reg-2", Cseq: 1}
	for _, m := range []*actorspb.RegisterLine{{Put: []*actorspb.Binding{a}}, {Put: []*actorspb.Binding{b}}, {Remove: []string{a.GetContact()}}} {
		resp, err := n.cn.Request(reqCtx(t), "100", KindLine, m)
		if err != nil {
			t.Fatal(err)
		}
		if e := resp.(*actorspb.RegisterLineReply).GetError(); e != nil {
			t.Fatalf("REGISTER while cut off: %v", e)
		}
	}
	if q, err := n.dir.Store().QueuedRegistrationUpdates(); err != nil || len(q) != 3 {
		t.Fatalf("registration queue on disk: %d updates (err %v), want 3", len(q), err)
	}

	// The actor layer stops (its memory is gone) and the next one starts.
	n.deps.regs.halt()
	var next localRegistrations
	t.Cleanup(next.halt)
	if err := next.resume(n.deps); err != nil {
		t.Fatal(err)
	}
	if regs := next.view("100", nil); len(regs) != 1 || regs[0].GetContact() != b.GetContact() {
		t.Fatalf("bindings the restarted node sees: %v, want only %s", regs, b.GetContact())
	}

	cut.Store(false)
	pollJournal(t, 15*time.Second, func() string {
		regs, err := n.dir.Store().Registrations("100")
		q, qerr := n.dir.Store().QueuedRegistrationUpdates()
		if err != nil || qerr != nil || len(regs) != 1 || regs[0].GetContact() != b.GetContact() || len(q) != 0 || next.has("100") {
			return fmt.Sprintf("after the heal: directory %v (err %v), disk queue %d (err %v), still kept %v", regs, err, len(q), qerr, next.has("100"))
		}
		return ""
	})
}

// The first REGISTER after a cut, before the node knows it is cut off:
// the write waits for a leader until its deadline, which comes before the
// SIP layer gives up on the grain (its BackendTimeout, 5 s), and the node
// keeps the binding and answers with it instead of failing.
func TestLineGrain_RegisterWhoseWriteRunsOutOfTimeIsKept(t *testing.T) {
	n := startTestNode(t, "solo")
	n.apply(t, putUser("anna", false), putLine("100", "anna", "primary", nil))
	var waited atomic.Int64
	n.deps.ApplyGrouped = func(ctx context.Context, cmd *dirpb.Command) (uint64, error) {
		if _, ok := cmd.GetOp().(*dirpb.Command_UpdateRegistrations); !ok {
			return n.dir.ApplyGrouped(ctx, cmd)
		}
		dl, ok := ctx.Deadline()
		if !ok {
			return 0, fmt.Errorf("the registration write has no deadline")
		}
		waited.Store(int64(time.Until(dl)))
		<-ctx.Done() // a leader that never answers
		return 0, fmt.Errorf("persistence: no leader took the write before the deadline: %w", ctx.Err())
	}
	a := &actorspb.Binding{Contact: "sip:100@192.0.2.1:5060", ExpiresAtUnix: time.Now().Unix() + 3600, CallId: "reg-1", Cseq: 1}
	resp, err := n.cn.Request(reqCtx(t), "100", KindLine, &actorspb.RegisterLine{Put: []*actorspb.Binding{a}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*actorspb.RegisterLineReply); r.GetError() != nil || len(r.GetBindings()) != 1 {
		t.Fatalf("REGISTER whose write ran out of time: error %v, bindings %v; want the binding, kept", r.GetError(), r.GetBindings())
	}
	if d := time.Duration(waited.Load()); d <= 0 || d > 4*time.Second {
		t.Fatalf("the registration write may wait %v; want at most 4 s, a second short of the SIP layer's 5 s BackendTimeout", d)
	}
	if !n.deps.regs.has("100") {
		t.Fatal("the binding is not kept on the node for a later write")
	}
}

func TestApplyRegistrations_AsTheDirectoryDoes(t *testing.T) {
	r := func(c string, exp int64) *dirpb.Registration {
		return &dirpb.Registration{Line: "100", Contact: c, ExpiresAtUnix: exp}
	}
	for _, tc := range []struct {
		name string
		regs []*dirpb.Registration
		u    *dirpb.UpdateRegistrations
		want []string
	}{
		{"put new", nil, &dirpb.UpdateRegistrations{Put: []*dirpb.Registration{r("a", 1)}}, []string{"a@1"}},
		{"put replaces its contact", []*dirpb.Registration{r("a", 1), r("b", 1)}, &dirpb.UpdateRegistrations{Put: []*dirpb.Registration{r("a", 2)}}, []string{"b@1", "a@2"}},
		{"remove", []*dirpb.Registration{r("a", 1), r("b", 1)}, &dirpb.UpdateRegistrations{Remove: []string{"a", "x"}}, []string{"b@1"}},
		{"remove all then put", []*dirpb.Registration{r("a", 1)}, &dirpb.UpdateRegistrations{RemoveAll: true, Put: []*dirpb.Registration{r("c", 3)}}, []string{"c@3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, x := range applyRegistrations(tc.regs, tc.u) {
				got = append(got, fmt.Sprintf("%s@%d", x.GetContact(), x.GetExpiresAtUnix()))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
