package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures the HTTP server. Zero fields take the defaults
// documented on each; Listen fills them in (WithDefaults) and then calls
// Validate.
type Config struct {
	// Addr is the TCP address (host:port) to listen on, e.g.
	// "127.0.0.1:8080"; port 0 picks a free one. Required.
	Addr string
	// Ready reports whether the node can serve: nil when ready, otherwise
	// why not (shown on /readyz). Required.
	Ready func() error
	// Gatherer is what /metrics exposes. Required.
	Gatherer prometheus.Gatherer
	// TLSCert and TLSKey are PEM files of the HTTPS certificate (chain
	// first, leaf at the top) and its private key. Both empty (the
	// default): plain HTTP (behind a reverse proxy that terminates TLS, or
	// on loopback). The files are read again on ReloadCertificate.
	TLSCert, TLSKey string
	// Now reads the clock (certificate validity). Default time.Now.
	Now func() time.Time
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its
// documented default.
func (c Config) WithDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Addr == "":
		return configError("Config.Addr", "is empty")
	case c.Ready == nil:
		return configError("Config.Ready", "is nil")
	case c.Gatherer == nil:
		return configError("Config.Gatherer", "is nil")
	case c.TLSCert != "" && c.TLSKey == "":
		return configError("Config.TLSKey", "is empty: TLSCert and TLSKey go together, give both or neither")
	case c.TLSCert == "" && c.TLSKey != "":
		return configError("Config.TLSCert", "is empty: TLSCert and TLSKey go together, give both or neither")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return configError("Config.Addr", "%q: %v", c.Addr, err)
	}
	return nil
}

// Server is the node's HTTP server. It serves /healthz, /readyz and
// /metrics from the start, and /v1/ once a Handler is mounted: until then
// /v1/ answers 503, so the port can be bound before the directory opens.
type Server struct {
	ln  net.Listener
	srv *http.Server
	v1  atomic.Pointer[http.Handler]
	// cert is the HTTPS certificate; nil = plain HTTP.
	cert *certificate
	now  func() time.Time
}

// ErrAddrInUse is returned by Listen when another process holds the address.
var ErrAddrInUse = errors.New("api: address already in use")

// Listen binds cfg.Addr and returns a server ready to Serve.
func Listen(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var cert *certificate
	if cfg.TLSCert != "" {
		var err error
		if cert, err = loadCertificate(cfg.TLSCert, cfg.TLSKey, cfg.Now()); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: %s", ErrAddrInUse, cfg.Addr)
		}
		return nil, fmt.Errorf("api: listen on %s: %w", cfg.Addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := cfg.Ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError)}))
	s := &Server{ln: ln, cert: cert, now: cfg.Now}
	mux.HandleFunc("/v1/", s.serveV1)
	mountConsole(mux)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second, // a slow client cannot hold a connection open forever
		// A request body (at most 1 MiB) arrives well within a minute; no
		// WriteTimeout, as the event stream writes for hours.
		ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	if cert != nil {
		s.srv.TLSConfig = cert.tlsConfig()
	} else if !isLoopback(ln.Addr()) {
		cfg.Logger.Warn("HTTP is served without TLS beyond loopback: passwords and tokens cross the network in clear unless a reverse proxy terminates TLS in front (--http-tls-cert, --http-tls-key)",
			"addr", ln.Addr().String())
	}
	return s, nil
}

// isLoopback reports whether addr is a loopback address only (not the
// unspecified address, which binds every interface).
func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// TLS reports whether the server serves HTTPS.
func (s *Server) TLS() bool { return s.cert != nil }

// PeerTLSConfig is the TLS configuration for requests to other nodes'
// HTTP servers when this one serves HTTPS (nil otherwise): the nodes of
// a cluster serve HTTPS alike, with one certificate or certificates of
// one CA.
func (s *Server) PeerTLSConfig() *tls.Config {
	if s.cert == nil {
		return nil
	}
	return s.cert.peerTLSConfig()
}

// ReloadCertificate reads the certificate and key files again; new
// connections get the new certificate, the listener stays. On error
// (which names the file) the certificate in use stays. Without TLS it
// does nothing.
func (s *Server) ReloadCertificate() error {
	if s.cert == nil {
		return nil
	}
	return s.cert.Reload(s.now())
}

// Mount serves h under /v1/ from now on. It may be called before or while
// serving.
func (s *Server) Mount(h http.Handler) { s.v1.Store(&h) }

func (s *Server) serveV1(w http.ResponseWriter, r *http.Request) {
	h := s.v1.Load()
	if h == nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the node is starting: the directory is not open yet")
		return
	}
	(*h).ServeHTTP(w, r)
}

// Addr is the address the server listens on (with the real port when the
// configured one was 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Shutdown; it then returns nil.
func (s *Server) Serve() error {
	var err error
	if s.cert != nil {
		// The certificate comes from TLSConfig.GetCertificate.
		err = s.srv.ServeTLS(s.ln, "", "")
	} else {
		err = s.srv.Serve(s.ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for open requests until ctx
// ends. It also releases the address when Serve was never called.
func (s *Server) Shutdown(ctx context.Context) error {
	// Event streams never end by themselves: tell them to, or Shutdown
	// would wait for them until ctx ends.
	if h := s.v1.Load(); h != nil {
		if es, ok := (*h).(interface{ EndStreams() }); ok {
			es.EndStreams()
		}
	}
	err := s.srv.Shutdown(ctx)
	if cerr := s.ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = errors.Join(err, cerr)
	}
	return err
}
