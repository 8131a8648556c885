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
	ml     *memberlist.Memberlist // the cluster pool: every node
	d      *delegate

	// The site pool, with the nodes of this node's site only; nil
	// without a site (Config.Meta.Site ""). Its delegate shares d's
	// changed channel.
	siteML *memberlist.Memberlist
	siteD  *delegate

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
// up later. With Meta.Site set it also starts the site pool (see Config)
// and joins the nodes of its site that the cluster pool knows.
func Start(ctx context.Context, cfg Config) (*Membership, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger.With("component", "membership", "node", cfg.NodeName)
	m := &Membership{
		cfg:        cfg,
		logger:     logger,
		stopRejoin: make(chan struct{}),
		done:       make(chan struct{}),
		subs:       make(map[int]func([]Member)),
	}
	meta := cfg.Meta
	if meta.Site != "" {
		if err := m.startSitePool(); err != nil {
			return nil, err
		}
		meta.SiteGossipAddr = m.SiteAddr()
	}
	encoded, err := EncodeMeta(meta)
	if err != nil {
		m.shutdownSitePool()
		return nil, err // ErrMetaTooLarge: the site pool's address did not fit
	}
	m.d = newDelegate(logger, meta, encoded)
	if m.siteD != nil {
		m.d.changed = m.siteD.changed
		m.siteD.setLocalMeta(cfg.NodeName, meta, encoded)
		// memberlist copied the metadata of Create; nobody has joined the
		// site pool yet, so this returns at once.
		if err := m.siteML.UpdateNode(time.Second); err != nil {
			m.shutdownSitePool()
			return nil, fmt.Errorf("membership: site pool metadata: %w", err)
		}
	}
	m.ml, err = memberlist.Create(cfg.memberlistConfig(m.d))
	if err != nil {
		m.shutdownSitePool()
		return nil, fmt.Errorf("membership: start gossip on %s: %w", cfg.BindAddr, err)
	}
	logger.Info("membership: gossip started", "addr", m.LocalAddr(), "seeds", cfg.Seeds, "site", meta.Site, "site_addr", meta.SiteGossipAddr)
	m.joinSeeds(ctx, slog.LevelWarn)
	m.wg.Add(2)
	go m.notifyLoop()
	go m.rejoinLoop()
	return m, nil
}

// startSitePool creates the site pool, whose metadata is set once the
// cluster pool's delegate exists (before anyone can join it: its
// address is not yet published).
func (m *Membership) startSitePool() error {
	meta := m.cfg.Meta
	encoded, err := EncodeMeta(meta)
	if err != nil {
		return err
	}
	m.siteD = newDelegate(m.logger.With("pool", "site"), meta, encoded)
	m.siteML, err = memberlist.Create(m.cfg.siteMemberlistConfig(m.siteD))
	if err != nil {
		return fmt.Errorf("membership: start site gossip on %s (Config.SiteBindAddr; default gossip port + 1): %w", m.cfg.SiteBindAddr, err)
	}
	return nil
}

func (m *Membership) shutdownSitePool() {
	if m.siteML != nil {
		_ = m.siteML.Shutdown() // a failed Start: nothing to report it to
	}
}

// Site returns this node's site ("" without sites).
func (m *Membership) Site() string { return m.cfg.Meta.Site }

// SiteAddr returns the address of this node's site pool, or "" without a
// site.
func (m *Membership) SiteAddr() string {
	if m.siteML == nil {
		return ""
	}
	if self, ok := m.siteD.member(m.cfg.NodeName); ok {
		return self.Addr
	}
	n := m.siteML.LocalNode()
	return n.Address()
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
// Left and failed members stay listed for a few minutes. With a site, a
// member of this node's site has the state the site pool gives it, any
// other the state the cluster pool gives it; Addr is always the cluster
// pool address when known.
func (m *Membership) Members() []Member {
	now := time.Now()
	cluster := m.d.snapshot(now)
	if m.siteD == nil {
		return cluster
	}
	return mergePools(m.cfg.Meta.Site, cluster, m.siteD.snapshot(now))
}

// mergePools merges the cluster pool's and the site pool's members of a
// node of site.
func mergePools(site string, cluster, local []Member) []Member {
	inSite := make(map[string]Member, len(local))
	for _, mem := range local {
		inSite[mem.Name] = mem
	}
	out := make([]Member, 0, len(cluster)+len(local))
	for _, mem := range cluster {
		if l, ok := inSite[mem.Name]; ok {
			delete(inSite, mem.Name)
			if mem.MetaErr == nil && mem.Meta.Site == site {
				l.Addr = mem.Addr
				mem = l
			}
		}
		out = append(out, mem)
	}
	for _, l := range inSite { // not (or no longer) in the cluster pool
		out = append(out, l)
	}
	sortMembers(out)
	return out
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

// setMetaLocked sets and gossips meta in every pool. With a site, the
// site and the site pool's address are fixed at Start and kept.
func (m *Membership) setMetaLocked(ctx context.Context, meta Meta, encoded []byte) error {
	if m.siteML != nil && (meta.Site != m.cfg.Meta.Site || meta.SiteGossipAddr != m.SiteAddr()) {
		meta.Site, meta.SiteGossipAddr = m.cfg.Meta.Site, m.SiteAddr()
		var err error
		if encoded, err = EncodeMeta(meta); err != nil {
			return err
		}
	}
	m.d.setLocalMeta(m.cfg.NodeName, meta, encoded)
	if m.siteML != nil {
		m.siteD.setLocalMeta(m.cfg.NodeName, meta, encoded)
		if err := m.siteML.UpdateNode(broadcastTimeout(ctx)); err != nil {
			return fmt.Errorf("membership: gossip metadata update in the site: %w", err)
		}
	}
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
	if m.siteML != nil {
		if err := m.siteML.Leave(broadcastTimeout(ctx)); err != nil {
			return fmt.Errorf("membership: leave the site: %w", err)
		}
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
	var siteErr error
	if m.siteML != nil {
		siteErr = m.siteML.Shutdown()
	}
	if err := m.ml.Shutdown(); err != nil {
		return fmt.Errorf("membership: shutdown: %w", err)
	}
	if siteErr != nil {
		return fmt.Errorf("membership: shutdown of the site pool: %w", siteErr)
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

// joinSeeds joins every seed but ourselves, and with a site the site
// pools of the nodes of the site that the site pool does not see alive.
// Failures are logged at failLevel, or at warning level when this node is
// alone.
func (m *Membership) joinSeeds(ctx context.Context, failLevel slog.Level) {
	m.joinClusterSeeds(ctx, failLevel)
	m.joinSite(ctx)
}

func (m *Membership) joinClusterSeeds(ctx context.Context, failLevel slog.Level) {
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

// joinSite joins, in the site pool, the nodes of this node's site that
// the cluster pool sees alive and the site pool does not: at start, after
// a node of the site restarts, and after a partition inside the site
// heals. The cluster pool tells where their site pools are
// (Meta.SiteGossipAddr), so the operator lists seeds only once.
func (m *Membership) joinSite(ctx context.Context) {
	if m.siteML == nil || ctx.Err() != nil {
		return
	}
	aliveInSite := make(map[string]bool)
	for _, mem := range m.siteD.snapshot(time.Now()) {
		aliveInSite[mem.Name] = mem.State == StateAlive
	}
	var addrs []string
	for _, mem := range m.d.snapshot(time.Now()) {
		if mem.Name == m.cfg.NodeName || mem.State != StateAlive || mem.MetaErr != nil ||
			mem.Meta.Site != m.cfg.Meta.Site || mem.Meta.SiteGossipAddr == "" || aliveInSite[mem.Name] {
			continue
		}
		addrs = append(addrs, mem.Meta.SiteGossipAddr)
	}
	if len(addrs) == 0 {
		return
	}
	n, err := m.siteML.Join(addrs)
	if err != nil {
		m.logger.Debug("membership: site peers not reachable in the site pool", "peers", addrs, "reached", n, "error", err)
		return
	}
	m.logger.Debug("membership: joined site peers", "reached", n, "peers", addrs)
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
