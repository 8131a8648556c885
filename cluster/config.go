package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	actorcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/ucgrid/ucgrid/cluster/membership"
	"github.com/ucgrid/ucgrid/cluster/pki"
)

// ErrInvalidConfig is wrapped by the errors of Config.Validate and Start
// that name a bad field ("cluster: Config.<Field>: ...").
var ErrInvalidConfig = errors.New("cluster: invalid config")

// Config configures a node's actor layer and its membership. Zero fields
// take the defaults documented on each; Start applies them, then Validate.
type Config struct {
	// Membership configures gossip: node name (required), cluster name,
	// gossip address, seeds, failure detection, and the initial metadata
	// (Raft address, roles). The actor fields of the metadata are filled
	// in by the Provider. See membership.Config for its defaults.
	Membership membership.Config

	// ActorAddr is the host:port the actor remote (gRPC) listens on. Port 0
	// picks a free port: the address is published through gossip, so peers
	// need not know it in advance. Default: the gossip bind IP, port 0.
	ActorAddr string

	// ActorAdvertiseAddr is the host:port peers dial, when it differs from
	// ActorAddr. Required when ActorAddr binds all interfaces (0.0.0.0,
	// ::), since peers cannot dial those. Default: ActorAddr as bound.
	ActorAdvertiseAddr string

	// Kinds are the grain kinds this node hosts. Default none.
	Kinds []*actorcluster.Kind

	// HomeSite gives the home site of a grain: its owner is a member of
	// that site (membership.Meta.Site), or any member while the site has
	// none (PlaceOwner). Call Node.Recheck when an answer it gave may have
	// changed. Default nil: no grain has a home site, and placement is
	// identitylookup/disthash's rendezvous hashing over all members.
	HomeSite HomeSiteFunc

	// Client starts the actor cluster as a client: it calls grains but
	// hosts none and is left out of the topology (e.g. a load generator
	// attached to a running cluster). Kinds must then be empty. Default
	// false.
	Client bool

	// GrainsStopped, when set, is called by Shutdown once every local grain
	// has stopped, while requests to other nodes still work: the moment to
	// wait for runtime state the grains hand over to their new nodes.
	// Default nil.
	GrainsStopped func()

	// RequestTimeout bounds Node.Request when its context has no deadline.
	// Default 5 s: longer than failure detection (~1.5 s) plus
	// re-activation, so a request to a grain on a node that just died
	// still succeeds on its new node.
	RequestTimeout time.Duration

	// AttemptTimeout bounds one attempt of a request; a timed-out attempt
	// is retried on a fresh lookup within the request's deadline. A grain
	// that passivates or moves while a request waits in its mailbox drops
	// it unanswered: without this bound the caller would wait for its
	// whole deadline. Default 2 s: longer than any grain operation,
	// directory writes included (so retries, which may deliver a message
	// twice, stay rare).
	AttemptTimeout time.Duration

	// RetryBaseDelay is the first back-off between attempts of a request
	// whose grain could not be reached (no owner yet, dead letter during a
	// topology change); it doubles per attempt up to RetryMaxDelay, with
	// jitter so that callers retrying after one failure spread out.
	// Default 20 ms.
	RetryBaseDelay time.Duration

	// RetryMaxDelay caps the back-off. Default 400 ms: several attempts
	// fit in the time failure detection needs to move a grain.
	RetryMaxDelay time.Duration

	// TLS, when set, makes actor remoting mutual TLS with the cluster's
	// certificates (remotetls.go): peers without a node certificate of the
	// cluster CA are refused. Nil: plain gRPC, for loopback-only nodes.
	TLS *pki.Bundle

	// Logger receives the node's, memberlist's and protoactor-go's logs
	// (the latter at info level and above, with message bodies redacted).
	// Default slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns c with every zero field set to its default,
// Membership included.
func (c Config) WithDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Membership.Logger == nil {
		c.Membership.Logger = c.Logger
	}
	c.Membership = c.Membership.WithDefaults()
	if c.ActorAddr == "" {
		host, _, err := net.SplitHostPort(c.Membership.BindAddr)
		if err != nil {
			host = "127.0.0.1" // Validate reports the bad BindAddr
		}
		c.ActorAddr = net.JoinHostPort(host, "0")
	}
	setDefault(&c.RequestTimeout, 5*time.Second)
	setDefault(&c.AttemptTimeout, 2*time.Second)
	setDefault(&c.RetryBaseDelay, 20*time.Millisecond)
	setDefault(&c.RetryMaxDelay, 400*time.Millisecond)
	return c
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// invalid is Validate's error: "cluster: Config.<field>: <what is wrong>",
// wrapping ErrInvalidConfig.
func invalid(field, format string, args ...any) error {
	return &configError{field: field, problem: fmt.Sprintf(format, args...)}
}

// configError names a bad field of Config; errors.Is(err,
// ErrInvalidConfig) holds.
type configError struct{ field, problem string }

func (e *configError) Error() string { return "cluster: Config." + e.field + ": " + e.problem }

func (e *configError) Unwrap() error { return ErrInvalidConfig }

// Validate reports the first invalid field of c, after defaults.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if err := c.Membership.Validate(); err != nil {
		return fmt.Errorf("cluster: Config.Membership: %w", err)
	}
	host, _, err := splitHostPort(c.ActorAddr)
	if err != nil {
		return invalid("ActorAddr", "%q: %v", c.ActorAddr, err)
	}
	if c.ActorAdvertiseAddr != "" {
		if _, _, err := splitHostPort(c.ActorAdvertiseAddr); err != nil {
			return invalid("ActorAdvertiseAddr", "%q: %v", c.ActorAdvertiseAddr, err)
		}
	} else if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return invalid("ActorAdvertiseAddr", "required when ActorAddr (%q) binds all interfaces", c.ActorAddr)
	}
	seen := map[string]bool{}
	for i, k := range c.Kinds {
		switch {
		case k == nil || k.Kind == "":
			return invalid(fmt.Sprintf("Kinds[%d]", i), "kind without a name")
		case seen[k.Kind]:
			return invalid(fmt.Sprintf("Kinds[%d]", i), "duplicate kind %q", k.Kind)
		}
		seen[k.Kind] = true
	}
	if c.Client && len(c.Kinds) > 0 {
		return invalid("Kinds", "a client hosts no kinds (%d given)", len(c.Kinds))
	}
	if c.RequestTimeout < 0 {
		return invalid("RequestTimeout", "%v is negative", c.RequestTimeout)
	}
	if c.RetryBaseDelay < time.Millisecond {
		return invalid("RetryBaseDelay", "%v, want at least 1ms", c.RetryBaseDelay)
	}
	if c.RetryMaxDelay < c.RetryBaseDelay {
		return invalid("RetryMaxDelay", "%v is below RetryBaseDelay (%v)", c.RetryMaxDelay, c.RetryBaseDelay)
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, port, nil
}
