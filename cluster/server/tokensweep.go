package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// tokenSweepInterval is how often the leader looks for expired bearer
// tokens. Expired tokens are refused at once anyway; the purge only frees
// their keys, so a minute is plenty, and a look costs one seek.
const tokenSweepInterval = time.Minute

// tokenSweepTimeout bounds one purge through Raft.
const tokenSweepTimeout = 30 * time.Second

// tokenSweep deletes expired bearer tokens from the directory. Only the
// Raft leader proposes PurgeTokens, with its own time; every node applies
// the same entry, so all delete the same tokens.
type tokenSweep struct {
	dir    *persistence.Node
	now    func() time.Time
	logger *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startTokenSweep starts the sweep loop on dir.
func startTokenSweep(dir *persistence.Node, logger *slog.Logger) *tokenSweep {
	ctx, cancel := context.WithCancel(context.Background())
	s := &tokenSweep{dir: dir, now: time.Now, logger: logger, cancel: cancel}
	s.wg.Go(func() { s.run(ctx, tokenSweepInterval) })
	return s
}

// stop ends the loop and waits for it. Safe on nil (a node that failed
// to start).
func (s *tokenSweep) stop() {
	if s == nil {
		return
	}
	s.cancel()
	s.wg.Wait()
}

// run sweeps every interval until ctx ends.
func (s *tokenSweep) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.sweep(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("token sweep failed; retried at the next interval", "err", err)
		}
	}
}

// sweep proposes a purge on the leader when a token has expired, and
// reports whether it did: an idle directory does not grow the Raft log.
func (s *tokenSweep) sweep(ctx context.Context) (bool, error) {
	if !s.dir.IsLeader() {
		return false, nil
	}
	now := s.now().UnixMilli()
	due, err := s.dir.Store().TokensExpiredAt(now)
	if err != nil || !due {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, tokenSweepTimeout)
	defer cancel()
	cmd := &dirpb.Command{Op: &dirpb.Command_PurgeTokens{PurgeTokens: &dirpb.PurgeTokens{NowUnixMs: now}}}
	if _, err := s.dir.Apply(ctx, cmd); err != nil {
		return false, err
	}
	return true, nil
}
