package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// records is the node's background work on stored communication records:
// the live delivery of chat messages its directory applies to the
// node's event sessions, and the retention sweeper.
type records struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startRecords starts both on the node's directory and session hub.
func startRecords(dir *persistence.Node, hub *actors.Hub, logger *slog.Logger) *records {
	ctx, cancel := context.WithCancel(context.Background())
	r := &records{cancel: cancel}
	changes, unsubscribe := dir.Subscribe(chatFeedBuffer)
	r.wg.Go(func() {
		defer unsubscribe()
		deliverChats(ctx, dir.Store(), hub, changes)
	})
	sw := &sweeper{dir: dir, now: time.Now, logger: logger}
	r.wg.Go(func() { sweepEvery(ctx, retentionInterval, logger, "retention sweep", sw.sweep) })
	return r
}

// stop ends both and waits for them. Safe on nil (a node that failed to
// start).
func (r *records) stop() {
	if r == nil {
		return
	}
	r.cancel()
	r.wg.Wait()
}

// chatFeedBuffer is how many directory changes may wait for the chat
// delivery; beyond it the feed resets and the messages in between are
// not pushed live (clients read them from the history).
const chatFeedBuffer = 1024

// deliverChats hands every chat message the directory applies to the
// local sessions of its two users, until ctx ends or the feed closes.
func deliverChats(ctx context.Context, store *persistence.Store, hub *actors.Hub, changes <-chan persistence.Change) {
	persistence.Follow(ctx, changes, func(c persistence.Change) {
		if c.Kind != persistence.KindChat || c.Deleted || c.ID == "" {
			return
		}
		if m, err := store.ChatMessage(c.ID); err == nil {
			hub.DeliverChat(m)
		} // else purged already: nothing to deliver
	})
}

// retentionInterval is how often the sweeper looks for expired records.
// Retention is counted in days; an hour's delay is well inside that.
const retentionInterval = time.Hour

// sweeper deletes journal entries and chat messages older than the
// global retention days (0 = keep). Only the Raft leader proposes the
// purges; every node applies them, so all delete the same records.
type sweeper struct {
	dir    *persistence.Node
	now    func() time.Time
	logger *slog.Logger
}

// sweepTimeout bounds the purges of one sweep.
const sweepTimeout = 30 * time.Second

// sweep proposes the purges that are due, on the leader only.
func (s *sweeper) sweep(ctx context.Context) error {
	if !s.dir.IsLeader() {
		return nil
	}
	g, err := s.dir.Store().Global()
	if err != nil {
		return err
	}
	now := s.now()
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	var errs []error
	if cut, ok := retentionCut(now, g.GetJournalRetentionDays()); ok {
		errs = append(errs, s.purge(ctx, "journal", cut, s.dir.Store().JournalBefore,
			&dirpb.Command{Op: &dirpb.Command_PurgeJournal{PurgeJournal: &dirpb.PurgeJournal{BeforeUnix: cut}}}))
	}
	if cut, ok := retentionCut(now, g.GetChatRetentionDays()); ok {
		errs = append(errs, s.purge(ctx, "chat", cut, s.dir.Store().ChatBefore,
			&dirpb.Command{Op: &dirpb.Command_PurgeChat{PurgeChat: &dirpb.PurgeChat{BeforeUnix: cut}}}))
	}
	return errors.Join(errs...)
}

// purge proposes cmd when anything is older than cut: an idle directory
// does not grow the Raft log every interval.
func (s *sweeper) purge(ctx context.Context, what string, cut int64, due func(int64) (bool, error), cmd *dirpb.Command) error {
	ok, err := due(cut)
	if err != nil || !ok {
		return err
	}
	if _, err := s.dir.Apply(ctx, cmd); err != nil {
		return err
	}
	s.logger.Info("retention: expired records deleted", "records", what, "before", time.Unix(cut, 0).UTC())
	return nil
}

// retentionCut is the time before which records kept days days are
// deleted at now; false when days is 0 (keep for ever).
func retentionCut(now time.Time, days int32) (int64, bool) {
	if days <= 0 {
		return 0, false
	}
	return now.Add(-time.Duration(days) * 24 * time.Hour).Unix(), true
}
