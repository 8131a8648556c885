package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// expirySweepInterval is how often the leader looks for expired bearer
// tokens and registrations. Both are refused or left out as soon as they
// expire anyway; the purge only frees their keys, so a minute is plenty,
// and a look costs one seek each.
const expirySweepInterval = time.Minute

// expirySweepTimeout bounds one purge through Raft.
const expirySweepTimeout = 30 * time.Second

// expirySweep deletes expired bearer tokens and registrations from the
// directory. Only the Raft leader proposes the purges (PurgeTokens,
// ExpireRegistrations), with its own time; every node applies the same
// entries, so all delete the same records.
type expirySweep struct {
	dir    *persistence.Node
	now    func() time.Time
	logger *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startExpirySweep starts the sweep loop on dir.
func startExpirySweep(dir *persistence.Node, logger *slog.Logger) *expirySweep {
	ctx, cancel := context.WithCancel(context.Background())
	s := &expirySweep{dir: dir, now: time.Now, logger: logger, cancel: cancel}
	s.wg.Go(func() {
		sweepEvery(ctx, expirySweepInterval, logger, "expiry sweep", func(ctx context.Context) error {
			_, err := s.sweep(ctx)
			return err
		})
	})
	return s
}

// stop ends the loop and waits for it. Safe on nil (a node that failed
// to start).
func (s *expirySweep) stop() {
	if s == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
}

// sweep proposes, on the leader, a purge of each kind of record that has
// expired, and reports how many it proposed: an idle directory does not
// grow the Raft log.
func (s *expirySweep) sweep(ctx context.Context) (int, error) {
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
	ctx, cancel := context.WithTimeout(ctx, expirySweepTimeout)
	defer cancel()
	for i, cmd := range cmds {
		if _, err := s.dir.Apply(ctx, cmd); err != nil {
			return i, err
		}
	}
	return len(cmds), nil
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
