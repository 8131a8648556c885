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
}

func (c *PresenceConfig) ensureDefaults() error {
	c.Common.ensureDefaults()
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
	if c.Viewers > c.Watchers || c.Targets < 1 {
		return errors.New("bench: PresenceConfig: Viewers must not exceed Watchers, Targets must be ≥ 1")
	}
	return nil
}

// changeLog remembers when each change was sent and how many watchers
// have it.
type changeLog struct {
	sent      []atomic.Int64 // unix nanoseconds; 0 = not sent
	delivered []atomic.Int64
	expected  []int64 // watchers of change i's target
	perChange *Recorder
	delivery  *Recorder
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

// RunPresence runs the presence scenario.
func RunPresence(ctx context.Context, cfg PresenceConfig) (*Result, error) {
	if err := cfg.ensureDefaults(); err != nil {
		return nil, err
	}
	cl, err := cfg.setUp(ctx)
	if err != nil {
		return nil, err
	}
	defer cl.Stop()
	d := &cfg.Directory
	viewer := func(w int) int { return cfg.Targets + w%cfg.Viewers }
	cfg.logf("signing in %d viewers and %d targets on %d node(s)", cfg.Viewers, cfg.Targets, len(cl.Nodes))
	clients, err := signInUsers(ctx, cl, d, cfg.Targets+cfg.Viewers)
	if err != nil {
		return nil, err
	}
	maxChanges := int(cfg.Load.Rate*cfg.Load.Duration.Seconds()) + 16
	start := time.Now().Add(time.Hour) // moved to the real start below
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
	defer stopStreams()
	cfg.logf("opening %d event streams", cfg.Watchers)
	var streams sync.WaitGroup
	var ready, failed atomic.Int64
	var streamErr atomic.Value
	for w := range cfg.Watchers {
		n := w % len(cl.Nodes)
		c := clients[viewer(w)][n]
		streams.Go(func() {
			err := watch(streamCtx, c, d.UserID(w%cfg.Targets), &ready, log)
			if err != nil && streamCtx.Err() == nil {
				failed.Add(1)
				streamErr.Store(err)
			}
		})
	}
	err = poll(ctx, 5*time.Minute, 20*time.Millisecond, func() error {
		if f := failed.Load(); f > 0 {
			return fmt.Errorf("%w: %d streams failed, last: %v", errStop, f, streamErr.Load())
		}
		if r := ready.Load(); r < int64(cfg.Watchers) {
			return fmt.Errorf("%d of %d streams ready", r, cfg.Watchers)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bench: open streams: %w", err)
	}
	res := newResult("presence", cfg)
	start = time.Now()
	log.delivery = NewRecorder("delivery (change→watcher)", start)
	log.perChange = NewRecorder("change→last watcher", start)
	put := NewRecorder("PUT presence", start)
	states := []string{"available", "busy"}
	cfg.Load.Concurrency = max(cfg.Load.Concurrency, 1)
	elapsed := drive(ctx, cfg.Load, start, []*Recorder{log.delivery, log.perChange, put}, func(ctx context.Context, i int, due time.Time) {
		if i >= maxChanges {
			return
		}
		t := i % cfg.Targets
		log.sent[i].Store(time.Now().UnixNano())
		body := map[string]any{"state": states[(i/cfg.Targets)%2], "note": "c" + strconv.Itoa(i)}
		err := clients[t][i%len(cl.Nodes)].Do(ctx, http.MethodPut, "/v1/users/"+d.UserID(t)+"/presence", body, nil)
		observe(put, due, err)
	})
	sent := 0
	for i := range log.sent {
		if log.sent[i].Load() != 0 {
			sent++
		}
	}
	var want int64
	for i := range sent {
		want += log.expected[i]
	}
	// Late deliveries: wait until every stream has every change, or Drain.
	_ = poll(ctx, cfg.Drain, 10*time.Millisecond, func() error { // missing ones are counted below
		if got, _ := log.delivery.Counts(); int64(got) < want {
			return errors.New("deliveries missing")
		}
		return nil
	})
	got, _ := log.delivery.Counts()
	for range want - int64(got) {
		log.delivery.Fail(time.Now(), "lost")
	}
	cfg.afterRun(ctx, cl)
	stopStreams()
	streams.Wait()
	res.Seconds = elapsed.Seconds()
	res.Metrics = append(res.Metrics, log.delivery.Metric(elapsed), log.perChange.Metric(elapsed), put.Metric(elapsed))
	res.Notes = append(res.Notes, fmt.Sprintf("%d changes sent to %d streams on %d node(s); %d viewers", sent, cfg.Watchers, len(cl.Nodes), cfg.Viewers))
	return res, nil
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
