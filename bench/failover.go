package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// FailoverConfig configures the failover scenario: calls from a trunk
// into the call groups at Load.Rate through the nodes that stay up; after
// KillAfter the last node is killed (SIGKILL with Procs: no leave, no
// hand-over). The group grains it hosted must be activated elsewhere.
// The figure is the failover time: from the kill until the end of the
// last call, started after it, that failed or took longer than Degraded
// to be answered (a call that waits for the dead node's grain stalls
// before the cluster moves it: that is the outage a caller feels).
type FailoverConfig struct {
	Common
	SIP SIPConfig `json:"sip"`
	// KillAfter is when in the window the node is killed. Default a
	// third of Load.Duration.
	KillAfter time.Duration `json:"kill_after"`
	// Degraded is the answer time above which a call counts as hit by
	// the failure. Default 500ms (the calls answer in tens of ms).
	Degraded time.Duration `json:"degraded"`
}

type callRecord struct {
	start, end time.Time
	ok         bool
}

// RunFailover runs the failover scenario.
func RunFailover(ctx context.Context, cfg FailoverConfig) (*Result, error) {
	cfg.Common.ensureDefaults()
	cfg.SIP.ensureDefaults()
	if cfg.Cluster.Nodes < 2 || len(cfg.Cluster.Target) > 0 {
		return nil, errors.New("bench: failover needs an embedded cluster of ≥ 2 nodes (ClusterConfig.Nodes)")
	}
	if cfg.Directory.Groups < 1 {
		return nil, errors.New("bench: failover needs DirectoryConfig.Groups ≥ 1")
	}
	if cfg.KillAfter == 0 {
		cfg.KillAfter = cfg.Load.Duration / 3
	}
	if cfg.Load.Rate <= 0 {
		cfg.Load.Rate = 50
	}
	if cfg.Degraded == 0 {
		cfg.Degraded = 500 * time.Millisecond
	}
	cfg.Load.Concurrency = max(cfg.Load.Concurrency, int(cfg.Load.Rate*cfg.SIP.CallTimeout.Seconds()*2))
	e, err := setUpSIP(ctx, &cfg.Common, &cfg.SIP, true)
	if err != nil {
		return nil, err
	}
	defer e.close()
	victim := len(e.cl.Nodes) - 1
	e.proxies = e.proxies[:victim] // calls enter through the survivors
	res := newResult("failover", cfg)
	start := time.Now()
	ringing := NewRecorder("INVITE→180", start)
	answered := NewRecorder("INVITE→200 (call)", start)
	var mu sync.Mutex
	var calls []callRecord
	var killedAt time.Time
	killed := make(chan error, 1)
	time.AfterFunc(cfg.KillAfter, func() {
		mu.Lock()
		killedAt = time.Now()
		mu.Unlock()
		killed <- e.cl.Kill(victim)
	})
	hunt := &HuntConfig{Common: cfg.Common, SIP: cfg.SIP}
	elapsed := drive(ctx, cfg.Load, start, []*Recorder{answered, ringing}, func(ctx context.Context, i int, due time.Time) {
		ct, err := e.groupCall(ctx, hunt, i)
		recordCall(ringing, answered, due, ct, err)
		end := time.Now()
		mu.Lock()
		calls = append(calls, callRecord{start: due, end: end, ok: err == nil && end.Sub(due) <= cfg.Degraded})
		mu.Unlock()
	})
	if err := <-killed; err != nil {
		return nil, err
	}
	cfg.afterRun(ctx, e.cl)
	res.Seconds = elapsed.Seconds()
	res.Metrics = append(res.Metrics, answered.Metric(elapsed), ringing.Metric(elapsed))
	fo, hit := failoverTime(calls, killedAt)
	res.Figures = append(res.Figures,
		Figure{Name: "failover time (kill → end of the last failed or stalled call)", Value: fo.Seconds(), Unit: "s"},
		Figure{Name: "calls failed or stalled after the kill", Value: float64(hit), Unit: "calls"})
	mode := "SIGKILL of a child process"
	if !cfg.Cluster.Procs {
		mode = "shutdown of an in-process node (graceful: grains are handed over; use --procs for a crash)"
	}
	res.Notes = append(res.Notes, fmt.Sprintf("node %s killed %.1fs into the window by %s", e.cl.Nodes[victim].Name, cfg.KillAfter.Seconds(), mode))
	return res, nil
}

// failoverTime is the time from kill to the end of the last bad call
// started after it, and how many such calls there were.
func failoverTime(calls []callRecord, kill time.Time) (time.Duration, int) {
	var worst time.Duration
	hit := 0
	for _, c := range calls {
		if !c.ok && !c.start.Before(kill) {
			hit++
			worst = max(worst, c.end.Sub(kill))
		}
	}
	return worst, hit
}
