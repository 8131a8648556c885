package persistence

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// txn applies directory commands into one indexed batch (reads through the
// batch see its earlier writes). Each apply function checks everything
// first and writes only when the command is accepted, so a rejected
// command (*CommandError) leaves the batch as it was. Any other error is a
// storage failure that fails the whole batch.
type txn struct {
	view
	db      *pebble.DB
	b       *pebble.Batch // replaced by rollback
	index   uint64        // Raft index of the command being applied
	changes []Change
	// owners are the users a journal entry of this transaction found:
	// the entries of a group commit name the same few owners, and reading
	// a user back for each was a fifth of the batch's apply. Any change to
	// a user (emit) or a rollback forgets them.
	owners map[string]struct{}
}

func newTxn(db *pebble.DB) *txn {
	b := db.NewIndexedBatch()
	return &txn{view: view{b}, db: db, b: b}
}

func (t *txn) put(k []byte, m proto.Message) error { return putProto(t.b, k, m) }

func (t *txn) putEmpty(k []byte) error {
	if err := t.b.Set(k, nil, nil); err != nil {
		return fmt.Errorf("persistence: write %q: %w", k, err)
	}
	return nil
}

func (t *txn) del(keys ...[]byte) error {
	for _, k := range keys {
		if err := t.b.Delete(k, nil); err != nil {
			return fmt.Errorf("persistence: delete %q: %w", k, err)
		}
	}
	return nil
}

func (t *txn) emit(c Change) {
	c.Index = t.index
	t.changes = append(t.changes, c)
	if c.Kind == KindUser {
		clear(t.owners)
	}
}

// orAbsent turns ErrNotFound into a nil record without error.
func orAbsent[T any](v T, err error) (T, error) {
	if errors.Is(err, ErrNotFound) {
		var zero T
		return zero, nil
	}
	return v, err
}

// apply runs one command at Raft index index (a Batch is applied by
// applyBatch, see fsm.applyOne).
func (t *txn) apply(index uint64, cmd *dirpb.Command) error {
	t.index = index
	switch op := cmd.Op.(type) {
	case *dirpb.Command_PutUser:
		return t.putUser(op.PutUser.GetUser())
	case *dirpb.Command_DeleteUser:
		return t.deleteUser(op.DeleteUser.GetId())
	case *dirpb.Command_PutGroup:
		return t.putGroup(op.PutGroup.GetGroup())
	case *dirpb.Command_DeleteGroup:
		return t.deleteGroup(op.DeleteGroup.GetId())
	case *dirpb.Command_PutLine:
		return t.putLine(op.PutLine.GetLine())
	case *dirpb.Command_DeleteLine:
		return t.deleteLine(op.DeleteLine.GetNumber())
	case *dirpb.Command_PutGrant:
		return t.putGrant(LayerUser, op.PutGrant)
	case *dirpb.Command_DeleteGrant:
		return t.deleteGrant(LayerUser, op.DeleteGrant)
	case *dirpb.Command_PutPreset:
		return t.putGrant(LayerPreset, op.PutPreset)
	case *dirpb.Command_DeletePreset:
		return t.deleteGrant(LayerPreset, op.DeletePreset)
	default:
		return t.applyOther(cmd)
	}
}

func (t *txn) applyOther(cmd *dirpb.Command) error {
	switch op := cmd.Op.(type) {
	case *dirpb.Command_PutGlobal:
		return t.putGlobal(op.PutGlobal.GetGlobal())
	case *dirpb.Command_PutTrunk:
		return t.putTrunk(op.PutTrunk.GetTrunk())
	case *dirpb.Command_DeleteTrunk:
		return t.deleteTrunk(op.DeleteTrunk.GetId())
	case *dirpb.Command_PutRegistration:
		r := op.PutRegistration.GetRegistration()
		if err := t.putRegistration(r); err != nil {
			return err
		}
		return t.capRegistrations(r.GetLine(), t.lineOwner(r.GetLine()), []*dirpb.Registration{r})
	case *dirpb.Command_DeleteRegistration:
		return t.deleteRegistration(op.DeleteRegistration.GetLine(), op.DeleteRegistration.GetContact())
	case *dirpb.Command_ExpireRegistrations:
		return t.expireRegistrations(op.ExpireRegistrations.GetNowUnix())
	case *dirpb.Command_UpdateRegistrations:
		return t.updateRegistrations(op.UpdateRegistrations)
	case *dirpb.Command_AppendJournal:
		return t.appendJournal(op.AppendJournal.GetEntry())
	case *dirpb.Command_UpdateJournal:
		return t.updateJournal(op.UpdateJournal)
	case *dirpb.Command_PurgeJournal:
		return t.purgeJournal(op.PurgeJournal.GetBeforeUnix(), op.PurgeJournal.GetOwner())
	case *dirpb.Command_AppendChat:
		return t.appendChat(op.AppendChat.GetMessage())
	case *dirpb.Command_PurgeChat:
		return t.purgeChat(op.PurgeChat.GetBeforeUnix())
	case *dirpb.Command_PutToken:
		return t.putToken(op.PutToken)
	case *dirpb.Command_RevokeToken:
		return t.revokeToken(op.RevokeToken.GetDigest())
	case *dirpb.Command_RevokeUserTokens:
		return t.revokeUserTokens(op.RevokeUserTokens.GetUser())
	case *dirpb.Command_PurgeTokens:
		return t.purgeTokens(op.PurgeTokens.GetNowUnixMs())
	case *dirpb.Command_PutHuntMemory:
		return t.putHuntMemory(op.PutHuntMemory.GetMemory())
	case *dirpb.Command_SetLineForwarding:
		return t.setLineForwarding(op.SetLineForwarding.GetNumber(), op.SetLineForwarding.GetForwarding(), op.SetLineForwarding.GetSet())
	case *dirpb.Command_SetMemberAvailability:
		return t.setMemberAvailability(op.SetMemberAvailability)
	case *dirpb.Command_PutDialPlan:
		return t.putDialPlan(op.PutDialPlan.GetPlan())
	case *dirpb.Command_ExpireGrants:
		return t.expireGrants(op.ExpireGrants.GetNowUnix())
	case *dirpb.Command_PutDirectorySyncStatus:
		return t.putDirectorySyncStatus(op.PutDirectorySyncStatus.GetStatus())
	case *dirpb.Command_PutSiteNode:
		return t.putSiteNode(op.PutSiteNode.GetNode())
	default:
		return rejectf(CodeUnknownCommand, "the command holds no operation this version knows (written by a newer version?)")
	}
}

func (t *txn) putGlobal(g *dirpb.Global) error {
	if err := checkGlobal(g); err != nil {
		return err
	}
	if err := t.put([]byte(tGlobal), g); err != nil {
		return err
	}
	t.emit(Change{Kind: KindGlobal})
	return nil
}

func (t *txn) putTrunk(tr *dirpb.Trunk) error {
	if err := checkTrunk(tr); err != nil {
		return err
	}
	if err := t.checkTrunkInPlan(tr.Id, tr.Outbound != nil); err != nil {
		return err
	}
	if err := t.put(key(tTrunk, tr.Id), tr); err != nil {
		return err
	}
	t.emit(Change{Kind: KindTrunk, ID: tr.Id})
	return nil
}

func (t *txn) deleteTrunk(id string) error {
	if err := checkID("trunk id", id); err != nil {
		return err
	}
	if _, err := t.trunk(id); err != nil {
		return err
	}
	if err := t.checkTrunkInPlan(id, false); err != nil {
		return err
	}
	if err := t.del(key(tTrunk, id)); err != nil {
		return err
	}
	t.emit(Change{Kind: KindTrunk, ID: id, Deleted: true})
	return nil
}
