package membership

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrInvalidConfig is wrapped by the errors of Config.Validate and Start
// that name a bad field ("membership: Config.<Field>: ...").
var ErrInvalidConfig = errors.New("membership: invalid config")

// Config configures a Membership. The zero value of every field but
// NodeName means "use the default" (see DefaultConfig); Start applies the
// defaults and then Validate.
//
// The failure-detection defaults are tuned for a LAN so that a crashed node
// is declared dead in about 1.5 s in a small cluster (docs/cluster.md works
// the numbers). memberlist's own DefaultLANConfig needs ~5 s, its
// DefaultLocalConfig ~6 s with three nodes.
type Config struct {
	// NodeName is the memberlist node name. Required and unique in the
	// cluster: memberlist defaults it to the hostname, so two nodes on one
	// host (or in one test) would otherwise collide.
	NodeName string

	// ClusterName is sent as the memberlist label on every packet and
	// stream; nodes with another label are ignored, so two clusters on one
	// LAN never merge by accident. Default "ucgrid". At most 255 bytes.
	ClusterName string

	// BindAddr is the IP:port gossip listens on, UDP and TCP. Port 0 picks
	// a free port (see Membership.LocalAddr). Default "127.0.0.1:7946":
	// like the HTTP default, a single node stays on loopback until told
	// otherwise.
	BindAddr string

	// AdvertiseAddr is the IP:port other nodes use to reach this one, when
	// it differs from BindAddr (NAT, 0.0.0.0 binds). Default: derived by
	// memberlist from BindAddr.
	AdvertiseAddr string

	// Seeds are host:port gossip addresses joined at start and re-joined
	// every RejoinInterval. This node's own address may be listed (it is
	// skipped), so every node can share one seed list. Default none: the
	// node starts a cluster of its own.
	Seeds []string

	// Meta is the initial node metadata; SetMeta changes it later. Its
	// encoding must fit in MaxMetaSize. Default: empty.
	Meta Meta

	// SecretKey, when set, encrypts gossip with AES (16, 24 or 32 bytes).
	// Default nil: plain gossip.
	SecretKey []byte

	// ProbeInterval is how often this node probes one random peer.
	// Default 150 ms (memberlist LAN: 1 s): failure detection time scales
	// with it, bandwidth is one small UDP ping per interval per node. With
	// 150 ms a dead node is declared in about 0.8–1 s, so calls to the
	// groups it hosted succeed again within the 2 s goal (bench failover).
	ProbeInterval time.Duration

	// ProbeTimeout is how long a direct probe waits for an ack before
	// indirect probes start. It should cover the 99th-percentile RTT plus
	// scheduling delay. Default 100 ms (LAN: 500 ms); a LAN RTT is well
	// under 1 ms. Must be shorter than ProbeInterval.
	ProbeTimeout time.Duration

	// SuspicionMult scales how long a node stays suspect, and so can
	// refute, before it is declared dead: SuspicionMult ×
	// max(1, log10(nodes)) × ProbeInterval. Default 4, i.e. 600 ms below
	// ten nodes (LAN default 4 with a 1 s interval). Lower values detect
	// faster and raise false positives after pauses.
	SuspicionMult int

	// SuspicionMaxTimeoutMult bounds the suspicion timeout when peers
	// do not confirm a suspicion (it only applies with more than
	// SuspicionMult nodes). Default 3 (LAN: 6): at most 1.8 s below ten
	// nodes.
	SuspicionMaxTimeoutMult int

	// IndirectChecks is how many peers are asked to probe a node that
	// missed a direct probe. Default 3 (as LAN).
	IndirectChecks int

	// GossipInterval is how often queued gossip (alive, suspect, dead,
	// metadata updates) is sent to GossipNodes random peers. Default
	// 100 ms (LAN: 200 ms), so a death is known cluster-wide within a
	// couple of intervals of being declared.
	GossipInterval time.Duration

	// GossipNodes is how many random peers get each gossip round.
	// Default 3 (as LAN).
	GossipNodes int

	// GossipToTheDeadTime is how long gossip still goes to a node after
	// it was declared dead, giving it a chance to refute; after that it is
	// forgotten and only the seed re-join can bring it back. Default 30 s
	// (as LAN).
	GossipToTheDeadTime time.Duration

	// PushPullInterval is how often a full state sync is done with one
	// random peer over TCP; it repairs anything gossip missed. Default 15 s
	// (LAN: 30 s): our clusters are small, a sync is cheap.
	PushPullInterval time.Duration

	// TCPTimeout bounds dialing and reading a TCP stream (joins, state
	// syncs, TCP fallback pings). Default 2 s (LAN: 10 s), so a join
	// attempt to a black-holed seed does not hold up the re-join loop.
	TCPTimeout time.Duration

	// RejoinInterval is how often the seeds are joined again.
	// memberlist does not re-merge after a healed partition by itself; the
	// periodic join does. Default 5 s: a healed partition merges within
	// about that, at the cost of one TCP state sync per seed per interval.
	RejoinInterval time.Duration

	// Transport replaces memberlist's UDP/TCP transport (BindAddr is then
	// ignored). For tests that cut the network between chosen peers.
	// Default nil (production): memberlist's UDP/TCP transport.
	Transport memberlist.NodeAwareTransport

	// The fields below matter only when Meta.Site is set (a cluster of
	// several sites). The node then runs two gossip pools, as Consul
	// does: the cluster pool on BindAddr with every node, timed by the
	// WAN* fields, and a site pool on SiteBindAddr with the nodes of its
	// own site only, timed by the fields above. Members reports a member
	// of this node's site as the site pool sees it and any other as the
	// cluster pool sees it, so a slow WAN link cannot get a healthy node
	// of another site declared dead while a crash inside the site is
	// still seen within the LAN bound. With Meta.Site "" there is one
	// pool, the cluster pool, with the LAN timing above (as before sites
	// existed), and these fields are ignored.

	// SiteBindAddr is the IP:port of the site pool, UDP and TCP. Default:
	// BindAddr's IP and port + 1 (port 0 stays 0, a free port). Nodes
	// find each other's site pool address in their metadata
	// (Meta.SiteGossipAddr), so only the cluster pool needs seeds.
	SiteBindAddr string

	// SiteAdvertiseAddr is the site pool's IP:port for the other nodes of
	// the site when it differs from SiteBindAddr. Default: AdvertiseAddr's
	// IP and port + 1 when AdvertiseAddr is set.
	SiteAdvertiseAddr string

	// SiteTransport replaces the site pool's transport, as Transport does
	// the cluster pool's (SiteBindAddr is then ignored). For tests.
	SiteTransport memberlist.NodeAwareTransport

	// WANProbeInterval is ProbeInterval of the cluster pool when sites are
	// in use. Default 1 s (memberlist WAN: 5 s).
	WANProbeInterval time.Duration

	// WANProbeTimeout is ProbeTimeout of the cluster pool when sites are
	// in use: it must cover the WAN round trip plus its jitter. Default
	// 600 ms (memberlist WAN: 3 s). Must be shorter than WANProbeInterval.
	WANProbeTimeout time.Duration

	// WANSuspicionMult is SuspicionMult of the cluster pool when sites are
	// in use. Default 6 (as memberlist WAN): a suspect node of another
	// site has 6 s to refute below ten nodes, so a lossy or briefly
	// congested link does not get it declared dead.
	WANSuspicionMult int

	// WANSuspicionMaxTimeoutMult is SuspicionMaxTimeoutMult of the cluster
	// pool when sites are in use. Default 6 (as memberlist WAN).
	WANSuspicionMaxTimeoutMult int

	// WANGossipInterval is GossipInterval of the cluster pool when sites
	// are in use. Default 200 ms (memberlist WAN: 500 ms): metadata
	// changes of other sites' nodes still spread in well under a second.
	WANGossipInterval time.Duration

	// Logger receives this package's and memberlist's logs. Default
	// slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in and the given
// node name.
func DefaultConfig(nodeName string) Config {
	return Config{
		NodeName:                nodeName,
		ClusterName:             "ucgrid",
		BindAddr:                "127.0.0.1:7946",
		ProbeInterval:           150 * time.Millisecond,
		ProbeTimeout:            100 * time.Millisecond,
		SuspicionMult:           4,
		SuspicionMaxTimeoutMult: 3,
		IndirectChecks:          3,
		GossipInterval:          100 * time.Millisecond,
		GossipNodes:             3,
		GossipToTheDeadTime:     30 * time.Second,
		PushPullInterval:        15 * time.Second,
		TCPTimeout:              2 * time.Second,
		RejoinInterval:          5 * time.Second,

		WANProbeInterval:           time.Second,
		WANProbeTimeout:            600 * time.Millisecond,
		WANSuspicionMult:           6,
		WANSuspicionMaxTimeoutMult: 6,
		WANGossipInterval:          200 * time.Millisecond,
	}
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	d := DefaultConfig(c.NodeName)
	setDefault(&c.ClusterName, d.ClusterName)
	setDefault(&c.BindAddr, d.BindAddr)
	setDefault(&c.ProbeInterval, d.ProbeInterval)
	setDefault(&c.ProbeTimeout, d.ProbeTimeout)
	setDefault(&c.SuspicionMult, d.SuspicionMult)
	setDefault(&c.SuspicionMaxTimeoutMult, d.SuspicionMaxTimeoutMult)
	setDefault(&c.IndirectChecks, d.IndirectChecks)
	setDefault(&c.GossipInterval, d.GossipInterval)
	setDefault(&c.GossipNodes, d.GossipNodes)
	setDefault(&c.GossipToTheDeadTime, d.GossipToTheDeadTime)
	setDefault(&c.PushPullInterval, d.PushPullInterval)
	setDefault(&c.TCPTimeout, d.TCPTimeout)
	setDefault(&c.RejoinInterval, d.RejoinInterval)
	setDefault(&c.WANProbeInterval, d.WANProbeInterval)
	setDefault(&c.WANProbeTimeout, d.WANProbeTimeout)
	setDefault(&c.WANSuspicionMult, d.WANSuspicionMult)
	setDefault(&c.WANSuspicionMaxTimeoutMult, d.WANSuspicionMaxTimeoutMult)
	setDefault(&c.WANGossipInterval, d.WANGossipInterval)
	if c.SiteBindAddr == "" {
		c.SiteBindAddr = nextPort(c.BindAddr)
	}
	if c.SiteAdvertiseAddr == "" && c.AdvertiseAddr != "" {
		c.SiteAdvertiseAddr = nextPort(c.AdvertiseAddr)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// nextPort returns addr with its port plus one (0 stays 0: a free port),
// or addr unchanged when it is not an IP:port (Validate reports that).
func nextPort(addr string) string {
	ip, port, err := splitIPPort(addr)
	if err != nil || port == 65535 {
		return addr
	}
	if port != 0 {
		port++
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(port))
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Validate reports the first invalid field of c, after defaults.
func (c Config) Validate() error {
	c = c.WithDefaults()
	checks := []func(Config) error{
		validateNames, validateAddrs, validateTimers, validateKey, validateMeta,
	}
	for _, check := range checks {
		if err := check(c); err != nil {
			return err
		}
	}
	return nil
}

// invalid is Validate's error: "membership: Config.<field>: <what is wrong>",
// wrapping ErrInvalidConfig.
func invalid(field, format string, args ...any) error {
	return &configError{field: field, problem: fmt.Sprintf(format, args...)}
}

// configError names a bad field of Config; errors.Is(err,
// ErrInvalidConfig) holds.
type configError struct{ field, problem string }

func (e *configError) Error() string { return "membership: Config." + e.field + ": " + e.problem }

func (e *configError) Unwrap() error { return ErrInvalidConfig }

func validateNames(c Config) error {
	if c.NodeName == "" {
		return invalid("NodeName", "required")
	}
	if len(c.ClusterName) > memberlist.LabelMaxSize {
		return invalid("ClusterName", "%d bytes, at most %d", len(c.ClusterName), memberlist.LabelMaxSize)
	}
	if c.Meta.Site != "" && len(c.siteLabel()) > memberlist.LabelMaxSize {
		return invalid("Meta.Site", "%d bytes with ClusterName, at most %d", len(c.siteLabel()), memberlist.LabelMaxSize)
	}
	return nil
}

func validateAddrs(c Config) error {
	if _, _, err := splitIPPort(c.BindAddr); err != nil {
		return invalid("BindAddr", "%q: %v", c.BindAddr, err)
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := splitIPPort(c.AdvertiseAddr); err != nil {
			return invalid("AdvertiseAddr", "%q: %v", c.AdvertiseAddr, err)
		}
	}
	if c.Meta.Site != "" {
		if _, _, err := splitIPPort(c.SiteBindAddr); err != nil {
			return invalid("SiteBindAddr", "%q: %v", c.SiteBindAddr, err)
		}
		if c.SiteAdvertiseAddr != "" {
			if _, _, err := splitIPPort(c.SiteAdvertiseAddr); err != nil {
				return invalid("SiteAdvertiseAddr", "%q: %v", c.SiteAdvertiseAddr, err)
			}
		}
		if c.Transport == nil && c.SiteTransport == nil && normalizeAddr(c.SiteBindAddr) == normalizeAddr(c.BindAddr) {
			if _, port, _ := splitIPPort(c.BindAddr); port != 0 {
				return invalid("SiteBindAddr", "%q is BindAddr too: the site pool needs its own port", c.SiteBindAddr)
			}
		}
	}
	for i, s := range c.Seeds {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return invalid(fmt.Sprintf("Seeds[%d]", i), "%q: want host:port: %v", s, err)
		}
	}
	return nil
}

func validateTimers(c Config) error {
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"ProbeInterval", c.ProbeInterval},
		{"ProbeTimeout", c.ProbeTimeout},
		{"GossipInterval", c.GossipInterval},
		{"GossipToTheDeadTime", c.GossipToTheDeadTime},
		{"PushPullInterval", c.PushPullInterval},
		{"TCPTimeout", c.TCPTimeout},
		{"RejoinInterval", c.RejoinInterval},
		{"WANProbeInterval", c.WANProbeInterval},
		{"WANProbeTimeout", c.WANProbeTimeout},
		{"WANGossipInterval", c.WANGossipInterval},
	}
	for _, p := range durations {
		if p.d < 0 {
			return invalid(p.name, "%v is negative", p.d)
		}
	}
	if c.ProbeTimeout >= c.ProbeInterval {
		return invalid("ProbeTimeout", "%v must be shorter than ProbeInterval (%v)", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.WANProbeTimeout >= c.WANProbeInterval {
		return invalid("WANProbeTimeout", "%v must be shorter than WANProbeInterval (%v)", c.WANProbeTimeout, c.WANProbeInterval)
	}
	counts := []struct {
		name string
		n    int
	}{
		{"SuspicionMult", c.SuspicionMult},
		{"SuspicionMaxTimeoutMult", c.SuspicionMaxTimeoutMult},
		{"IndirectChecks", c.IndirectChecks},
		{"GossipNodes", c.GossipNodes},
		{"WANSuspicionMult", c.WANSuspicionMult},
		{"WANSuspicionMaxTimeoutMult", c.WANSuspicionMaxTimeoutMult},
	}
	for _, p := range counts {
		if p.n < 1 {
			return invalid(p.name, "%d, want at least 1", p.n)
		}
	}
	return nil
}

func validateKey(c Config) error {
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
		return nil
	default:
		return invalid("SecretKey", "%d bytes, want 16, 24 or 32", len(c.SecretKey))
	}
}

func validateMeta(c Config) error {
	if _, err := EncodeMeta(c.Meta); err != nil {
		return invalid("Meta", "%v", err)
	}
	return nil
}

// splitIPPort parses an IP:port (no host names: memberlist binds to IPs).
func splitIPPort(addr string) (net.IP, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, 0, fmt.Errorf("host %q is not an IP address", host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, 0, fmt.Errorf("bad port %q", portStr)
	}
	return ip, port, nil
}

// siteLabel is the memberlist label of the site pool: nodes of other
// sites (and the cluster pool) ignore its packets and streams.
func (c Config) siteLabel() string { return c.ClusterName + "/site/" + c.Meta.Site }

// memberlistConfig translates c (defaults applied, validated) into the
// memberlist configuration of the cluster pool with our delegates: LAN
// timing with one site, WAN timing with several.
func (c Config) memberlistConfig(d *delegate) *memberlist.Config {
	mc := c.poolConfig(d, c.ClusterName, c.BindAddr, c.AdvertiseAddr, c.Transport)
	if c.Meta.Site != "" {
		mc.ProbeInterval = c.WANProbeInterval
		mc.ProbeTimeout = c.WANProbeTimeout
		mc.SuspicionMult = c.WANSuspicionMult
		mc.SuspicionMaxTimeoutMult = c.WANSuspicionMaxTimeoutMult
		mc.GossipInterval = c.WANGossipInterval
	}
	return mc
}

// siteMemberlistConfig is the memberlist configuration of the site pool
// (only with Meta.Site set): LAN timing, the site's own label.
func (c Config) siteMemberlistConfig(d *delegate) *memberlist.Config {
	mc := c.poolConfig(d, c.siteLabel(), c.SiteBindAddr, c.SiteAdvertiseAddr, c.SiteTransport)
	mc.Logger = newStdLogger(c.Logger.With("node", c.NodeName, "pool", "site"))
	return mc
}

// poolConfig is a memberlist configuration with c's LAN timing.
func (c Config) poolConfig(d *delegate, label, bind, advertise string, transport memberlist.NodeAwareTransport) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.NodeName
	mc.Label = label
	bindIP, bindPort, _ := splitIPPort(bind) // validated by Validate
	mc.BindAddr, mc.BindPort = bindIP.String(), bindPort
	mc.AdvertiseAddr, mc.AdvertisePort = "", bindPort
	if advertise != "" {
		advIP, advPort, _ := splitIPPort(advertise) // validated by Validate
		mc.AdvertiseAddr, mc.AdvertisePort = advIP.String(), advPort
	}
	mc.SecretKey = c.SecretKey
	mc.ProbeInterval = c.ProbeInterval
	mc.ProbeTimeout = c.ProbeTimeout
	mc.SuspicionMult = c.SuspicionMult
	mc.SuspicionMaxTimeoutMult = c.SuspicionMaxTimeoutMult
	mc.IndirectChecks = c.IndirectChecks
	mc.GossipInterval = c.GossipInterval
	mc.GossipNodes = c.GossipNodes
	mc.GossipToTheDeadTime = c.GossipToTheDeadTime
	mc.PushPullInterval = c.PushPullInterval
	mc.TCPTimeout = c.TCPTimeout
	if transport != nil {
		mc.Transport = transport
	}
	mc.Delegate = d
	mc.Events = d
	mc.Logger = newStdLogger(c.Logger.With("node", c.NodeName))
	return mc
}
