package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"time"

	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/rights"
)

// RightsConfig configures the rights scenario: GET /v1/rights/{viewer}/
// {target} for random pairs of generated users, spread over the nodes;
// with an in-process cluster also the rights engine's union on this
// process's copy of the directory, per core.
type RightsConfig struct {
	Common
	// Grants is how many admin-preset grants (random target → viewer,
	// random level) are written on top of the groups. Default Users.
	Grants int `json:"grants"`
	// EngineTargets is how many targets the in-process engine figure
	// loads (dirrights.LoadTarget) before it computes unions. Default 100.
	EngineTargets int `json:"engine_targets"`
	// Seed makes the pairs and grants reproducible. Default 1.
	Seed uint64 `json:"seed"`
}

// WithDefaults returns a copy of c with every zero field set to its
// documented default, Common's included.
func (c RightsConfig) WithDefaults() RightsConfig {
	c.Common = c.Common.WithDefaults()
	if c.Grants == 0 {
		c.Grants = c.Directory.Users
	}
	if c.EngineTargets == 0 {
		c.EngineTargets = 100
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c RightsConfig) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Directory.Users < 2:
		return errors.New("bench: rights needs DirectoryConfig.Users ≥ 2")
	case c.Grants < 0:
		return invalidConfig("RightsConfig.Grants", "%d is negative", c.Grants)
	case c.EngineTargets < 1:
		return invalidConfig("RightsConfig.EngineTargets", "%d, must be at least 1", c.EngineTargets)
	}
	return c.Common.Validate()
}

var grantLevels = []string{"blocked", "public", "business", "team", "personal"}

// RunRights runs the rights scenario.
func RunRights(ctx context.Context, cfg RightsConfig) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cl, err := cfg.setUp(ctx)
	if err != nil {
		return nil, err
	}
	defer cl.Stop()
	if err := writeGrants(ctx, &cfg, cl); err != nil {
		return nil, err
	}
	res := newResult("rights", cfg)
	start := time.Now()
	rec := NewRecorder("explain over HTTP", start)
	elapsed := drive(ctx, cfg.Load, start, []*Recorder{rec}, func(ctx context.Context, i int, due time.Time) {
		r := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
		v, t := r.IntN(cfg.Directory.Users), r.IntN(cfg.Directory.Users)
		n := cl.Nodes[i%len(cl.Nodes)]
		err := n.API.Do(ctx, "GET", "/v1/rights/"+cfg.Directory.UserID(v)+"/"+cfg.Directory.UserID(t), nil, nil)
		observe(rec, due, err)
	})
	cfg.afterRun(ctx, cl)
	res.Seconds = elapsed.Seconds()
	res.Metrics = append(res.Metrics, rec.Metric(elapsed))
	if n := cl.Nodes[0]; n.srv != nil {
		figs, err := engineFigures(&cfg, n)
		if err != nil {
			return nil, err
		}
		res.Figures = append(res.Figures, figs...)
	} else {
		res.Notes = append(res.Notes, "engine figures need an in-process cluster (no --procs, no --target)")
	}
	res.Notes = append(res.Notes, "the grain's cached check (≥ 10 M/s/core goal) is measured by go test -bench CachedRightsCheck ./actors/")
	return res, nil
}

// observe records an operation due at due that ended now with err.
func observe(rec *Recorder, due time.Time, err error) {
	now := time.Now()
	if err != nil {
		rec.Fail(now, errKind(err))
		return
	}
	rec.Observe(now, now.Sub(due))
}

// errKind names an error for the report: the HTTP status, or "timeout",
// or "error".
func errKind(err error) string {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "error"
	}
}

func writeGrants(ctx context.Context, cfg *RightsConfig, cl *Cluster) error {
	d := &cfg.Directory
	r := rand.New(rand.NewPCG(cfg.Seed, 0))
	steps := make([]func() error, cfg.Grants)
	for i := range steps {
		t, v := r.IntN(d.Users), r.IntN(d.Users)
		if t == v {
			v = (v + 1) % d.Users
		}
		level := grantLevels[r.IntN(len(grantLevels))]
		steps[i] = func() error {
			return cl.Nodes[0].API.Setup(ctx, "PUT", "/v1/admin/grants/"+d.UserID(t)+"/"+d.UserID(v), map[string]any{"level": level})
		}
	}
	cfg.logf("writing %d grants", cfg.Grants)
	if err := runParallel(ctx, d.Writers, steps, nil); err != nil {
		return fmt.Errorf("bench: write grants: %w", err)
	}
	return nil
}

// engineFigures measures the pure rights engine on the node's directory
// on one goroutine (so per core): the union (rights.Effective) and the
// explanation (rights.Explain) over pairs of loaded targets.
func engineFigures(cfg *RightsConfig, n *Node) ([]Figure, error) {
	d := &cfg.Directory
	st := n.srv.Directory().Store()
	targets := make([]*dirrights.Target, min(cfg.EngineTargets, d.Users))
	for i := range targets {
		t, err := dirrights.LoadTarget(st, d.UserID(i))
		if err != nil {
			return nil, fmt.Errorf("bench: load target %s: %w", d.UserID(i), err)
		}
		targets[i] = t
	}
	viewers := make([]string, min(d.Users, 1000))
	for i := range viewers {
		viewers[i] = d.UserID(i)
	}
	pairs := make([]*rightsPair, 0, 4096)
	for i := range cap(pairs) {
		pairs = append(pairs, &rightsPair{p: targets[i%len(targets)].Pair(viewers[(i*7+1)%len(viewers)])})
	}
	window := min(max(cfg.Load.Duration/4, 200*time.Millisecond), 2*time.Second)
	effective := perCore(window, func(i int) bool { return rights.Effective(pairs[i%len(pairs)].p) != 0 })
	explain := perCore(window, func(i int) bool { return rights.Explain(pairs[i%len(pairs)].p).Set != 0 })
	return []Figure{
		{Name: "engine Effective (uncached union) per core", Value: effective, Unit: "checks/s"},
		{Name: "engine Explain per core", Value: explain, Unit: "explanations/s"},
		{Name: "GOMAXPROCS during engine figures", Value: float64(runtime.GOMAXPROCS(0)), Unit: ""},
	}, nil
}

type rightsPair struct{ p *rights.Pair }

// perCore runs f in a loop on this goroutine for about d and returns
// calls per second.
func perCore(d time.Duration, f func(i int) bool) float64 {
	var sink int
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		for range 1024 {
			if f(n) {
				sink++
			}
			n++
		}
	}
	_ = sink // keeps the calls from being optimised away
	return float64(n) / time.Since(start).Seconds()
}
