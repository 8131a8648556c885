package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// savepoint is where a txn's batch stood before a command, so a rejected
// command can be undone whatever it had written (see rollback).
type savepoint struct {
	size    int    // bytes of the batch representation
	count   uint32 // records in the batch
	changes int    // changes emitted
}

func (t *txn) mark() savepoint {
	return savepoint{size: t.b.Len(), count: t.b.Count(), changes: len(t.changes)}
}

// rollback undoes what was written since sp. The apply functions check
// everything before their first write, so a rejected command has
// normally written nothing and this only drops its changes; should one
// be rejected half way, the batch is rebuilt from its representation up
// to sp (a Pebble batch has no undo), so the rejection still changes
// nothing. An error is a storage failure.
func (t *txn) rollback(sp savepoint) error {
	t.changes = t.changes[:sp.changes]
	clear(t.owners)
	if t.b.Count() == sp.count {
		return nil
	}
	prefix := append([]byte(nil), t.b.Repr()[:sp.size]...)
	binary.LittleEndian.PutUint32(prefix[8:12], sp.count) // the header's record count
	head := t.db.NewBatch()
	defer head.Close()
	if err := head.SetRepr(prefix); err != nil {
		return fmt.Errorf("persistence: roll back a rejected command: %w", err)
	}
	nb := t.db.NewIndexedBatch()
	if err := nb.Apply(head, nil); err != nil {
		_ = nb.Close() // the apply error is the one to report
		return fmt.Errorf("persistence: roll back a rejected command: %w", err)
	}
	_ = t.b.Close() // an indexed batch never committed: nothing to report
	t.b, t.view = nb, view{nb}
	return nil
}

// applyChecked applies one command and undoes it when it is rejected: the
// result is nil or a *CommandError; any other error is a storage failure.
func (t *txn) applyChecked(index uint64, cmd *dirpb.Command) (rejected, failed error) {
	sp := t.mark()
	err := t.apply(index, cmd)
	var ce *CommandError
	if err == nil || !errors.As(err, &ce) {
		return nil, err
	}
	if rerr := t.rollback(sp); rerr != nil {
		return nil, rerr
	}
	return err, nil
}

// applyBatch applies the commands of a Batch entry in order, each as if
// it were an entry of its own at index: one result per command (nil or a
// *CommandError), a rejected command changes nothing and the next ones
// still apply. The error is a storage failure, which fails the whole
// entry.
func (t *txn) applyBatch(index uint64, b *dirpb.Batch) ([]error, error) {
	cmds := b.GetCommands()
	res := make([]error, len(cmds))
	for i, cmd := range cmds {
		if err := checkGroupable(cmd); err != nil {
			res[i] = err
			continue
		}
		rejected, err := t.applyChecked(index, cmd)
		if err != nil {
			return nil, err
		}
		res[i] = rejected
	}
	return res, nil
}

// checkGroupable refuses, inside a batch, the commands that cannot share
// an entry with others: a batch (no nesting) and those whose record id
// is derived from the entry's index alone (a chat message; a journal
// entry without an id), which would collide.
func checkGroupable(cmd *dirpb.Command) error {
	switch op := cmd.GetOp().(type) {
	case *dirpb.Command_Batch:
		return invalidf("a batch inside a batch")
	case *dirpb.Command_AppendChat:
		return invalidf("a chat message in a batch (its id is the entry's index)")
	case *dirpb.Command_AppendJournal:
		if op.AppendJournal.GetEntry().GetId() == "" {
			return invalidf("a journal entry without an id in a batch (its id would be the entry's index)")
		}
	}
	return nil
}

// batchResults is the FSM's response to a Batch entry: one result per
// command, nil or a *CommandError.
type batchResults []error

// recentBatches keeps the results of the last Batch entries this node
// applied, so a follower whose batch the leader applied (ApplyForwarded
// answers with the index only) finds each command's result once it has
// applied the entry itself. Every node computes the same results.
type recentBatches struct {
	slots [recentBatchSlots]struct {
		index uint64
		res   batchResults
	}
}

// recentBatchSlots bounds the results kept: an entry's slot is its index
// modulo this, so a result stays until as many entries later.
const recentBatchSlots = 4096

func (r *recentBatches) put(index uint64, res batchResults) {
	s := &r.slots[index%recentBatchSlots]
	s.index, s.res = index, res
}

func (r *recentBatches) get(index uint64) (batchResults, bool) {
	s := &r.slots[index%recentBatchSlots]
	if s.index != index {
		return nil, false
	}
	return s.res, true
}
