package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/persistence"
)

// Hub is the node's session hub as the SIP layer uses it for SUBSCRIBE:
// a subscription is one session watching one user or line. *actors.Hub
// implements it. Methods are called concurrently; Session.Events is read
// by one goroutine per subscription and closes when the session ends or
// lags.
type Hub interface {
	Open(viewer string, buffer int) *actors.Session
	Watch(ctx context.Context, s *actors.Session, user string) (*actorspb.PresenceView, error)
	WatchLine(ctx context.Context, s *actors.Session, number string) (*actorspb.LineView, error)
	Close(ctx context.Context, s *actors.Session)
}

// Config configures the SIP server. Zero fields take the defaults
// documented on each; Start fills them in (WithDefaults) and then calls
// Validate.
type Config struct {
	// Addr is the host:port the server listens on with UDP and TCP both.
	// Port 0 picks a free port (the same for both). Default
	// "127.0.0.1:5060".
	Addr string
	// TLSAddr is the host:port serving SIP over TLS (RFC 3261 §26,
	// sips: URIs); empty serves no TLS. Port 0 picks a free port.
	TLSAddr string
	// TLSCertFile and TLSKeyFile are the PEM certificate (chain) and key
	// served on TLSAddr (required with it).
	TLSCertFile, TLSKeyFile string
	// IdleTimeout ends a TCP or TLS connection that has carried nothing
	// (no message, no RFC 5626 CRLF keep-alive) for this long. Default
	// 5 min: RFC 5626 keep-alives on connections come every 95–120 s, and
	// phones re-register well within it; an idle connection someone
	// opened and forgot costs nothing longer than that. Registrations
	// over TCP or TLS are granted at most IdleTimeout-30s (not below
	// MinExpires), so that a phone's refresh keeps its connection.
	IdleTimeout time.Duration
	// MessageTimeout bounds how long one message (from its first byte to
	// its last), a TLS handshake, and a write to a TCP or TLS peer may
	// take; a slower connection is closed. Default 10s: a SIP message is
	// a few kilobytes, even on a poor link it takes well under a second.
	MessageTimeout time.Duration
	// MaxConnsPerSource caps the TCP and TLS connections open from one IP
	// address (each transport counted on its own); more are closed at
	// accept. Default 32: a phone needs one, an office NAT a few dozen;
	// raise it where many phones share one public address.
	MaxConnsPerSource int
	// AllowWideTrunks honours trunk address ranges of /0 or wider than
	// /16 (IPv4) or /48 (IPv6) (persistence.CheckTrunkPrefix). Default
	// false: such a range, stored before the rule or written through a
	// node that allows it, lets no one in here (a WARN once per trunk and
	// range); the trunk's other ranges still count.
	AllowWideTrunks bool
	// Advertise is the HOST[:PORT] named in Via, Record-Route and our
	// Contact to every peer: for a node behind a 1:1 NAT or a load
	// balancer. The port defaults to the bound one; TLS keeps its own. It
	// must be of Addr's family, and a host name must resolve, or Start
	// fails with an *AdvertiseError. Default: none — a specific Addr
	// names itself; bound to 0.0.0.0 or :: the node names the local
	// address each peer talks to (addr.go).
	Advertise string
	// Domain is the SIP domain and the digest realm (required).
	Domain string
	// Store is the node's local copy of the directory (required).
	Store *persistence.Store
	// Backend reaches the line, group and user grains (required).
	Backend Backend
	// Hub serves SUBSCRIBE; nil answers SUBSCRIBE with 489 Bad Event.
	Hub Hub
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
	// Registerer receives the server's metrics; nil registers none.
	Registerer prometheus.Registerer

	// MinExpires is the shortest registration or subscription accepted
	// (shorter ones get 423 with Min-Expires). Default 60s, RFC 3261's
	// recommended minimum: phones refresh often enough to notice a
	// restart, rarely enough not to load the directory (every binding
	// change is a Raft write).
	MinExpires time.Duration
	// MaxExpires caps a registration; longer requests are granted this.
	// Default 3600s (the RFC default): a phone that vanished without
	// unregistering stops ringing within the hour.
	MaxExpires time.Duration
	// NATExpires caps the registration of a phone behind a NAT (natted:
	// its Contact or Via names another address than the REGISTER came
	// from). Default 60s: the phone's refresh keeps its NAT mapping open
	// even when keep-alives are disabled or lost, and a phone that went
	// away stops ringing within a minute. Not below MinExpires.
	NATExpires time.Duration
	// NATPingInterval is how often this node pings each NATed UDP binding
	// registered through it (an OPTIONS over the phone's flow, or a CRLF
	// with NATPingCRLF), to keep its NAT mapping open. Default 20s: home
	// routers drop idle UDP mappings after 30 s (some older ones sooner,
	// Linux's conntrack default for one-way UDP is 30 s), so a ping every
	// 20 s keeps them open with a margin for one lost packet. Negative
	// disables the pings (NATExpires then carries the mappings, if the
	// routers' timeouts are longer). NATed TCP and TLS bindings are
	// checked at the same pace: one whose connection has closed is
	// removed.
	NATPingInterval time.Duration
	// NATPingMisses OPTIONS pings in a row without an answer remove a
	// NATed binding (the phone's next REGISTER restores it). Default 3:
	// one or two lost datagrams are normal, three in a row (a minute at
	// the default interval) mean the phone or its NAT mapping is gone.
	NATPingMisses int
	// NATPingCRLF pings with a CRLF datagram instead of an OPTIONS: less
	// traffic and no parsing at the phone, but nothing comes back, so
	// dead phones are only dropped when their registration expires.
	// Default false.
	NATPingCRLF bool
	// FlowKey signs the flow tokens in the Path of NATed bindings (RFC
	// 3327, RFC 5626): another node routes a call for such a phone to the
	// node holding its flow, which forwards only requests whose token it
	// signed. Nodes sharing a key accept each other's tokens across
	// restarts. Default: a random key (tokens hold until this node
	// restarts, and phones re-register within NATExpires anyway).
	FlowKey []byte
	// PathHost is the address other nodes reach this node's SIP port at,
	// named in the Path of the NATed bindings it holds, when the SIP
	// socket is bound to 0.0.0.0 or :: and no Advertise is set (a
	// specific bind or Advertise is named as it is). The node sets it to
	// the host of its Raft address. Default: the first address of an
	// interface that is neither loopback nor link-local.
	PathHost string
	// NonceTTL is how long a digest nonce is accepted; an older one is
	// answered with a fresh challenge and stale=true. Default 5 min: long
	// enough for a phone's registration retry, short enough that a
	// captured nonce is soon useless.
	NonceTTL time.Duration
	// AuthFailures failed authentications from one source address within
	// AuthWindow block that source for AuthWindow (503 with Retry-After).
	// Each limit here is a token bucket (internal/throttle) of that many
	// failures that forgives one per AuthWindow/limit: a source failing
	// at that rate or slower is never blocked, and one that fails again
	// within AuthWindow/limit of a block's end is blocked again. Defaults
	// 10 and 1 min: a mistyped password on a few phones behind one NAT
	// stays below it, a password-guessing run is stopped after ten tries
	// a minute. Each limit tracks at most 65 536 keys (the least recent
	// evicted).
	AuthFailures int
	// AuthWindow is the window AuthFailures, LinePairFailures and
	// LineFailures count in, and how long a block or guard lasts. Default
	// 1 min.
	AuthWindow time.Duration
	// LinePairFailures failed authentications as one line from one source
	// address within AuthWindow block that address for that line. Default
	// 5: a mistyped password is retried a few times, a guesser is stopped.
	LinePairFailures int
	// LineFailures failed authentications as one line from all addresses
	// within AuthWindow (a guessing run spread over many addresses) put
	// the line under guard for AuthWindow: only addresses the line
	// authenticated from in the last 24 h may try, others get 503. The
	// real owner's phones keep working. Default 100.
	LineFailures int
	// NoAnswerTimeout is how long a line rings before its no-answer
	// forwarding takes over when the line sets no timeout. Default 20s
	// (about four rings).
	NoAnswerTimeout time.Duration
	// RingTimeout bounds how long a call to a line rings when nothing
	// else ends it. Default 2 min.
	RingTimeout time.Duration
	// PickupProbeTimeout bounds the wait for another node's answer to the
	// OPTIONS a pickup sends before passing a picker's INVITE to it: a
	// live node answers at once; one that failed must not hold the picker
	// for a transaction timeout (32 s). Default 2s.
	PickupProbeTimeout time.Duration
	// BackendTimeout bounds each call into the Backend. Default 5s.
	BackendTimeout time.Duration
	// TrunkRegistrar reports whether this node keeps the registrations of
	// trunks at their upstreams now (one node of a cluster does: the node
	// assembly says the Raft leader), and else which node does ("" when
	// unknown). It is asked every second; it must not block. Default nil:
	// this node keeps them (a node on its own).
	TrunkRegistrar func() (here bool, node string)

	// Overload control (overload.go): new work — a request outside any
	// dialog other than ACK, CANCEL and OPTIONS — is refused with 503 and
	// Retry-After while any limit below is reached; in-dialog requests
	// and responses never are. A negative limit disables it.

	// MaxCallsSettingUp bounds the new INVITEs being set up at once
	// (admitted, no 18x or final answer sent yet). Default 400: a call is
	// set up in milliseconds when the node keeps up, but at its capacity
	// (about 1,400 calls/s on 2 cores) a 180 may take 100–300 ms, and
	// 200 there refused calls the node would have completed (run_peer.sh,
	// docs/benchmarks.md); many hundreds waiting mean the node, or the
	// grains it asks, no longer keeps up.
	MaxCallsSettingUp int
	// MaxTransactions bounds the SIP requests being handled at once (an
	// INVITE counts until its final answer, ringing included). Default
	// 5000: far above what a node serves in normal load (a ringing call
	// holds two or three), a guard for memory and goroutines in a storm.
	MaxTransactions int
	// MaxQueueAge refuses new work read from a UDP datagram that waited
	// longer than this in the socket's receive queue (the kernel stamps
	// each datagram as it arrives): none at MaxQueueAge, all at twice it,
	// in proportion between. Default 100ms: a node that keeps up reads a
	// datagram within a millisecond or two, but at its capacity its
	// garbage collections hold its reader 100–500 ms, and 40 ms there
	// refused 5–34 % of the calls it would have completed, 100 ms 4–15 %
	// (one core, back to back, docs/benchmarks.md); at 10× 100 ms
	// completed as many, the admitted calls' 180 some 15 % later. A
	// refusal is still sent before the caller's retransmission (500 ms).
	MaxQueueAge time.Duration
	// EdgeProcess reads the UDP socket in a process of its own, the same
	// binary started again (edgeproc_linux.go): the datagrams the node
	// cannot take and the 503s for new work it refuses then never wait
	// for the node's goroutine scheduler, which past capacity held them
	// for 100–200 ms at p99 (docs/benchmarks.md). Linux only; where the
	// process cannot start, the node reads the socket itself and logs
	// why. Default false (the zero Config); ucgrid serve turns it on.
	EdgeProcess bool
	// MaxSchedLatency is the smoothed p99 goroutine scheduling latency
	// (time a runnable goroutine waits for a CPU, over 50 ms samples)
	// above which a growing share of new work over TCP and TLS is
	// refused; over UDP the queue age judges (judgeUDP). Default
	// 100ms: with a core of its own (GOMAXPROCS 1) a node's p99 passes
	// 50 ms in bursts well below its capacity, and 50 ms there refused
	// 9–22 % of the calls at 1× and completed 8–30 % fewer at 10× than
	// 100 ms did (run_peer.sh, docs/benchmarks.md); on 2 cores shared
	// with a load generator it passes 50 ms once the node is
	// overloaded. It is the signal for what the UDP queue age does not
	// see: TCP and TLS, whose requests wait in no queue the node ages.
	MaxSchedLatency time.Duration
	// OverloadRetryAfter is the Retry-After of an overload refusal of an
	// INVITE; REGISTER, SUBSCRIBE and other new work get between it and
	// twice it, at random, so that phones refused together come back
	// spread out. Default 2s, at least 1s (the header counts seconds): a
	// storm is over or shed to other nodes within seconds, and an
	// upstream treats the node as unavailable for that long (RFC 3261
	// §21.5.4), so longer would cost calls the node could take.
	OverloadRetryAfter time.Duration
}

// ErrAddrInUse is returned by Start when the SIP address is taken (UDP or
// TCP).
var ErrAddrInUse = errors.New("sip: address already in use")

// ErrTLSAddrInUse is returned by Start when TLSAddr is taken.
var ErrTLSAddrInUse = errors.New("sip: tls address already in use")

// WithDefaults returns a copy of c with every zero field set to its
// documented default. Start calls it, then Validate.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:5060"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def(&c.MinExpires, 60*time.Second)
	def(&c.MaxExpires, time.Hour)
	def(&c.NATExpires, time.Minute)
	def(&c.NATPingInterval, 20*time.Second)
	if c.NATPingMisses == 0 {
		c.NATPingMisses = 3
	}
	def(&c.NonceTTL, 5*time.Minute)
	def(&c.AuthWindow, time.Minute)
	def(&c.NoAnswerTimeout, 20*time.Second)
	def(&c.PickupProbeTimeout, 2*time.Second)
	def(&c.RingTimeout, 2*time.Minute)
	def(&c.BackendTimeout, 5*time.Second)
	def(&c.IdleTimeout, 5*time.Minute)
	def(&c.MessageTimeout, 10*time.Second)
	if c.MaxConnsPerSource == 0 {
		c.MaxConnsPerSource = 32
	}
	if c.AuthFailures == 0 {
		c.AuthFailures = 10
	}
	if c.LinePairFailures == 0 {
		c.LinePairFailures = 5
	}
	if c.LineFailures == 0 {
		c.LineFailures = 100
	}
	return c.withOverloadDefaults()
}

// withOverloadDefaults fills in the overload control's defaults.
func (c Config) withOverloadDefaults() Config {
	if c.MaxCallsSettingUp == 0 {
		c.MaxCallsSettingUp = 400
	}
	if c.MaxTransactions == 0 {
		c.MaxTransactions = 5000
	}
	if c.MaxQueueAge == 0 {
		c.MaxQueueAge = 100 * time.Millisecond
	}
	if c.MaxSchedLatency == 0 {
		c.MaxSchedLatency = 100 * time.Millisecond
	}
	if c.OverloadRetryAfter == 0 {
		c.OverloadRetryAfter = 2 * time.Second
	}
	return c
}

// invalid is Validate's error: "sip: Config.<field>: <what is wrong>".
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("sip: Config.%s: %s", field, fmt.Sprintf(format, args...))
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field. A bad Advertise is an
// *AdvertiseError.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Domain == "":
		return invalid("Domain", "is empty")
	case c.Store == nil:
		return invalid("Store", "is nil")
	case c.Backend == nil:
		return invalid("Backend", "is nil")
	}
	if err := c.validateAddrs(); err != nil {
		return err
	}
	if err := c.validateExpires(); err != nil {
		return err
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	if c.OverloadRetryAfter < time.Second {
		return invalid("OverloadRetryAfter", "%v, must be at least 1s (Retry-After counts seconds)", c.OverloadRetryAfter)
	}
	return nil
}

func (c Config) validateAddrs() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return invalid("Addr", "%q: %v", c.Addr, err)
	}
	if c.Advertise != "" {
		if err := CheckAdvertise(c.Advertise, c.Addr); err != nil {
			return err
		}
	}
	if c.TLSAddr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.TLSAddr); err != nil {
		return invalid("TLSAddr", "%q: %v", c.TLSAddr, err)
	}
	switch {
	case c.TLSCertFile == "":
		return invalid("TLSCertFile", "is empty, and TLSAddr needs it")
	case c.TLSKeyFile == "":
		return invalid("TLSKeyFile", "is empty, and TLSAddr needs it")
	}
	return nil
}

func (c Config) validateExpires() error {
	switch {
	case c.MinExpires < 0:
		return invalid("MinExpires", "%v is negative", c.MinExpires)
	case c.MinExpires > c.MaxExpires:
		return invalid("MinExpires", "%v exceeds MaxExpires (%v)", c.MinExpires, c.MaxExpires)
	case c.NATExpires < c.MinExpires:
		return invalid("NATExpires", "%v is below MinExpires (%v)", c.NATExpires, c.MinExpires)
	}
	return nil
}

func (c Config) validateLimits() error {
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"IdleTimeout", c.IdleTimeout}, {"MessageTimeout", c.MessageTimeout}, {"NonceTTL", c.NonceTTL},
		{"AuthWindow", c.AuthWindow}, {"NoAnswerTimeout", c.NoAnswerTimeout}, {"RingTimeout", c.RingTimeout},
		{"BackendTimeout", c.BackendTimeout}, {"PickupProbeTimeout", c.PickupProbeTimeout},
	} {
		if d.v < 0 {
			return invalid(d.field, "%v is negative", d.v)
		}
	}
	for _, n := range []struct {
		field string
		v     int
	}{
		{"NATPingMisses", c.NATPingMisses}, {"MaxConnsPerSource", c.MaxConnsPerSource}, {"AuthFailures", c.AuthFailures},
		{"LinePairFailures", c.LinePairFailures}, {"LineFailures", c.LineFailures},
	} {
		if n.v < 1 {
			return invalid(n.field, "%d, must be at least 1", n.v)
		}
	}
	return nil
}
