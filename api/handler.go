package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/api/tokens"
	"github.com/ucgrid/ucgrid/internal/throttle"
	"github.com/ucgrid/ucgrid/persistence"
)

// HandlerConfig configures the /v1 routes. Zero fields take the defaults
// documented on each; NewHandler fills them in (WithDefaults) and then
// calls Validate.
type HandlerConfig struct {
	// Directory is the node's directory: writes go through its Raft log,
	// reads come from its local store (required).
	Directory *persistence.Node
	// Passwords are the argon2id costs of new password hashes. Default
	// password.Default; tests pass cheap ones.
	Passwords password.Params
	// SIPRealm is the digest realm of the lines' SIP passwords: the SIP
	// domain. Default "ucgrid.local". Changing it invalidates every stored
	// digest (HA1 covers the realm): set sip_password again afterwards.
	SIPRealm string
	// MaxBodyBytes bounds a request body (413 beyond). Default 1 MiB: the
	// largest body, a group with thousands of members, fits.
	MaxBodyBytes int64
	// ReadWait bounds how long a read waits for the X-Ucgrid-Index it was
	// given to be applied here (503 after). Default 5s: replication lag
	// is milliseconds; longer means the node is cut off.
	ReadWait time.Duration
	// WriteTimeout bounds one write through Raft. Default 10s.
	WriteTimeout time.Duration
	// Tokens configures bearer tokens. Default tokens.Default.
	Tokens tokens.Config
	// PairThrottle limits failed sign-ins per (user id, source address)
	// pair; UserThrottle is the much higher per-user ceiling against
	// guessing spread over many addresses; AddressThrottle limits them per
	// source address. Defaults DefaultPairThrottle, DefaultUserThrottle
	// and DefaultAddressThrottle.
	PairThrottle, UserThrottle, AddressThrottle throttle.Config
	// KnownSourceTTL is how long an address the user signed in from stays
	// exempt from UserThrottle. Default 30 days: a person's office or home.
	KnownSourceTTL time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed: only when the direct peer is inside one of them is the
	// client address (throttles, logs) the rightmost address of the header
	// outside them. Default none: the peer's address is the client's.
	TrustedProxies []netip.Prefix
	// AllowWideTrunks accepts trunk prefixes of /0 and wider than /16
	// (IPv4) or /48 (IPv6). Default false: such a trunk lets much of the
	// internet call without authentication.
	AllowWideTrunks bool
	// MaxPendingTokenWaits bounds how many requests whose credentials are
	// not valid here yet (a token issued, a user created, a password
	// changed on another node) wait for the index they name; more are
	// answered 401 at once. Default 64: such waits last milliseconds, and
	// nobody without valid credentials holds more than that many requests.
	MaxPendingTokenWaits int
	// MaxConcurrentVerify bounds concurrent password verifications (each
	// holds Passwords.Memory KiB). Default 4.
	MaxConcurrentVerify int
	// MaxInFlight bounds the /v1 requests being answered at once (event
	// streams, which last as long as their client, do not count); more
	// are answered 503 with Retry-After at once, so that a storm of
	// requests is refused fast instead of slowing every answer down.
	// Default 256: a request takes milliseconds, so a node serving a few
	// thousand a second holds a few dozen at once; hundreds mean the
	// node no longer keeps up.
	MaxInFlight int
	// Presence serves /v1/users/{id}/presence from the user grains. nil:
	// the route is not served (404).
	Presence PresenceService
	// Live serves line state, the monitor and the event stream
	// (api/liveconfig.go).
	Live LiveConfig
	// Reverse serves /v1/users/{id}/audience and /v1/users/{id}/reach
	// from the user grains. nil: not served (404).
	Reverse ReverseService
	// TrunkStatus tells GET /v1/trunks/{id} the state of a trunk's
	// registration at its upstream. nil: not shown.
	TrunkStatus TrunkStatusService
	// DirectorySync runs the LDAP sync for POST /v1/ldap/sync. nil: the
	// node has no mapping file (404; GET /v1/ldap/status says so).
	DirectorySync DirectorySyncService
	// Site is the site of the node serving the API (node.Config.Site): the
	// home site of users and groups created here without one. Default "":
	// no home site.
	Site string
	// Now reads the clock. Default time.Now.
	Now func() time.Time
	// Logger receives the handler's logs. Default: discard.
	Logger *slog.Logger
	// Metrics is where the request metrics are registered (docs/metrics.md);
	// nil: counted, not exported.
	Metrics prometheus.Registerer
}

// DefaultPairThrottle are the sign-in throttle's defaults per (user id,
// source address) pair: the one who guesses is slowed down, not the user
// everywhere. 10 failures in a row (enough for a person who mistypes, far
// too few for a dictionary), then one more every 30 s (2 880 a day); at
// most 100 000 pairs tracked (a few MB), the least recent evicted first.
var DefaultPairThrottle = throttle.Config{Burst: 10, Every: 30 * time.Second, MaxKeys: 100_000}

// DefaultUserThrottle are the defaults of the per-user-id ceiling against
// guessing spread over many addresses: 100 failures in a row from
// anywhere, then one every 10 s (8 640 a day against one account).
// Addresses that signed in as the user recently are not held by it.
var DefaultUserThrottle = throttle.Config{Burst: 100, Every: 10 * time.Second, MaxKeys: 100_000}

// DefaultAddressThrottle are the per-source-address defaults: more
// generous, as one address may be an office behind NAT (50 failures,
// then one every 5 s).
var DefaultAddressThrottle = throttle.Config{Burst: 50, Every: 5 * time.Second, MaxKeys: 100_000}

// WithDefaults returns a copy of c with every zero field set to its
// documented default, Live's included. NewHandler calls it, then Validate.
func (c HandlerConfig) WithDefaults() HandlerConfig {
	if c.Passwords == (password.Params{}) {
		c.Passwords = password.Default
	}
	setDefault(&c.SIPRealm, "ucgrid.local")
	setDefault(&c.MaxBodyBytes, 1<<20)
	setDefault(&c.ReadWait, 5*time.Second)
	setDefault(&c.WriteTimeout, 10*time.Second)
	c.Tokens = c.Tokens.WithDefaults()
	setDefault(&c.PairThrottle, DefaultPairThrottle)
	setDefault(&c.KnownSourceTTL, 30*24*time.Hour)
	setDefault(&c.UserThrottle, DefaultUserThrottle)
	setDefault(&c.AddressThrottle, DefaultAddressThrottle)
	setDefault(&c.MaxConcurrentVerify, 4)
	setDefault(&c.MaxPendingTokenWaits, 64)
	setDefault(&c.MaxInFlight, 256)
	c.Live = c.Live.WithDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func setDefault[T comparable](field *T, v T) {
	var zero T
	if *field == zero {
		*field = v
	}
}

// configError is the error of a Config's Validate: "api: <Type>.<Field>:
// <what is wrong>".
func configError(field, format string, args ...any) error {
	return fmt.Errorf("api: %s: %s", field, fmt.Sprintf(format, args...))
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c HandlerConfig) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Directory == nil:
		return configError("HandlerConfig.Directory", "is nil")
	case c.MaxBodyBytes < 1024:
		return configError("HandlerConfig.MaxBodyBytes", "%d, must be at least 1024", c.MaxBodyBytes)
	case c.ReadWait < 0:
		return configError("HandlerConfig.ReadWait", "%v is negative", c.ReadWait)
	case c.WriteTimeout < 0:
		return configError("HandlerConfig.WriteTimeout", "%v is negative", c.WriteTimeout)
	case c.KnownSourceTTL < 0:
		return configError("HandlerConfig.KnownSourceTTL", "%v is negative", c.KnownSourceTTL)
	case c.MaxPendingTokenWaits < 1:
		return configError("HandlerConfig.MaxPendingTokenWaits", "%d, must be at least 1", c.MaxPendingTokenWaits)
	case c.MaxConcurrentVerify < 1:
		return configError("HandlerConfig.MaxConcurrentVerify", "%d, must be at least 1", c.MaxConcurrentVerify)
	case c.MaxInFlight < 1:
		return configError("HandlerConfig.MaxInFlight", "%d, must be at least 1", c.MaxInFlight)
	}
	if err := c.validatePasswords(); err != nil {
		return err
	}
	if err := checkText("HandlerConfig.SIPRealm", c.SIPRealm, maxText); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return errors.New("api: " + ae.msg) // without the HTTP status of an answer
		}
		return fmt.Errorf("api: %w", err)
	}
	if err := c.validateParts(); err != nil {
		return err
	}
	if c.Live.Events != nil && (c.Presence == nil || c.Live.Lines == nil) {
		return errLiveNeeds
	}
	return nil
}

func (c HandlerConfig) validatePasswords() error {
	p := c.Passwords
	switch {
	case p.Time == 0:
		return configError("HandlerConfig.Passwords.Time", "is 0, must be positive")
	case p.Threads == 0:
		return configError("HandlerConfig.Passwords.Threads", "is 0, must be positive")
	case p.KeyLen < 16:
		return configError("HandlerConfig.Passwords.KeyLen", "%d, must be at least 16", p.KeyLen)
	case p.SaltLen < 8:
		return configError("HandlerConfig.Passwords.SaltLen", "%d, must be at least 8", p.SaltLen)
	}
	return nil
}

// validateParts checks the configs HandlerConfig carries.
func (c HandlerConfig) validateParts() error {
	for _, part := range []struct {
		field string
		check func() error
	}{
		{"Tokens", c.Tokens.Validate}, {"PairThrottle", c.PairThrottle.Validate},
		{"UserThrottle", c.UserThrottle.Validate}, {"AddressThrottle", c.AddressThrottle.Validate},
	} {
		if err := part.check(); err != nil {
			return fmt.Errorf("api: HandlerConfig.%s: %w", part.field, err)
		}
	}
	return c.Live.Validate()
}

// Handler serves the /v1 routes. It is safe for concurrent use.
type Handler struct {
	cfg   HandlerConfig
	dir   *persistence.Node
	mux   *http.ServeMux
	auth  *authenticator
	store *persistence.Store
	live  *liveRuntime
	m     *httpMetrics
	// tokenWaits holds a slot per request waiting for an index with
	// credentials not valid here yet (MaxPendingTokenWaits).
	tokenWaits chan struct{}
	// inFlight holds a slot per /v1 request being answered (MaxInFlight).
	inFlight chan struct{}
}

// NewHandler validates cfg and builds the routes.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, dir: cfg.Directory, store: cfg.Directory.Store(), mux: http.NewServeMux(), m: newHTTPMetrics(cfg.Metrics),
		tokenWaits: make(chan struct{}, cfg.MaxPendingTokenWaits), inFlight: make(chan struct{}, cfg.MaxInFlight)}
	var err error
	if h.auth, err = newAuthenticator(&h.cfg, h.store); err != nil {
		return nil, err
	}
	h.routes()
	h.reverseRoutes()
	h.liveRoutes()
	return h, nil
}

// ServeHTTP answers /v1 requests.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start, route := time.Now(), unmatchedRoute
	w := &statusWriter{ResponseWriter: rw}
	defer func() { h.m.observe(route, w.status(), time.Since(start)) }()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.cfg.Logger.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", p)
			writeError(w, http.StatusInternalServerError, codeInternal, "internal error")
		}
	}()
	_, pattern := h.mux.Handler(r)
	if pattern == "" {
		h.noRoute(w, r)
		return
	}
	route = pattern
	if route != streamRoute {
		if !h.enter() {
			h.refuseOverload(w)
			return
		}
		defer h.leave()
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		h.markStale(w)
	}
	h.mux.ServeHTTP(w, r)
}

// enter takes a slot among the requests in flight; false when all
// MaxInFlight are taken.
func (h *Handler) enter() bool {
	select {
	case h.inFlight <- struct{}{}:
		h.m.inFlight.Inc()
		return true
	default:
		return false
	}
}

func (h *Handler) leave() {
	<-h.inFlight
	h.m.inFlight.Dec()
}

// refuseOverload answers a request beyond MaxInFlight: 503 with
// Retry-After, nothing logged (the metric counts them).
func (h *Handler) refuseOverload(w http.ResponseWriter) {
	h.m.overloadRefused.Inc()
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the node is overloaded: too many requests in progress; retry in a second")
}

// StaleHeader marks a read answered by a node that has lost touch with the
// Raft leader (cut off from the majority, or during an election): its
// value is how many seconds ago the node last heard from a leader. The
// answer comes from the node's local copy and may miss recent writes.
const StaleHeader = "X-Ucgrid-Stale"

func (h *Handler) markStale(w http.ResponseWriter) {
	if age, stale := h.dir.Staleness(); stale {
		w.Header().Set(StaleHeader, strconv.FormatFloat(age.Seconds(), 'f', 1, 64))
	}
}

// noRoute answers a request no pattern matches with the mux's status (404
// or 405 with Allow) in the JSON error shape.
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	probe := &statusProbe{header: http.Header{}}
	mh, _ := h.mux.Handler(r)
	mh.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeError(w, http.StatusMethodNotAllowed, codeMethod, fmt.Sprintf("%s is not allowed on %s (allowed: %s)", clip(r.Method), clip(r.URL.Path), probe.header.Get("Allow")))
		return
	}
	writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no route %s %s", clip(r.Method), clip(r.URL.Path)))
}

// statusProbe records what the mux's own 404/405 handler would answer.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }

func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }

func (p *statusProbe) WriteHeader(s int) { p.status = s }
