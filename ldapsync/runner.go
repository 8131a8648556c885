package ldapsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// applyChunk is how many commands go into one group commit: a few
// hundred records per Raft entry keep each entry well under a megabyte.
const applyChunk = 200

// maxStoredProblems is how many problems the stored status keeps (the
// FSM refuses more); the sync's own answer lists them all.
const maxStoredProblems = 200

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Config is the mapping file (required).
	Config *Config
	// Directory is the node's directory (required): syncs run only while
	// it is the Raft leader, and write through its log.
	Directory *persistence.Node
	// Now reads the clock. Default time.Now.
	Now func() time.Time
	// Logger receives the sync's logs (never the bind password). Default:
	// discard.
	Logger *slog.Logger
}

// Runner runs syncs on the Raft leader: when asked (Sync) and every
// Config.Watch (Run). Its methods are safe for concurrent use; syncs run
// one at a time.
type Runner struct {
	cfg RunnerConfig
	mu  sync.Mutex // held for the length of one sync
	m   *metrics
}

// Report is the outcome of one sync: the stored status and the plan.
type Report struct {
	Status *dirpb.DirectorySyncStatus
	Plan   *Plan
}

// ErrSync wraps why a sync did not run (server unreachable, bind
// refused): a fault of the directory server or the mapping, not of the
// node.
var ErrSync = errors.New("ldapsync: sync failed")

// NewRunner checks cfg and returns a Runner.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	switch {
	case cfg.Config == nil:
		return nil, errors.New("ldapsync: RunnerConfig.Config is nil")
	case cfg.Directory == nil:
		return nil, errors.New("ldapsync: RunnerConfig.Directory is nil")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, m: newMetrics()}, nil
}

// Interval is the watch interval (0: syncs only when asked).
func (r *Runner) Interval() time.Duration { return time.Duration(r.cfg.Config.Watch) }

// Collectors are the sync's metrics (docs/metrics.md).
func (r *Runner) Collectors() []prometheus.Collector { return r.m.collectors() }

// Run syncs every Config.Watch while this node is the Raft leader, until
// ctx ends; with no watch interval it returns at once. Every node looks
// often (every watch interval, at most every 30 s) and the leader of the
// moment syncs when the stored status says the last sync started a watch
// interval ago or longer (or none ran yet): a new leader keeps the
// schedule, and a cluster started with a mapping file syncs within its
// first look.
func (r *Runner) Run(ctx context.Context) {
	every := r.Interval()
	if every <= 0 {
		return
	}
	t := time.NewTicker(min(every, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !r.cfg.Directory.IsLeader() || !r.due(every) {
			continue
		}
		if _, err := r.Sync(ctx, false); err != nil {
			r.cfg.Logger.Warn("ldap sync", "err", err)
		}
	}
}

// due reports whether the last sync started every or longer ago.
func (r *Runner) due(every time.Duration) bool {
	st, err := r.cfg.Directory.Store().DirectorySyncStatus()
	if err != nil || st == nil {
		return true
	}
	return r.cfg.Now().Sub(time.Unix(st.StartedUnix, 0)) >= every-time.Second/2
}

// Sync runs one sync now: fetch, plan, and unless dryRun apply; the
// status is stored (a dry run's marked dry_run). It fails with
// persistence.ErrNotLeader on a follower, and with ErrSync (the report
// holding the stored status) when the server could not be read.
func (r *Runner) Sync(ctx context.Context, dryRun bool) (*Report, error) {
	dir := r.cfg.Directory
	if !dir.IsLeader() {
		id, addr := dir.Leader()
		return nil, fmt.Errorf("ldapsync: %w (leader %q at %q): the sync runs on the leader", persistence.ErrNotLeader, id, addr)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cfg.Config
	ctx, cancel := context.WithTimeout(ctx, 5*time.Duration(c.Timeout))
	defer cancel()
	start := r.cfg.Now()
	st := &dirpb.DirectorySyncStatus{Node: dir.ID(), StartedUnix: start.Unix(), DryRun: dryRun,
		IntervalS: int32(r.Interval() / time.Second), Source: c.Source()}
	plan, err := r.run(ctx, dryRun, start)
	if err != nil {
		st.Error = err.Error()
	}
	if plan != nil {
		fillCounts(st, plan)
	}
	st.FinishedUnix = max(r.cfg.Now().Unix(), st.StartedUnix)
	r.m.observe(st, plan, r.cfg.Now().Sub(start))
	r.log(st)
	if serr := r.store(ctx, st); serr != nil && err == nil {
		return &Report{Status: st, Plan: plan}, fmt.Errorf("ldapsync: store the sync status: %w", serr)
	}
	if err != nil {
		return &Report{Status: st, Plan: plan}, fmt.Errorf("%w: %w", ErrSync, err)
	}
	return &Report{Status: st, Plan: plan}, nil
}

func (r *Runner) run(ctx context.Context, dryRun bool, now time.Time) (*Plan, error) {
	snap, err := Fetch(ctx, r.cfg.Config)
	if err != nil {
		return nil, err
	}
	cur, err := ReadCurrent(r.cfg.Directory.Store())
	if err != nil {
		return nil, err
	}
	plan := MakePlan(r.cfg.Config, snap, cur, now)
	if dryRun {
		return plan, nil
	}
	return plan, Apply(ctx, r.cfg.Directory, plan)
}

func fillCounts(st *dirpb.DirectorySyncStatus, p *Plan) {
	st.Created, st.Updated, st.Disabled = int32(p.Count(OpCreate)), int32(p.Count(OpUpdate)), int32(p.Count(OpDisable))
	st.Unchanged = int32(p.Unchanged)
	st.Problems = p.Problems
	if len(st.Problems) > maxStoredProblems {
		st.Problems = append(st.Problems[:maxStoredProblems-1:maxStoredProblems-1],
			fmt.Sprintf("… and %d more problems (ucgrid ldap sync --dry-run lists them all)", len(p.Problems)-maxStoredProblems+1))
	}
}

func (r *Runner) log(st *dirpb.DirectorySyncStatus) {
	args := []any{"dry_run", st.DryRun, "created", st.Created, "updated", st.Updated, "disabled", st.Disabled,
		"unchanged", st.Unchanged, "problems", len(st.Problems)}
	if st.Error != "" {
		r.cfg.Logger.Warn("ldap sync failed", "source", st.Source, "err", st.Error)
		return
	}
	r.cfg.Logger.Info("ldap sync", args...)
}

func (r *Runner) store(ctx context.Context, st *dirpb.DirectorySyncStatus) error {
	_, err := r.cfg.Directory.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_PutDirectorySyncStatus{
		PutDirectorySyncStatus: &dirpb.PutDirectorySyncStatus{Status: st}}})
	return err
}

// ReadCurrent reads every user, group and line of the directory.
func ReadCurrent(s *persistence.Store) (*Current, error) {
	cur := &Current{Users: map[string]*dirpb.User{}, Groups: map[string]*dirpb.Group{}, Lines: map[string]*dirpb.Line{}}
	if err := readAll(s.ListUsers, func(u *dirpb.User) { cur.Users[u.Id] = u }); err != nil {
		return nil, err
	}
	if err := readAll(s.ListGroups, func(g *dirpb.Group) { cur.Groups[g.Id] = g }); err != nil {
		return nil, err
	}
	if err := readAll(s.ListLines, func(l *dirpb.Line) { cur.Lines[l.Number] = l }); err != nil {
		return nil, err
	}
	return cur, nil
}

func readAll[T any](list func(after string, limit int) ([]T, string, error), put func(T)) error {
	after := ""
	for {
		page, next, err := list(after, 1000)
		if err != nil {
			return fmt.Errorf("ldapsync: read the directory: %w", err)
		}
		for _, v := range page {
			put(v)
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// Apply writes a plan through Raft: users, then groups, then lines, a
// few hundred per group commit. A command the directory refuses is
// dropped from the plan's actions and reported as a problem with the
// entry's DN; a group or line that depends on a user whose creation was
// refused leaves that user out. The error is a failure of the directory
// itself (no leader, closed), after which the rest is not tried; the
// plan's actions are then the ones applied before it.
func Apply(ctx context.Context, dir *persistence.Node, p *Plan) error {
	failedUsers := map[string]bool{}
	kept := []Action{}
	defer func() { p.Actions = kept }()
	for _, kind := range []string{KindUser, KindGroup, KindLine} {
		var batch []Action
		for _, a := range p.Actions {
			if a.Kind == kind && prepare(a, failedUsers) {
				batch = append(batch, a)
			}
		}
		ok, err := applyBatch(ctx, dir, batch, p)
		for i, a := range batch {
			if ok[i] {
				kept = append(kept, a)
			} else if a.Kind == KindUser && a.Op == OpCreate {
				failedUsers[a.ID] = true
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// prepare drops users whose creation failed from a group's new members;
// false skips a line whose owner's creation failed.
func prepare(a Action, failedUsers map[string]bool) bool {
	switch {
	case a.cmd.GetPutGroup() != nil:
		g := a.cmd.GetPutGroup().Group
		g.Members = slices.DeleteFunc(g.Members, func(m *dirpb.Member) bool { return m.Synced && failedUsers[m.User] })
	case a.cmd.GetPutLine() != nil:
		return !failedUsers[a.cmd.GetPutLine().Line.Owner]
	}
	return true
}

func applyBatch(ctx context.Context, dir *persistence.Node, batch []Action, p *Plan) ([]bool, error) {
	ok := make([]bool, len(batch))
	for from := 0; from < len(batch); from += applyChunk {
		to := min(from+applyChunk, len(batch))
		cmds := make([]*dirpb.Command, 0, to-from)
		for _, a := range batch[from:to] {
			cmds = append(cmds, a.cmd)
		}
		for i, res := range dir.ApplyGroupedAll(ctx, cmds) {
			a := batch[from+i]
			var ce *persistence.CommandError
			switch {
			case res.Err == nil:
				ok[from+i] = true
			case errors.As(res.Err, &ce):
				p.Problems = append(p.Problems, fmt.Sprintf("%s: %s %s %q refused by the directory: %s", a.DN, a.Op, a.Kind, a.ID, ce.Msg))
			default:
				return ok, fmt.Errorf("ldapsync: write %s %q: %w", a.Kind, a.ID, res.Err)
			}
		}
	}
	return ok, nil
}

// SyncDirectory is Sync for the API (api.DirectorySyncService): POST
// /v1/ldap/sync.
func (r *Runner) SyncDirectory(ctx context.Context, dryRun bool) (api.DirectorySyncResult, error) {
	rep, err := r.Sync(ctx, dryRun)
	if rep == nil {
		return api.DirectorySyncResult{}, err
	}
	out := api.DirectorySyncResult{Status: rep.Status}
	if rep.Plan != nil {
		// The stored status keeps 200 problems; the answer has them all.
		out.Status = proto.Clone(rep.Status).(*dirpb.DirectorySyncStatus)
		out.Status.Problems = rep.Plan.Problems
		out.Actions = make([]api.DirectorySyncAction, len(rep.Plan.Actions))
		for i, a := range rep.Plan.Actions {
			out.Actions[i] = api.DirectorySyncAction{Op: a.Op, Kind: a.Kind, ID: a.ID, DN: a.DN, Fields: a.Fields}
		}
	}
	return out, err
}
