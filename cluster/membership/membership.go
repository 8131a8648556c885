package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrClosed is returned by SetMeta and Leave after Shutdown.
var ErrClosed = errors.New("membership: closed")

// defaultBroadcastTimeout bounds SetMeta and Leave when their context has
// no deadline.
const defaultBroadcastTimeout = 2 * time.Second

// Membership is this node's view of the cluster, kept by hashicorp/memberlist.
// It is safe for concurrent use.
type Membership struct {
	cfg    Config
	logger *slog.Logger
	ml     *memberlist.Memberlist
	d      *delegate

	stopRejoin     chan struct{}
	stopRejoinOnce sync.Once
	done           chan struct{}
	wg             sync.WaitGroup

	lifeMu sync.Mutex // serialises SetMeta, Leave and Shutdown
	closed bool

	subMu   sync.Mutex
	subs    map[int]func([]Member)
	nextSub int
}

// Start binds the gossip listeners, joins the seeds it can reach, and keeps
// re-joining them every RejoinInterval. Unreachable seeds are not an error:
// the first node of a cluster has no one to join, and the others may come
// up later.
func Start(ctx context.Context, cfg Config) (*Membership, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	encoded, err := EncodeMeta(cfg.Meta)
	if err != nil {
		return nil, err // unreachable: Validate encoded it
	}
	logger := cfg.Logger.With("component", "membership", "node", cfg.NodeName)
	d := newDelegate(logger, cfg.Meta, encoded)
	ml, err := memberlist.Create(cfg.memberlistConfig(d))
	if err != nil {
		return nil, fmt.Errorf("membership: start gossip on %s: %w", cfg.BindAddr, err)
	}
	m := &Membership{
		cfg:        cfg,
		logger:     logger,
		ml:         ml,
		d:          d,
		stopRejoin: make(chan struct{}),
		done:       make(chan struct{}),
		subs:       make(map[int]func([]Member)),
	}
	logger.Info("membership: gossip started", "addr", m.LocalAddr(), "seeds", cfg.Seeds)
	m.joinSeeds(ctx, slog.LevelWarn)
	m.wg.Add(2)
	go m.notifyLoop()
	go m.rejoinLoop()
	return m, nil
}

// Name returns the local node name.
func (m *Membership) Name() string { return m.cfg.NodeName }

// LocalAddr returns the gossip address other nodes reach this one at
// (the real port when BindAddr had port 0).
func (m *Membership) LocalAddr() string {
	if self, ok := m.d.member(m.cfg.NodeName); ok {
		return self.Addr
	}
	return m.cfg.BindAddr // unreachable: memberlist reports itself on Create
}

// Members returns every known member, this node included, sorted by name.
// Left and failed members stay listed for a few minutes.
func (m *Membership) Members() []Member {
	return m.d.snapshot(time.Now())
}

// Subscribe calls fn with the full member list (as Members returns it) soon
// after subscribing and after every change. Calls come from one goroutine,
// one at a time, in order; fn must not block for long. It may call SetMeta
// (which fails with ErrClosed once Shutdown has begun). The returned function unsubscribes; fn may still be running when
// it returns.
func (m *Membership) Subscribe(fn func([]Member)) (unsubscribe func()) {
	m.subMu.Lock()
	id := m.nextSub
	m.nextSub++
	m.subs[id] = fn
	m.subMu.Unlock()
	m.d.signal()
	return func() {
		m.subMu.Lock()
		delete(m.subs, id)
		m.subMu.Unlock()
	}
}

// SetMeta replaces this node's metadata and gossips it. It fails with
// ErrMetaTooLarge before changing anything when meta does not fit. An error
// after that means the update was not confirmed sent before ctx ended; it
// still spreads with the next state sync.
func (m *Membership) SetMeta(ctx context.Context, meta Meta) error {
	encoded, err := EncodeMeta(meta)
	if err != nil {
		return err
	}
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	if m.closed {
		return ErrClosed
	}
	return m.setMetaLocked(ctx, meta, encoded)
}

// UpdateMeta changes this node's metadata with fn, atomically with
// respect to other SetMeta and UpdateMeta calls, and gossips it. Use it
// instead of Meta+SetMeta when several parts of the node own different
// fields (the actor provider, Raft peer management).
func (m *Membership) UpdateMeta(ctx context.Context, fn func(*Meta)) error {
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	if m.closed {
		return ErrClosed
	}
	meta := m.d.localMeta()
	fn(&meta)
	encoded, err := EncodeMeta(meta)
	if err != nil {
		return err
	}
	return m.setMetaLocked(ctx, meta, encoded)
}

// Meta returns this node's current metadata.
func (m *Membership) Meta() Meta { return m.d.localMeta() }

func (m *Membership) setMetaLocked(ctx context.Context, meta Meta, encoded []byte) error {
	m.d.setLocalMeta(m.cfg.NodeName, meta, encoded)
	if err := m.ml.UpdateNode(broadcastTimeout(ctx)); err != nil {
		return fmt.Errorf("membership: gossip metadata update: %w", err)
	}
	return nil
}

// Leave stops re-joining the seeds and tells the cluster this node is
// leaving, waiting until the news is sent or ctx ends. Call Shutdown after.
func (m *Membership) Leave(ctx context.Context) error {
	m.stopRejoinOnce.Do(func() { close(m.stopRejoin) })
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	if m.closed {
		return ErrClosed
	}
	// Announce the intent first, so that the others report "left", not
	// "failed" (see Meta.Leaving). A failure here only costs that.
	meta := m.d.localMeta()
	meta.Leaving = true
	if encoded, err := EncodeMeta(meta); err != nil {
		m.logger.Warn("membership: cannot announce leave intent", "error", err)
	} else if err := m.setMetaLocked(ctx, meta, encoded); err != nil {
		m.logger.Warn("membership: leave intent not confirmed sent", "error", err)
	}
	if err := m.ml.Leave(broadcastTimeout(ctx)); err != nil {
		return fmt.Errorf("membership: leave: %w", err)
	}
	m.logger.Info("membership: left the cluster")
	return nil
}

// Shutdown stops gossip and waits for this package's goroutines. Without a
// Leave first, the others see this node fail. It is safe to call more than
// once.
func (m *Membership) Shutdown() error {
	m.lifeMu.Lock()
	if m.closed {
		m.lifeMu.Unlock()
		return nil
	}
	m.closed = true
	m.lifeMu.Unlock()
	// Not holding lifeMu from here on: a subscriber running in notifyLoop
	// may be inside SetMeta, which returns ErrClosed now.
	m.stopRejoinOnce.Do(func() { close(m.stopRejoin) })
	close(m.done)
	m.wg.Wait()
	if err := m.ml.Shutdown(); err != nil {
		return fmt.Errorf("membership: shutdown: %w", err)
	}
	m.logger.Info("membership: gossip stopped")
	return nil
}

func broadcastTimeout(ctx context.Context) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return max(time.Until(deadline), time.Millisecond)
	}
	return defaultBroadcastTimeout
}

// notifyLoop publishes the member list to subscribers after changes.
func (m *Membership) notifyLoop() {
	defer m.wg.Done()
	for {
		select {
		case <-m.done:
			return
		case <-m.d.changed:
			m.publish()
		}
	}
}

func (m *Membership) publish() {
	m.subMu.Lock()
	subs := make([]func([]Member), 0, len(m.subs))
	for _, fn := range m.subs {
		subs = append(subs, fn)
	}
	m.subMu.Unlock()
	for _, fn := range subs {
		fn(m.Members())
	}
}

// rejoinLoop joins the seeds every RejoinInterval. memberlist never
// contacts a node it has declared dead again, so without this two halves
// of a healed partition would stay apart.
func (m *Membership) rejoinLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-m.stopRejoin:
			return
		case <-t.C:
			m.joinSeeds(context.Background(), slog.LevelDebug)
		}
	}
}

// joinSeeds joins every seed but ourselves. Failures are logged at
// failLevel, or at warning level when this node is alone.
func (m *Membership) joinSeeds(ctx context.Context, failLevel slog.Level) {
	seeds := m.otherSeeds()
	if len(seeds) == 0 || ctx.Err() != nil {
		return
	}
	n, err := m.ml.Join(seeds)
	if err == nil {
		m.logger.Debug("membership: joined seeds", "reached", n, "seeds", seeds)
		return
	}
	if m.aliveCount() <= 1 {
		failLevel = slog.LevelWarn
	}
	m.logger.Log(ctx, failLevel, "membership: no seed reachable", "seeds", seeds, "error", err)
}

// otherSeeds returns the seeds that are not this node's own address.
func (m *Membership) otherSeeds() []string {
	self := map[string]bool{m.LocalAddr(): true, m.cfg.BindAddr: true}
	if m.cfg.AdvertiseAddr != "" {
		self[m.cfg.AdvertiseAddr] = true
	}
	out := make([]string, 0, len(m.cfg.Seeds))
	for _, s := range m.cfg.Seeds {
		if !self[normalizeAddr(s)] {
			out = append(out, s)
		}
	}
	return out
}

func (m *Membership) aliveCount() int {
	n := 0
	for _, mem := range m.Members() {
		if mem.State == StateAlive {
			n++
		}
	}
	return n
}

// normalizeAddr writes IP:port addresses the way memberlist does, so that
// "[::1]:7946" and equivalent spellings compare equal; host names are
// returned unchanged.
func normalizeAddr(addr string) string {
	ip, port, err := splitIPPort(addr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(port))
}
