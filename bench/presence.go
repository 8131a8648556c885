package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// PresenceConfig configures the presence scenario: Watchers event
// streams (GET /v1/events, Server-Sent Events) spread over the nodes
// watch Targets users; the targets change their presence at Load.Rate
// changes per second (PUT /v1/users/{id}/presence, through the nodes in
// turn); every change is filtered by each watcher's rights and delivered
// to its stream. It measures change→watcher latency per delivery, the
// time until the last watcher has a change, and deliveries per second.
type PresenceConfig struct {
	Common
	// Watchers is how many event streams are open. Default 1000.
	Watchers int `json:"watchers"`
	// Viewers is how many distinct users the streams sign in as (stream
	// w is viewer w mod Viewers): each costs one argon2 sign-in per node.
	// Default min(Watchers, 100).
	Viewers int `json:"viewers"`
	// Targets is how many users change presence (stream w watches target
	// w mod Targets). Default 1: one change reaches every watcher.
	Targets int `json:"targets"`
	// Drain bounds the wait for late deliveries after the window;
	// deliveries still missing then count as errors ("lost"). Default 5s.
	Drain time.Duration `json:"drain"`
	// Floor, after ucgrid's run, runs the SSE floor (ssefloor.go) in a
	// child process with the same streams, event bytes and rate, and
	// reports both servers' CPU per delivery and their ratio. It needs
	// an embedded cluster of child processes (Cluster.Procs), so that
	// the nodes' CPU is measured apart from the harness's.
	Floor bool `json:"floor"`
	// FloorExec is the command that runs the floor (it must print
	// "sse-floor listening on HOST:PORT" and serve until SIGTERM).
	// Default: this executable with the arguments "bench sse-floor".
	FloorExec []string `json:"-"`
}

// WithDefaults returns a copy of c with every zero field set to its
// documented default, Common's included; Load.Rate defaults to 10
// changes/s, and the directory has a signed-in user per target and
// viewer.
func (c PresenceConfig) WithDefaults() PresenceConfig {
	c.Common = c.Common.WithDefaults()
	if c.Watchers == 0 {
		c.Watchers = 1000
	}
	if c.Viewers == 0 {
		c.Viewers = min(c.Watchers, 100)
	}
	if c.Targets == 0 {
		c.Targets = 1
	}
	if c.Drain == 0 {
		c.Drain = 5 * time.Second
	}
	if c.Load.Rate <= 0 {
		c.Load.Rate = 10
	}
	c.Directory.Users = max(c.Directory.Users, c.Targets+c.Viewers)
	c.Directory.SignIns = c.Targets + c.Viewers
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c PresenceConfig) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Watchers < 1:
		return invalidConfig("PresenceConfig.Watchers", "%d, must be at least 1", c.Watchers)
	case c.Viewers > c.Watchers:
		return invalidConfig("PresenceConfig.Viewers", "%d exceeds Watchers (%d)", c.Viewers, c.Watchers)
	case c.Viewers < 1:
		return invalidConfig("PresenceConfig.Viewers", "%d, must be at least 1", c.Viewers)
	case c.Targets < 1:
		return invalidConfig("PresenceConfig.Targets", "%d, must be at least 1", c.Targets)
	case c.Drain < 0:
		return invalidConfig("PresenceConfig.Drain", "%v is negative", c.Drain)
	case c.Floor && (!c.Cluster.Procs || len(c.Cluster.Target) > 0):
		return errors.New("bench: PresenceConfig.Floor needs an embedded cluster of child processes (Cluster.Procs): its CPU is measured apart from the harness's")
	}
	return c.Common.Validate()
}

// changeLog remembers when each change was sent and how many watchers
// have it.
type changeLog struct {
	sent      []atomic.Int64 // unix nanoseconds; 0 = not sent
	delivered []atomic.Int64
	expected  []int64 // watchers of change i's target
	perChange *Recorder
	delivery  *Recorder
	// sample is the data line of one delivered presence event, as the
	// server wrote it: the floor writes events of the same bytes.
	sample atomic.Pointer[[]byte]
}

func (l *changeLog) deliver(i int, now time.Time) {
	if i < 0 || i >= len(l.sent) {
		return
	}
	sent := l.sent[i].Load()
	if sent == 0 {
		return
	}
	d := now.Sub(time.Unix(0, sent))
	l.delivery.Observe(now, d)
	if l.delivered[i].Add(1) == l.expected[i] {
		l.perChange.Observe(now, d)
	}
}

// sseServer is a server the presence scenario measures: ucgrid, or the
// SSE floor (ssefloor.go).
type sseServer struct {
	name  string // "ucgrid", "floor"
	label string // prefix of the metrics' names
	// changeOp names the request that makes a change.
	changeOp string
	// client is stream w's; the stream watches user target.
	client func(w int) *Client
	// change makes change i of target: the presence state and note that
	// every watcher of target must be sent.
	change func(ctx context.Context, i int, target, state, note string) error
	// cpu meters the server's CPU; nil = unknown.
	cpu func() (time.Duration, bool)
	// after runs after the window, with the streams still open.
	after func(ctx context.Context)
}

// sseMeasured is what one server's run measured.
type sseMeasured struct {
	metrics    []Metric
	sent       int
	deliveries uint64
	elapsed    time.Duration
	cpu        time.Duration // from the window's start to the end of the drain
	cpuOK      bool
	cpuSpan    time.Duration // the span cpu was measured over
	// idle is the server's CPU per second with the streams open and no
	// change (Raft, gossip, keep-alives), measured just before the
	// window.
	idle   float64
	sample []byte // a presence event's data line; nil if none arrived
}

// cpuPerDelivery is the server's CPU per delivery in microseconds.
func (m sseMeasured) cpuPerDelivery() float64 {
	return float64(m.cpu.Nanoseconds()) / 1000 / float64(max(m.deliveries, 1))
}

// busyCPUPerDelivery is cpuPerDelivery without the idle CPU of the
// span: what the deliveries themselves cost.
func (m sseMeasured) busyCPUPerDelivery() float64 {
	busy := float64(m.cpu.Nanoseconds()) - m.idle*float64(m.cpuSpan.Nanoseconds())
	return max(busy, 0) / 1000 / float64(max(m.deliveries, 1))
}

// idleSpan is how long the idle CPU is measured before the window.
const idleSpan = 2 * time.Second

// measureIdle returns the CPU per second (a fraction of one core) cpu
// reports over idleSpan; 0 without a meter.
func measureIdle(ctx context.Context, cpu func() (time.Duration, bool)) float64 {
	c0, ok := meterCPU(cpu)
	if !ok {
		return 0
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return 0
	case <-time.After(idleSpan):
	}
	c1, ok := meterCPU(cpu)
	if !ok {
		return 0
	}
	return float64(c1-c0) / float64(time.Since(t0))
}

// RunPresence runs the presence scenario.
func RunPresence(ctx context.Context, cfg PresenceConfig) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cl, err := cfg.setUp(ctx)
	if err != nil {
		return nil, err
	}
	stopCluster := sync.OnceFunc(cl.Stop)
	defer stopCluster()
	d := &cfg.Directory
	viewer := func(w int) int { return cfg.Targets + w%cfg.Viewers }
	cfg.logf("signing in %d viewers and %d targets on %d node(s)", cfg.Viewers, cfg.Targets, len(cl.Nodes))
	clients, err := signInUsers(ctx, cl, d, cfg.Targets+cfg.Viewers)
	if err != nil {
		return nil, err
	}
	target := map[string]int{}
	for t := range cfg.Targets {
		target[d.UserID(t)] = t
	}
	ucgrid := sseServer{
		name: "ucgrid", changeOp: "PUT presence",
		client: func(w int) *Client { return clients[viewer(w)][w%len(cl.Nodes)] },
		change: func(ctx context.Context, i int, user, state, note string) error {
			body := map[string]any{"state": state, "note": note}
			return clients[target[user]][i%len(cl.Nodes)].Do(ctx, http.MethodPut, "/v1/users/"+user+"/presence", body, nil)
		},
		cpu:   cl.serverCPU(0),
		after: func(ctx context.Context) { cfg.afterRun(ctx, cl) },
	}
	res := newResult("presence", cfg)
	m, err := cfg.measure(ctx, ucgrid)
	if err != nil {
		return nil, err
	}
	res.Seconds = m.elapsed.Seconds()
	res.Metrics = m.metrics
	res.Notes = append(res.Notes, fmt.Sprintf("%d changes sent to %d streams on %d node(s); %d viewers", m.sent, cfg.Watchers, len(cl.Nodes), cfg.Viewers))
	if m.cpuOK && cfg.Cluster.Procs {
		res.Figures = append(res.Figures,
			Figure{Name: "ucgrid CPU per delivery", Value: m.cpuPerDelivery(), Unit: "µs"},
			Figure{Name: "ucgrid idle CPU (streams open, no change)", Value: 100 * m.idle, Unit: "% of a core"},
			Figure{Name: "ucgrid CPU per delivery, idle CPU taken out", Value: m.busyCPUPerDelivery(), Unit: "µs"})
	}
	if !cfg.Floor {
		return res, nil
	}
	stopCluster() // the floor has the machine to itself
	if err := cfg.compareFloor(ctx, res, m); err != nil {
		return nil, err
	}
	return res, nil
}

// measure opens cfg.Watchers streams to srv, makes the changes at the
// load's rate and measures their deliveries and srv's CPU.
func (cfg *PresenceConfig) measure(ctx context.Context, srv sseServer) (sseMeasured, error) {
	d := &cfg.Directory
	maxChanges := int(cfg.Load.Rate*cfg.Load.Duration.Seconds()) + 16
	log := &changeLog{sent: make([]atomic.Int64, maxChanges), delivered: make([]atomic.Int64, maxChanges),
		expected: make([]int64, maxChanges)}
	for i := range log.expected {
		t := i % cfg.Targets
		log.expected[i] = int64(cfg.Watchers / cfg.Targets)
		if t < cfg.Watchers%cfg.Targets {
			log.expected[i]++
		}
	}
	streamCtx, stopStreams := context.WithCancel(ctx)
	var streams sync.WaitGroup
	defer func() {
		stopStreams()
		streams.Wait()
	}()
	cfg.logf("%s: opening %d event streams", srv.name, cfg.Watchers)
	var ready, failed atomic.Int64
	var streamErr atomic.Value
	for w := range cfg.Watchers {
		c := srv.client(w)
		streams.Go(func() {
			err := watch(streamCtx, c, d.UserID(w%cfg.Targets), &ready, log)
			if err != nil && streamCtx.Err() == nil {
				failed.Add(1)
				streamErr.Store(err)
			}
		})
	}
	err := poll(ctx, 5*time.Minute, 20*time.Millisecond, func() error {
		if f := failed.Load(); f > 0 {
			return fmt.Errorf("%w: %d streams failed, last: %v", errStop, f, streamErr.Load())
		}
		if r := ready.Load(); r < int64(cfg.Watchers) {
			return fmt.Errorf("%d of %d streams ready", r, cfg.Watchers)
		}
		return nil
	})
	if err != nil {
		return sseMeasured{}, fmt.Errorf("bench: open streams: %w", err)
	}
	idle := measureIdle(ctx, srv.cpu)
	start := time.Now()
	log.delivery = NewRecorder(srv.label+"delivery (change→watcher)", start)
	log.perChange = NewRecorder(srv.label+"change→last watcher", start)
	put := NewRecorder(srv.label+srv.changeOp, start)
	states := []string{"available", "busy"}
	load := cfg.Load
	load.Concurrency = max(load.Concurrency, 1)
	cpu0, _ := meterCPU(srv.cpu)
	elapsed := drive(ctx, load, start, []*Recorder{log.delivery, log.perChange, put}, func(ctx context.Context, i int, due time.Time) {
		if i >= maxChanges {
			return
		}
		t := i % cfg.Targets
		log.sent[i].Store(time.Now().UnixNano())
		err := srv.change(ctx, i, d.UserID(t), states[(i/cfg.Targets)%2], "c"+strconv.Itoa(i))
		observe(put, due, err)
	})
	m := sseMeasured{elapsed: elapsed, idle: idle}
	var want int64
	for i := range log.sent {
		if log.sent[i].Load() != 0 {
			m.sent++
			want += log.expected[i]
		}
	}
	// Late deliveries: wait until every stream has every change, or Drain.
	_ = poll(ctx, cfg.Drain, 10*time.Millisecond, func() error { // missing ones are counted below
		if got, _ := log.delivery.Counts(); int64(got) < want {
			return errors.New("deliveries missing")
		}
		return nil
	})
	if cpu1, ok := meterCPU(srv.cpu); ok {
		m.cpu, m.cpuOK, m.cpuSpan = cpu1-cpu0, true, time.Since(start)
	}
	m.deliveries, _ = log.delivery.Counts()
	for range want - int64(m.deliveries) {
		log.delivery.Fail(time.Now(), "lost")
	}
	if srv.after != nil {
		srv.after(ctx)
	}
	if s := log.sample.Load(); s != nil {
		m.sample = *s
	}
	m.metrics = []Metric{log.delivery.Metric(elapsed), log.perChange.Metric(elapsed), put.Metric(elapsed)}
	return m, nil
}

// meterCPU reads a CPU meter; false when there is none.
func meterCPU(cpu func() (time.Duration, bool)) (time.Duration, bool) {
	if cpu == nil {
		return 0, false
	}
	return cpu()
}

// signInUsers signs the first n generated users in on every node:
// clients[user][node].
func signInUsers(ctx context.Context, cl *Cluster, d *DirectoryConfig, n int) ([][]*Client, error) {
	clients := make([][]*Client, n)
	var steps []func() error
	for u := range n {
		clients[u] = make([]*Client, len(cl.Nodes))
		for k, node := range cl.Nodes {
			c := NewClient(node.URL)
			clients[u][k] = c
			steps = append(steps, func() error { return c.SignIn(ctx, d.UserID(u), d.UserPassword(u)) })
		}
	}
	if err := runParallel(ctx, 8, steps, nil); err != nil {
		return nil, fmt.Errorf("bench: sign in: %w", err)
	}
	return clients, nil
}

var (
	eventPrefix = []byte("event: ")
	dataPrefix  = []byte("data: ")
	notePrefix  = []byte(`"note":"c`)
)

// watch opens an event stream of target and hands every presence event
// that carries a change number to log, until ctx ends.
func watch(ctx context.Context, c *Client, target string, ready *atomic.Int64, log *changeLog) error {
	q := url.Values{"user": {target}, "monitor": {"false"}, "access_token": {c.Token()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/v1/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Method: "GET", Path: "/v1/events", Code: resp.StatusCode}
	}
	r := bufio.NewReaderSize(resp.Body, 4096)
	var event []byte
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		switch {
		case bytes.HasPrefix(line, eventPrefix):
			event = append(event[:0], bytes.TrimSpace(line[len(eventPrefix):])...)
		case bytes.HasPrefix(line, dataPrefix):
			switch string(event) {
			case "ready":
				ready.Add(1)
			case "end":
				return fmt.Errorf("bench: stream ended: %s", bytes.TrimSpace(line))
			case "presence":
				if i := changeNumber(line); i >= 0 && log.delivery != nil {
					log.deliver(i, time.Now())
					if log.sample.Load() == nil {
						sample := bytes.Clone(line)
						log.sample.CompareAndSwap(nil, &sample)
					}
				}
			}
		}
	}
}

// changeNumber reads the change number from a presence event's note
// ("c123"), -1 when there is none.
func changeNumber(data []byte) int {
	k := bytes.Index(data, notePrefix)
	if k < 0 {
		return -1
	}
	rest := data[k+len(notePrefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return -1
	}
	n, err := strconv.Atoi(string(rest[:end]))
	if err != nil {
		return -1
	}
	return n
}
