package persistence

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Group commit: the commands of concurrent callers share one Raft entry.
// While one entry is in flight (proposed, or forwarded to the leader, and
// not yet applied here) the commands that arrive queue; when it is done,
// the queue goes out as the next entry, a Batch of up to groupMaxCommands
// commands and groupMaxBytes bytes. A command alone in the queue goes out
// as itself, so a single caller on an idle node pays one goroutine
// hand-off over Apply. At most groupInFlight entries per node are in
// flight at a time: the batches grow with the load instead of the number
// of Raft entries.
//
// The goroutines that propose (run) exist only while commands are queued
// or in flight; each ends when it finds the queue empty.
const (
	// groupMaxCommands bounds a batch: a Raft entry's apply holds the FSM
	// for all its commands, and every proposer waits for the whole entry.
	groupMaxCommands = 512
	// groupMaxBytes bounds a batch's encoded commands (a forwarded command
	// travels in one HTTP request of at most 4 MiB). A larger command goes
	// alone.
	groupMaxBytes = 1 << 20
	// groupInFlight is how many entries a node has in flight at once;
	// beyond it, commands queue and go out together. Raft already writes
	// the entries queued in its apply channel with one fsync (up to
	// MaxAppendEntries), so entries in flight cost no extra fsync, while
	// a small bound puts a chain of goroutine wake-ups (the entry applied,
	// the next batch proposed) on every queued command's path: with 1, 2
	// or 4, BenchmarkApplyGrouped at 32 writers lost up to 4x to Apply on
	// this 2-core box; with 16 it holds Apply's rate.
	groupInFlight = 16
)

// Result is the outcome of one command of ApplyGroupedAll: the index of
// the Raft entry that carried it (0 when nothing was proposed) and the
// error Apply would have returned for it alone.
type Result struct {
	Index uint64
	Err   error
}

// groupCommit is a node's queue of commands waiting for the next entry.
// The zero value is ready.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*groupItem // guarded by mu
	running int          // run goroutines proposing, at most groupInFlight; guarded by mu
}

// groupItem is one caller's command.
type groupItem struct {
	data      []byte
	taken     bool // put into an entry: the caller can no longer withdraw it; guarded by groupCommit.mu
	withdrawn bool // the caller gave up before it was taken; guarded by groupCommit.mu
	res       Result
	done      chan struct{} // closed once res is set
}

// ApplyGrouped is Apply through group commit: cmd shares a Raft entry
// with the commands of other callers that arrive while the previous entry
// is in flight. The index, the errors and the context's meaning are those
// of Apply: when ApplyGrouped returns nil, the command is committed and
// applied on this node. A command whose record id derives from the
// entry's index (a chat message, a journal entry without an id) goes
// through Apply alone.
func (n *Node) ApplyGrouped(ctx context.Context, cmd *dirpb.Command) (uint64, error) {
	r := n.ApplyGroupedAll(ctx, []*dirpb.Command{cmd})[0]
	return r.Index, r.Err
}

// ApplyGroupedAll queues cmds together for group commit (usually one
// entry, more when they exceed a batch) and waits for all of them: one
// Result per command, in order, each as ApplyGrouped would return it.
func (n *Node) ApplyGroupedAll(ctx context.Context, cmds []*dirpb.Command) []Result {
	start := time.Now()
	res := make([]Result, len(cmds))
	items := make([]*groupItem, len(cmds))
	for i, cmd := range cmds {
		items[i], res[i].Err = n.groupItem(ctx, cmd)
	}
	n.group.enqueue(n, items)
	for i, it := range items {
		switch {
		case it != nil:
			res[i] = n.group.await(ctx, it)
		case res[i].Err == nil: // not groupable: alone
			res[i].Index, res[i].Err = n.apply(ctx, cmds[i])
		}
		if res[i].Err != nil {
			n.m.applyErrors.Inc()
		}
	}
	n.m.applySeconds.Observe(time.Since(start).Seconds())
	return res
}

// groupItem encodes cmd for a batch; nil without error when it must go
// alone.
func (n *Node) groupItem(ctx context.Context, cmd *dirpb.Command) (*groupItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("persistence: apply: %w", err)
	}
	if cmd.GetBatch() != nil {
		return nil, invalidf("a batch inside a batch")
	}
	if checkGroupable(cmd) != nil {
		return nil, nil
	}
	data, err := marshal.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("persistence: encode command: %w", err)
	}
	return &groupItem{data: data, done: make(chan struct{})}, nil
}

func (g *groupCommit) enqueue(n *Node, items []*groupItem) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, it := range items {
		if it != nil {
			g.queue = append(g.queue, it)
		}
	}
	if len(g.queue) > 0 && g.running < groupInFlight {
		g.running++
		go g.run(n)
	}
}

// await waits for it's result. When ctx ends first, a command not yet
// taken into an entry is withdrawn (nothing was proposed: the plain
// context error); one already taken has an unknown outcome.
func (g *groupCommit) await(ctx context.Context, it *groupItem) Result {
	select {
	case <-it.done:
		return it.res
	case <-ctx.Done():
	}
	g.mu.Lock()
	taken := it.taken
	it.withdrawn = !taken
	g.mu.Unlock()
	if !taken {
		return Result{Err: fmt.Errorf("persistence: apply: %w", ctx.Err())}
	}
	return Result{Err: fmt.Errorf("%w: %w", ErrOutcomeUnknown, ctx.Err())}
}

// run proposes the queue, one entry at a time, until it is empty.
func (g *groupCommit) run(n *Node) {
	for {
		batch := g.take()
		if batch == nil {
			return
		}
		n.commitGroup(batch)
	}
}

// take removes the next batch from the queue (withdrawn commands are
// dropped); nil, and the calling runner stops, when the queue is empty.
func (g *groupCommit) take() []*groupItem {
	g.mu.Lock()
	defer g.mu.Unlock()
	var batch []*groupItem
	size, i := 0, 0
	for ; i < len(g.queue) && len(batch) < groupMaxCommands; i++ {
		it := g.queue[i]
		if it.withdrawn {
			continue
		}
		if len(batch) > 0 && size+len(it.data) > groupMaxBytes {
			break
		}
		it.taken = true
		size += len(it.data)
		batch = append(batch, it)
	}
	rest := copy(g.queue, g.queue[i:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	if len(batch) == 0 && rest == 0 {
		g.running--
		return nil
	}
	return batch
}

// commitGroup proposes batch as one entry and hands every caller its
// result. The proposal is bounded by ApplyTimeout, not by a caller's
// context: the entry is the others' too.
func (n *Node) commitGroup(batch []*groupItem) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ApplyTimeout)
	defer cancel()
	if len(batch) == 1 {
		index, err := n.applyData(ctx, batch[0].data)
		batch[0].finish(index, err)
		return
	}
	index, err := n.applyData(ctx, encodeBatch(batch))
	if err != nil {
		for _, it := range batch {
			it.finish(index, err)
		}
		return
	}
	res, ok := n.fsm.batchResults(index)
	for i, it := range batch {
		switch {
		case !ok:
			it.finish(index, fmt.Errorf("%w: the results of batch entry %d are no longer kept", ErrOutcomeUnknown, index))
		case i < len(res):
			it.finish(index, res[i])
		default:
			it.finish(index, fmt.Errorf("%w: batch entry %d has %d results for %d commands", ErrOutcomeUnknown, index, len(res), len(batch)))
		}
	}
}

func (it *groupItem) finish(index uint64, err error) {
	it.res = Result{Index: index, Err: err}
	close(it.done)
}

// encodeBatch writes the Command holding a Batch of the items' encoded
// commands, without decoding them again.
func encodeBatch(batch []*groupItem) []byte {
	inner := 0
	for _, it := range batch {
		inner += protowire.SizeTag(1) + protowire.SizeBytes(len(it.data))
	}
	out := make([]byte, 0, protowire.SizeTag(23)+protowire.SizeBytes(inner))
	out = protowire.AppendTag(out, 23, protowire.BytesType)
	out = protowire.AppendVarint(out, uint64(inner))
	for _, it := range batch {
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, it.data)
	}
	return out
}
