package persistence

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The directory's upkeep: records that expire are deleted through Raft by
// the leader, with its own clock, so every node deletes the same ones.
// Until a sweep runs, expired records are refused or left out where they
// are read (a token after its expiry, a binding after its expires), so
// the sweeps only free their keys.
const (
	// expirySweepInterval is how often the leader looks for expired bearer
	// tokens and registrations: a look costs one seek each.
	expirySweepInterval = time.Minute
	// retentionInterval is how often it looks for journal entries and chat
	// messages past the retention days; an hour is well inside a day.
	retentionInterval = time.Hour
	// sweepTimeout bounds the purges of one sweep through Raft.
	sweepTimeout = 30 * time.Second
	// grantCheckInterval is the longest the grant expiry loop sleeps: a
	// safety net, since it wakes at the earliest until and on every
	// directory change that may bring an earlier one.
	grantCheckInterval = time.Minute
	// grantRetry is how soon a node looks again when something is due
	// that it did not end (not the leader, or the proposal failed): the
	// leader ends it meanwhile, or this node has become leader.
	grantRetry = time.Second
)

// StartSweeps starts the upkeep loops on n: expired tokens and
// registrations every minute, grants, presets, memberships and deputies
// at their until (grantExpiryLoop), journal entries and chat messages past the
// global retention days (0 = keep) every hour. Only the leader proposes
// purges, and only when something is due, so an idle directory does not
// grow the Raft log. The returned function stops the loops and waits for
// them.
func (n *Node) StartSweeps() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sweeper{dir: n, now: n.cfg.Now, logger: n.log}
	var wg sync.WaitGroup
	wg.Go(func() {
		sweepEvery(ctx, expirySweepInterval, n.log, "expiry sweep", func(ctx context.Context) error {
			_, err := s.expired(ctx)
			return err
		})
	})
	wg.Go(func() { sweepEvery(ctx, retentionInterval, n.log, "retention sweep", s.retention) })
	changes, unsubscribe := n.Subscribe(64)
	wg.Go(func() {
		defer unsubscribe()
		s.grantExpiryLoop(ctx, changes)
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// sweeper proposes the purges on the leader.
type sweeper struct {
	dir    *Node
	now    func() time.Time
	logger *slog.Logger
}

// expired proposes a purge of each kind of expired record (PurgeTokens,
// ExpireRegistrations) and reports how many it proposed.
func (s *sweeper) expired(ctx context.Context) (int, error) {
	if !s.dir.IsLeader() {
		return 0, nil
	}
	now := s.now()
	st := s.dir.Store()
	var cmds []*dirpb.Command
	due, err := st.TokensExpiredAt(now.UnixMilli())
	if err != nil {
		return 0, err
	}
	if due {
		cmds = append(cmds, &dirpb.Command{Op: &dirpb.Command_PurgeTokens{PurgeTokens: &dirpb.PurgeTokens{NowUnixMs: now.UnixMilli()}}})
	}
	if due, err = st.RegistrationsExpiredAt(now.Unix()); err != nil {
		return 0, err
	}
	if due {
		cmds = append(cmds, &dirpb.Command{Op: &dirpb.Command_ExpireRegistrations{ExpireRegistrations: &dirpb.ExpireRegistrations{NowUnix: now.Unix()}}})
	}
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	for i, cmd := range cmds {
		if _, err := s.dir.Apply(ctx, cmd); err != nil {
			return i, err
		}
	}
	return len(cmds), nil
}

// retention proposes the journal and chat purges that are due.
func (s *sweeper) retention(ctx context.Context) error {
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

// purge proposes cmd when anything is older than cut.
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

// sweepEvery runs sweep at once and then every interval until ctx ends;
// a failed sweep is logged and tried again at the next interval.
func sweepEvery(ctx context.Context, interval time.Duration, logger *slog.Logger, what string, sweep func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := sweep(ctx); err != nil && ctx.Err() == nil {
			logger.Warn(what+" failed; retried at the next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// grantExpiryLoop ends grants, presets, memberships and deputies at their
// until: it sleeps until the earliest one (at most grantCheckInterval),
// and wakes early on a directory change that may have set an earlier one.
func (s *sweeper) grantExpiryLoop(ctx context.Context, changes <-chan Change) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			if !c.Reset && c.Kind != KindGrant && c.Kind != KindPreset && c.Kind != KindGroup {
				continue
			}
		case <-timer.C:
		}
		wait := s.expireGrantsDue(ctx)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// expireGrantsDue proposes ExpireGrants when something has ended and this
// node leads, and returns how long to sleep before looking again.
func (s *sweeper) expireGrantsDue(ctx context.Context) time.Duration {
	next, ok, err := s.dir.Store().NextExpiry()
	if err != nil {
		s.logger.Warn("grant expiry: reading the next until failed; retried", "err", err)
		return grantRetry
	}
	now := s.now()
	if !ok {
		return grantCheckInterval
	}
	if next > now.Unix() {
		return min(time.Unix(next, 0).Sub(now), grantCheckInterval)
	}
	if !s.dir.IsLeader() {
		return grantRetry
	}
	ctx, cancel := context.WithTimeout(ctx, sweepTimeout)
	defer cancel()
	cmd := &dirpb.Command{Op: &dirpb.Command_ExpireGrants{ExpireGrants: &dirpb.ExpireGrants{NowUnix: now.Unix()}}}
	if _, err := s.dir.Apply(ctx, cmd); err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("grant expiry: proposing ExpireGrants failed; retried", "err", err)
		}
		return grantRetry
	}
	return 0 // look again at once: the next until
}
