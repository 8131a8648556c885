package bench

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// FailoverConfig configures the failover scenario: calls from a trunk
// into the call groups at Load.Rate through the nodes that stay up; after
// KillAfter the victim is killed (SIGKILL with Procs: no leave, no
// hand-over). The victim is the node that hosts the most group grains
// after a warm-up call to every group (the last node when none says);
// the group grains it hosted must be activated elsewhere.
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

// WithDefaults returns a copy of c with every zero field set to its
// documented default, Common's and SIP's included; Load.Rate defaults to
// 50 calls/s, and Load.Concurrency is raised to twice the calls that can
// be waiting for their answer (Rate × SIP.CallTimeout).
func (c FailoverConfig) WithDefaults() FailoverConfig {
	c.Common = c.Common.WithDefaults()
	c.SIP = c.SIP.WithDefaults()
	if c.KillAfter == 0 {
		c.KillAfter = c.Load.Duration / 3
	}
	if c.Load.Rate <= 0 {
		c.Load.Rate = 50
	}
	if c.Degraded == 0 {
		c.Degraded = 500 * time.Millisecond
	}
	c.Load.Concurrency = max(c.Load.Concurrency, int(c.Load.Rate*c.SIP.CallTimeout.Seconds()*2))
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c FailoverConfig) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Cluster.Nodes < 2 || len(c.Cluster.Target) > 0:
		return errors.New("bench: failover needs an embedded cluster of ≥ 2 nodes (ClusterConfig.Nodes)")
	case c.Directory.Groups < 1:
		return errors.New("bench: failover needs DirectoryConfig.Groups ≥ 1")
	case c.KillAfter < 0:
		return invalidConfig("FailoverConfig.KillAfter", "%v is negative", c.KillAfter)
	case c.Degraded < 0:
		return invalidConfig("FailoverConfig.Degraded", "%v is negative", c.Degraded)
	}
	if err := c.SIP.Validate(); err != nil {
		return err
	}
	return c.Common.Validate()
}

// RunFailover runs the failover scenario.
func RunFailover(ctx context.Context, cfg FailoverConfig) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e, err := setUpSIP(ctx, &cfg.Common, &cfg.SIP, true)
	if err != nil {
		return nil, err
	}
	defer e.close()
	hunt := &HuntConfig{Common: cfg.Common, SIP: cfg.SIP}
	victim, hosted := e.groupHost(ctx, hunt)
	survivors := append(e.proxies[:victim:victim], e.proxies[victim+1:]...)
	e.proxies = survivors // calls enter through the survivors
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
		Figure{Name: "calls failed or stalled after the kill", Value: float64(hit), Unit: "calls"},
		Figure{Name: "group grains on the killed node", Value: float64(hosted), Unit: "grains"})
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

// groupHost calls every group once, so that every
// group grain is active, and returns the node hosting the most group
// grains and how many (the last node and -1 when the status says
// nothing).
func (e *sipEnv) groupHost(ctx context.Context, cfg *HuntConfig) (int, int) {
	for g := range cfg.Directory.Groups {
		// A warm-up call that fails only leaves its grain inactive.
		_, _ = e.groupCall(ctx, cfg, g)
	}
	var st clusterStatus
	if err := e.cl.Nodes[0].API.Do(ctx, "GET", "/v1/cluster", nil, &st); err != nil {
		return len(e.cl.Nodes) - 1, -1
	}
	best, most := len(e.cl.Nodes)-1, -1
	for i, n := range e.cl.Nodes {
		if c, ok := st.Grains[n.Name]["group"]; ok && c > most {
			best, most = i, c
		}
	}
	return best, most
}

// clusterStatus is the part of GET /v1/cluster the scenarios read.
type clusterStatus struct {
	Members []struct {
		Node       string `json:"node"`
		State      string `json:"state"`
		InTopology bool   `json:"in_topology"`
	} `json:"members"`
	Raft struct {
		Leader string   `json:"leader"`
		Voters []string `json:"voters"`
	} `json:"raft"`
	Grains map[string]map[string]int `json:"grains"`
}

// RollingConfig configures the rolling-restart scenario: calls from a
// trunk into the call groups at Load.Rate through every node, by callers
// that know every node (RFC 3263: a 503 or silence sends the call to the
// next node, and it counts as one call), while each node in turn is
// stopped gracefully (SIGTERM with Procs; it must exit 0), started again
// on its data and waited for until it is back in the cluster (alive, in
// the actor topology, every Raft voter back). A graceful leave should
// lose no call: the leaving node refuses new calls with 503 and lets
// those under way end.
type RollingConfig struct {
	Common
	SIP SIPConfig `json:"sip"`
	// Settle is how long the load runs before the first restart and
	// after the last one. Default 1s.
	Settle time.Duration `json:"settle"`
	// StopTimeout bounds a node's graceful stop (SIGTERM to exit).
	// Default 20s (serve drains for at most 10 s).
	StopTimeout time.Duration `json:"stop_timeout"`
	// BackTimeout bounds the wait for a restarted node to be back in the
	// cluster. Default 60s.
	BackTimeout time.Duration `json:"back_timeout"`
}

// RunRollingRestart runs the rolling-restart scenario. The window is the
// restarts and the settling around them; Load.Duration is ignored.
func RunRollingRestart(ctx context.Context, cfg RollingConfig) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e, err := setUpSIP(ctx, &cfg.Common, &cfg.SIP, true)
	if err != nil {
		return nil, err
	}
	defer e.close()
	res := newResult("rolling", cfg)
	start := time.Now()
	ringing := NewRecorder("INVITE→180", start)
	answered := NewRecorder("INVITE→200 (call)", start)
	var retried, calls atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	window := make(chan time.Duration, 1)
	go func() {
		window <- drive(loadCtx, cfg.Load, start, []*Recorder{answered, ringing}, func(ctx context.Context, i int, due time.Time) {
			ct, tries, err := e.anyNodeCall(ctx, &cfg.SIP, &cfg.Directory, i)
			calls.Add(1)
			if tries > 1 {
				retried.Add(1)
			}
			recordCall(ringing, answered, due, ct, err)
		})
	}()
	steps, rollErr := e.roll(loadCtx, &cfg)
	stopLoad()
	elapsed := <-window
	if rollErr != nil {
		return nil, rollErr
	}
	cfg.afterRun(ctx, e.cl)
	res.Seconds = elapsed.Seconds()
	res.Metrics = append(res.Metrics, answered.Metric(elapsed), ringing.Metric(elapsed))
	res.Figures = append(res.Figures,
		Figure{Name: "calls placed", Value: float64(calls.Load()), Unit: "calls"},
		Figure{Name: "calls that went on to another node (503 or no response)", Value: float64(retried.Load()), Unit: "calls"})
	res.Figures = append(res.Figures, steps...)
	return res, nil
}

// WithDefaults returns a copy of c with every zero field set to its
// documented default, Common's and SIP's included; Load.Rate defaults to
// 15 calls/s, Load.Duration is an hour (the restarts end the window, this
// only bounds it), and Load.Concurrency is raised to twice the calls that
// can be waiting for their answer (Rate × SIP.CallTimeout).
func (c RollingConfig) WithDefaults() RollingConfig {
	c.Common = c.Common.WithDefaults()
	c.SIP = c.SIP.WithDefaults()
	if c.Load.Rate <= 0 {
		c.Load.Rate = 15
	}
	if c.Settle == 0 {
		c.Settle = time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 20 * time.Second
	}
	if c.BackTimeout == 0 {
		c.BackTimeout = 60 * time.Second
	}
	c.Load.Duration = time.Hour
	c.Load.Concurrency = max(c.Load.Concurrency, int(c.Load.Rate*c.SIP.CallTimeout.Seconds()*2))
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c RollingConfig) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Cluster.Nodes < 2 || !c.Cluster.Procs || len(c.Cluster.Target) > 0:
		return errors.New("bench: rolling needs an embedded cluster of ≥ 2 child processes (ClusterConfig.Nodes, Procs)")
	case c.Directory.Groups < 1:
		return errors.New("bench: rolling needs DirectoryConfig.Groups ≥ 1")
	case c.Settle < 0:
		return invalidConfig("RollingConfig.Settle", "%v is negative", c.Settle)
	case c.StopTimeout < 0:
		return invalidConfig("RollingConfig.StopTimeout", "%v is negative", c.StopTimeout)
	case c.BackTimeout < 0:
		return invalidConfig("RollingConfig.BackTimeout", "%v is negative", c.BackTimeout)
	}
	if err := c.SIP.Validate(); err != nil {
		return err
	}
	return c.Common.Validate()
}

// roll restarts every node in turn while the load runs (ctx ends with
// the load) and returns how long each took to stop and to be back.
func (e *sipEnv) roll(ctx context.Context, cfg *RollingConfig) ([]Figure, error) {
	var figs []Figure
	if err := settle(ctx, cfg.Settle); err != nil {
		return nil, err
	}
	for i, n := range e.cl.Nodes {
		busy := n.activeCalls(ctx, 10*time.Second)
		stopped, err := e.cl.Terminate(i, cfg.StopTimeout)
		if err != nil {
			return nil, err
		}
		begin := time.Now()
		if err := e.cl.startNode(ctx, n, true); err != nil {
			return nil, err
		}
		if err := e.cl.waitBack(ctx, cfg.BackTimeout); err != nil {
			return nil, fmt.Errorf("bench: node %s restarted: %w", n.Name, err)
		}
		back := time.Since(begin)
		cfg.logf("node %s: %d calls on it at SIGTERM, stopped in %.2fs, back in the cluster %.2fs after its start",
			n.Name, busy, stopped.Seconds(), back.Seconds())
		figs = append(figs, Figure{Name: "node " + n.Name + ": calls on it at SIGTERM", Value: float64(busy), Unit: "calls"},
			Figure{Name: "node " + n.Name + ": SIGTERM → exit 0", Value: stopped.Seconds(), Unit: "s"},
			Figure{Name: "node " + n.Name + ": start → back in the cluster", Value: back.Seconds(), Unit: "s"})
	}
	return figs, settle(ctx, cfg.Settle)
}

var activeCallsLine = regexp.MustCompile(`(?m)^ucgrid_sip_calls_active (\S+)$`)

// activeCalls waits, at most timeout, until node n holds a call (so that
// its stop has calls to drain) and returns how many it holds (0 when it
// got none in time or its metrics did not answer).
func (n *Node) activeCalls(ctx context.Context, timeout time.Duration) int {
	held := 0
	// The wait ends at the deadline either way: an idle node is stopped too.
	_ = poll(ctx, timeout, 5*time.Millisecond, func() error {
		text, err := n.Scrape(ctx)
		if err != nil {
			return err
		}
		if m := activeCallsLine.FindStringSubmatch(text); m != nil {
			if v, perr := strconv.ParseFloat(m[1], 64); perr == nil {
				held = int(v)
			}
		}
		if held == 0 {
			return errors.New("no call on the node")
		}
		return nil
	})
	return held
}

// settle lets the load run for d.
func settle(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d): // a stretch of the measured window, not a wait for a result
		return nil
	}
}

// Terminate stops child-process node i gracefully (SIGTERM) and waits
// until it exits, at most timeout; an exit code other than 0 is an error.
// It returns how long the stop took.
func (c *Cluster) Terminate(i int, timeout time.Duration) (time.Duration, error) {
	n := c.Nodes[i]
	if n.cmd == nil {
		return 0, fmt.Errorf("bench: node %s is no child process of ours", n.Name)
	}
	begin := time.Now()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, fmt.Errorf("bench: stop %s: %w", n.Name, err)
	}
	select {
	case <-n.exited:
	case <-time.After(timeout):
		return 0, fmt.Errorf("bench: node %s did not exit within %v of SIGTERM", n.Name, timeout)
	}
	took := time.Since(begin)
	if code := n.cmd.ProcessState.ExitCode(); code != 0 {
		return took, fmt.Errorf("bench: node %s exited %d after SIGTERM", n.Name, code)
	}
	return took, nil
}

// waitBack waits until every node is alive and in the actor topology as
// node 0… see it, and the Raft configuration has its voters and a leader.
func (c *Cluster) waitBack(ctx context.Context, timeout time.Duration) error {
	want := min(len(c.Nodes), 3)
	return poll(ctx, timeout, 100*time.Millisecond, func() error {
		for _, n := range c.Nodes {
			var st clusterStatus
			if err := n.API.Do(ctx, "GET", "/v1/cluster", nil, &st); err != nil {
				return err
			}
			if err := st.formed(len(c.Nodes), want); err != nil {
				return fmt.Errorf("as %s sees it: %w", n.Name, err)
			}
		}
		return nil
	})
}

// formed says what is missing for a cluster of nodes with voters.
func (st *clusterStatus) formed(nodes, voters int) error {
	in := 0
	for _, m := range st.Members {
		if m.State == "alive" && m.InTopology {
			in++
		}
	}
	if in < nodes || len(st.Raft.Voters) < voters || st.Raft.Leader == "" {
		return fmt.Errorf("%d of %d nodes alive in the topology, %d voters, leader %q", in, nodes, len(st.Raft.Voters), st.Raft.Leader)
	}
	return nil
}
