package persistence

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func batchOf(cmds ...*dirpb.Command) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_Batch{Batch: &dirpb.Batch{Commands: cmds}}}
}

// applyBatchEntry applies one Batch entry through the FSM and returns its
// results.
func (h *storeHarness) applyBatchEntry(cmds ...*dirpb.Command) batchResults {
	h.t.Helper()
	h.index++
	resp := h.f.ApplyBatch([]*raft.Log{{Index: h.index, Term: 1, Type: raft.LogCommand, Data: mustMarshal(batchOf(cmds...))}})
	res, ok := resp[0].(batchResults)
	if !ok {
		h.t.Fatalf("batch entry %d: response %T %v, want batchResults", h.index, resp[0], resp[0])
	}
	if got, ok := h.f.batchResults(h.index); !ok || len(got) != len(res) {
		h.t.Fatalf("batch entry %d: kept results %v, %v; want %v", h.index, got, ok, res)
	}
	return res
}

func TestBatch_EachCommandHasItsOwnResultAndARejectedOneChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"))
	res := h.applyBatchEntry(
		putUser("bob"),
		putLine(&dirpb.Line{Number: "201", Owner: "nobody"}),             // unknown owner
		batchOf(putUser("carol")),                                        // nested
		appendJournal(&dirpb.JournalEntry{Owner: "alice", StartUnix: 1}), // no id
		&dirpb.Command{Op: &dirpb.Command_AppendChat{AppendChat: &dirpb.AppendChat{}}},
		putLine(&dirpb.Line{Number: "202", Owner: "bob"}), // sees bob of the same entry
		putUser(""), // invalid
	)
	want := []error{nil, ErrNotFound, ErrInvalid, ErrInvalid, ErrInvalid, nil, ErrInvalid}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d: %v", len(res), len(want), res)
	}
	for i, w := range want {
		if (w == nil) != (res[i] == nil) || w != nil && !errors.Is(res[i], w) {
			t.Errorf("command %d: %v, want %v", i, res[i], w)
		}
	}
	for _, id := range []string{"alice", "bob"} {
		if _, err := h.s.User(id); err != nil {
			t.Errorf("user %s: %v", id, err)
		}
	}
	if _, err := h.s.User("carol"); !errors.Is(err, ErrNotFound) {
		t.Errorf("user carol of a nested batch: %v, want not found", err)
	}
	if _, err := h.s.Line("201"); !errors.Is(err, ErrNotFound) {
		t.Errorf("line 201 of a rejected command: %v, want not found", err)
	}
	if l, err := h.s.Line("202"); err != nil || l.GetOwner() != "bob" {
		t.Errorf("line 202 = %v, %v", l, err)
	}
}

func TestBatch_RejectedBatchChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"))
	before := dump(t, h.s)
	res := h.applyBatchEntry(putUser(""), deleteUser("nobody"))
	if !errors.Is(res[0], ErrInvalid) || !errors.Is(res[1], ErrNotFound) {
		t.Fatalf("results %v", res)
	}
	if d := diffDumps(before, dump(t, h.s)); d != "" {
		// Only the applied index may move; it is outside the dump.
		t.Fatalf("a batch of rejected commands changed the directory:\n%s", d)
	}
}

// A command rejected after it wrote (none does today: each checks first)
// must leave the batch as it was before it, with the earlier commands'
// writes and changes kept.
func TestTxn_RollbackUndoesWritesOfARejectedCommand(t *testing.T) {
	h := newHarness(t)
	tx := newTxn(h.s.db)
	defer func() { _ = tx.b.Close() }()
	if err := tx.apply(1, putUser("alice")); err != nil {
		t.Fatal(err)
	}
	sp := tx.mark()
	if err := tx.apply(2, putUser("bob")); err != nil {
		t.Fatal(err)
	}
	if err := tx.del(key(tUser, "alice")); err != nil {
		t.Fatal(err)
	}
	if err := tx.rollback(sp); err != nil {
		t.Fatal(err)
	}
	if len(tx.changes) != 1 || tx.changes[0].ID != "alice" {
		t.Fatalf("changes after rollback: %+v", tx.changes)
	}
	if _, err := tx.user("bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob after rollback: %v", err)
	}
	if _, err := tx.user("alice"); err != nil {
		t.Fatalf("alice after rollback: %v", err)
	}
	if err := tx.apply(3, putUser("carol")); err != nil {
		t.Fatal(err)
	}
	if err := h.s.commitNoSync(tx.b); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"alice": true, "bob": false, "carol": true} {
		if _, err := h.s.User(id); (err == nil) != want {
			t.Errorf("user %s stored after commit: %v, want %v", id, err == nil, want)
		}
	}
}

func TestEncodeBatch_DecodesAsTheBatchOfTheCommands(t *testing.T) {
	cmds := []*dirpb.Command{putUser("a"), putUser("b"), deleteUser("c")}
	items := make([]*groupItem, len(cmds))
	for i, c := range cmds {
		items[i] = &groupItem{data: mustMarshal(c)}
	}
	var got dirpb.Command
	if err := proto.Unmarshal(encodeBatch(items), &got); err != nil {
		t.Fatal(err)
	}
	if want := batchOf(cmds...); !proto.Equal(&got, want) {
		t.Fatalf("decoded %v, want %v", &got, want)
	}
}

func TestApply_RefusesABatch(t *testing.T) {
	n := newNode(t)
	if _, err := n.Apply(context.Background(), batchOf(putUser("a"))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Apply(batch) = %v, want ErrInvalid", err)
	}
	if _, err := n.ApplyGrouped(context.Background(), batchOf(putUser("a"))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ApplyGrouped(batch) = %v, want ErrInvalid", err)
	}
}

// holdGroup keeps n's group commit from proposing (as if an entry were in
// flight) until the returned func is called.
func holdGroup(n *Node) (release func()) {
	n.group.mu.Lock()
	n.group.running = groupInFlight
	n.group.mu.Unlock()
	return func() {
		n.group.mu.Lock()
		defer n.group.mu.Unlock()
		n.group.running = 1 // one runner: it takes the whole queue
		go n.group.run(n)
	}
}

func waitQueued(t *testing.T, n *Node, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n.group.mu.Lock()
		got := len(n.group.queue)
		n.group.mu.Unlock()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d commands queued, want %d", got, want)
		}
		time.Sleep(time.Millisecond) // polling a condition, with a deadline
	}
}

func TestApplyGrouped_CallersQueuedMeanwhileShareOneEntry(t *testing.T) {
	n := newNode(t)
	mustApply(t, n, putUser("owner"))
	release := holdGroup(n)
	const callers = 100
	res := make([]Result, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			cmd := putUser(fmt.Sprintf("u%03d", i))
			if i%10 == 0 {
				cmd = deleteUser(fmt.Sprintf("missing%d", i)) // rejected, alone
			}
			res[i].Index, res[i].Err = n.ApplyGrouped(context.Background(), cmd)
		})
	}
	waitQueued(t, n, callers)
	release()
	wg.Wait()
	for i, r := range res {
		if r.Index != res[0].Index {
			t.Errorf("caller %d: index %d, want the shared %d", i, r.Index, res[0].Index)
		}
		if i%10 == 0 {
			if !errors.Is(r.Err, ErrNotFound) {
				t.Errorf("caller %d: %v, want ErrNotFound", i, r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("caller %d: %v", i, r.Err)
		}
		if _, err := n.Store().User(fmt.Sprintf("u%03d", i)); err != nil {
			t.Errorf("caller %d's user after ApplyGrouped returned: %v", i, err)
		}
	}
}

func TestApplyGrouped_LoneCallerAndCommandsThatGoAlone(t *testing.T) {
	n := newNode(t)
	mustApply(t, n, putUser("alice"))
	idx, err := n.ApplyGrouped(context.Background(), putUser("bob"))
	if err != nil || idx == 0 {
		t.Fatalf("ApplyGrouped = %d, %v", idx, err)
	}
	// A journal entry without an id takes its id from its own entry.
	res := n.ApplyGroupedAll(context.Background(), []*dirpb.Command{
		appendJournal(&dirpb.JournalEntry{Owner: "alice", StartUnix: 5, Direction: "in"}),
		putUser("carol"),
	})
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("command %d: %v", i, r.Err)
		}
	}
	if _, err := n.Store().JournalEntry(JournalID(res[0].Index)); err != nil {
		t.Fatalf("journal entry %s: %v", JournalID(res[0].Index), err)
	}
}

func TestApplyGrouped_WithdrawnWhenTheContextEndsBeforeItIsProposed(t *testing.T) {
	n := newNode(t)
	release := holdGroup(n)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := n.ApplyGrouped(ctx, putUser("late"))
		done <- err
	}()
	waitQueued(t, n, 1)
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("ApplyGrouped = %v, want a plain context.Canceled", err)
	}
	release()
	if _, err := n.ApplyGrouped(context.Background(), putUser("next")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Store().User("late"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("withdrawn command applied: %v", err)
	}
}

// directForwarder forwards to a leader in the same process.
type directForwarder struct{ leader *Node }

func (f directForwarder) Forward(ctx context.Context, _ string, cmd []byte) (uint64, error) {
	return f.leader.ApplyForwarded(ctx, cmd)
}

func TestApplyGrouped_FollowerForwardsTheBatchAndGetsEachResult(t *testing.T) {
	leader := openTLSNode(t, "", "n1", false)
	follower := openTLSNode(t, "", "n2", true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := leader.AddVoter(ctx, "n2", follower.RaftAddr()); err != nil {
		t.Fatal(err)
	}
	if err := follower.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	follower.SetForwarder(directForwarder{leader})
	cmds := []*dirpb.Command{putUser("a"), deleteUser("missing"), putUser("b")}
	release := holdGroup(follower)
	var res []Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		res = follower.ApplyGroupedAll(ctx, cmds)
	}()
	waitQueued(t, follower, len(cmds))
	release()
	<-done
	if res[0].Err != nil || !errors.Is(res[1].Err, ErrNotFound) || res[2].Err != nil {
		t.Fatalf("results %+v", res)
	}
	if res[0].Index != res[2].Index || res[0].Index == 0 {
		t.Fatalf("indexes %d, %d: want one shared entry", res[0].Index, res[2].Index)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := follower.Store().User(id); err != nil { // applied here before the answer
			t.Errorf("follower: user %s: %v", id, err)
		}
	}
}

// A batch is the same as its commands in entries of their own: random
// commands (users, groups, lines, grants; about a third rejected) applied
// one entry each and in batches of random sizes give the same results
// and the same directory.
func TestBatch_SameAsOneEntryPerCommand(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	m := newModel()
	cmds := make([]*dirpb.Command, 600)
	for i := range cmds {
		cmds[i], _ = m.random(rng) // the model's verdicts assume entries of their own; both sides are compared below
	}
	single, batched := newHarness(t), newHarness(t)
	want := make([]error, len(cmds))
	for i, cmd := range cmds {
		want[i] = single.apply(cmd)[0]
	}
	var got []error
	for i := 0; i < len(cmds); {
		n := min(1+rng.IntN(20), len(cmds)-i)
		got = append(got, batched.applyBatchEntry(cmds[i:i+n]...)...)
		i += n
	}
	rejected := 0
	for i, cmd := range cmds {
		if (want[i] == nil) != (got[i] == nil) || want[i] != nil && want[i].Error() != got[i].Error() {
			t.Fatalf("command %d (%v): in a batch %v, alone %v", i, cmd, got[i], want[i])
		}
		if want[i] != nil {
			rejected++
		}
	}
	t.Logf("%d of %d commands rejected", rejected, len(cmds))
	if d := diffDumps(dump(t, single.s), dump(t, batched.s)); d != "" {
		t.Fatalf("directories differ:\n%s", d)
	}
}

// The owners a batch's journal entries found are remembered for the rest
// of the batch; a user deleted in between must not be taken for an owner
// still there.
func TestBatch_JournalOwnerDeletedInTheSameBatchIsRefused(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"))
	entry := func(id string) *dirpb.Command {
		return appendJournal(&dirpb.JournalEntry{Id: id, Owner: "alice", StartUnix: 1, Outcome: "missed", Direction: "in"})
	}
	res := h.applyBatchEntry(entry("c1"), deleteUser("alice"), entry("c2"), putUser("alice"), entry("c3"))
	want := []error{nil, nil, ErrNotFound, nil, nil}
	for i, w := range want {
		if (w == nil) != (res[i] == nil) || w != nil && !errors.Is(res[i], w) {
			t.Errorf("command %d: %v, want %v", i, res[i], w)
		}
	}
}
