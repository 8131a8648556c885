package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/internal/throttle"
)

// Server is a running SIP server: registrar, proxy and subscription
// server on one UDP and one TCP socket. Its methods are safe for
// concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	udp    net.PacketConn
	edge   net.PacketConn // udp as sipgo reads it (udpEdge)
	tcp    net.Listener
	tls    net.Listener // nil without TLSAddr
	cert   atomic.Pointer[tls.Certificate]
	// addrs names our address toward each peer (addr.go); host and port
	// are the name used where no peer is known (the advertised or bound
	// address, else an interface address; the advertised or bound port);
	// tlsPort the TLS port (0 without TLS).
	addrs   *addrs
	probe   *routeProbe
	host    string
	port    int
	tlsPort int
	// wideWarned holds the trunk ranges ignored as too wide and already
	// logged (trunkAllows).
	wideWarned sync.Map
	// reads and logOnce serve the log filter given to sipgo (logfilter.go).
	reads   *recentReads
	logOnce *onceEvery

	nonces    *nonces
	byAddr    *throttle.Limiter // digest failures per source address (throttle.go)
	lineGuard *lineGuard
	calls     *callTable
	subs      *subTable
	flows     *natFlows   // NATed bindings held here (keepalive.go)
	flowKey   []byte      // signs flow tokens (nat.go)
	flowCalls flowDialogs // dialogs relayed to NATed phones' flows (path.go)
	node      string      // our SIP URI for the other nodes (pickuppeer.go)
	referrals referrals   // REFERs accepted lately, for the new calls (transfer.go)
	trunkRegs trunkRegs   // registrations at trunk upstreams (trunkreg.go)
	adm       *admission  // overload control (overload.go)

	// ctx ends when Shutdown starts: calls cancel their branches and
	// subscriptions end. work counts the handlers and goroutines running.
	// draining is set by Drain: new work is refused, calls go on.
	ctx      context.Context
	stop     context.CancelFunc
	work     tracker
	draining atomic.Bool
	closing  atomic.Bool
	served   chan error
}

// Start binds cfg.Addr (UDP and TCP) and serves until Shutdown. A taken
// address fails with an error wrapping ErrAddrInUse.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, served: make(chan error, 3),
		reads: &recentReads{}, logOnce: newOnceEvery(unparsableLogEvery)}
	var err error
	if s.byAddr, err = failureThrottle("AuthFailures", cfg.AuthFailures, cfg.AuthWindow); err != nil {
		return nil, err
	}
	if s.lineGuard, err = newLineGuard(cfg); err != nil {
		return nil, err
	}
	if cfg.TLSAddr != "" {
		if err := s.ReloadTLS(); err != nil {
			return nil, err
		}
	}
	if s.flowKey, err = flowKey(cfg); err != nil {
		return nil, err
	}
	udp, tcp, err := listen(cfg.Addr)
	if err != nil {
		return nil, err
	}
	s.udp, s.tcp = udp, tcp
	if cfg.TLSAddr != "" {
		if s.tls, err = net.Listen("tcp", cfg.TLSAddr); err != nil {
			closeListeners(udp, tcp)
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("%w: %s: %w", ErrTLSAddrInUse, cfg.TLSAddr, err)
			}
			return nil, fmt.Errorf("sip: listen tls %s: %w", cfg.TLSAddr, err)
		}
		s.tlsPort = s.tls.Addr().(*net.TCPAddr).Port
	}
	if err := s.advertised(ctx); err != nil {
		s.closeListeners()
		return nil, err
	}
	s.node = "sip:" + net.JoinHostPort(s.pathHost(), strconv.Itoa(s.port))
	if s.m, err = newMetrics(cfg.Registerer); err != nil {
		s.closeListeners()
		return nil, err
	}
	var mem *edgeMemory
	if cfg.EdgeProcess {
		if mem, err = newEdgeMemory(); err != nil {
			s.log.Warn("sip: no UDP edge process: the node reads its SIP UDP socket itself", "err", err)
		}
	}
	var st *edgeState
	if mem != nil {
		st = mem.st
	}
	s.adm = newAdmission(cfg, s.m, st)
	s.setOverloadSignal(edgeSignal{s.adm})
	if err := s.build(); err != nil {
		s.closeListeners()
		return nil, err
	}
	s.ctx, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	s.nonces = newNonces(cfg.NonceTTL)
	s.calls = newCallTable()
	s.subs = newSubTable()
	s.flows = newNATFlows()
	s.route()
	s.edge = s.udpEdge(udp.(*net.UDPConn), mem)
	go func() { s.served <- s.srv.ServeUDP(s.edge) }()
	go func() { s.served <- s.srv.ServeTCP(s.guardListener(tcp, "tcp", nil)) }()
	if s.tls != nil {
		conf := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		}}
		go func() { s.served <- s.srv.ServeTLS(s.guardListener(s.tls, "tls", conf)) }()
	}
	if err := s.waitServing(ctx); err != nil {
		_ = s.Shutdown(context.Background()) // the wait's error is the one to report
		return nil, err
	}
	if cfg.NATPingInterval > 0 {
		s.goTracked(s.keepAlive)
	}
	s.goTracked(s.keepTrunkRegistrations)
	s.goTracked(func() { s.adm.sampleCPU(s.ctx.Done()) })
	s.log.Info("sip: listening", "addr", s.Addr(), "tls", s.TLSAddr(), "domain", cfg.Domain, "advertise", cfg.Advertise)
	return s, nil
}

// ReloadTLS reads TLSCertFile and TLSKeyFile again; new TLS connections
// get the new certificate. An error (naming the files) keeps the old one.
func (s *Server) ReloadTLS() error {
	cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("sip: tls certificate %s / key %s: %w", s.cfg.TLSCertFile, s.cfg.TLSKeyFile, err)
	}
	s.cert.Store(&cert)
	return nil
}

// guardListener wraps a TCP listener in the connection guards (conn.go):
// the per-source cap, TLS when conf is given, then the timeouts.
func (s *Server) guardListener(l net.Listener, transport string, conf *tls.Config) net.Listener {
	var ln net.Listener = &guardedListener{Listener: l, g: newConnGuard(s.cfg.MaxConnsPerSource, s.m),
		transport: transport, log: s.log, logged: s.logOnce}
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	return &timedListener{Listener: ln, idle: s.cfg.IdleTimeout, msg: s.cfg.MessageTimeout, transport: transport, m: s.m}
}

// TLSAddr is the address SIP over TLS listens on ("" without TLS).
func (s *Server) TLSAddr() string {
	if s.tls == nil {
		return ""
	}
	return s.tls.Addr().String()
}

// waitServing waits until sipgo has taken the UDP socket into its
// connection pool: requests sent from it before that would try to bind
// the port again.
func (s *Server) waitServing(ctx context.Context) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for {
		if c, err := s.ua.TransportLayer().GetConnection("udp", s.udp.LocalAddr().String()); err == nil && c != nil {
			return nil
		}
		select {
		case <-tick.C:
		case <-deadline:
			return errors.New("sip: udp listener did not start")
		case <-ctx.Done():
			return fmt.Errorf("sip: start: %w", ctx.Err())
		}
	}
}

// build makes the sipgo user agent, server and client.
func (s *Server) build() error {
	var err error
	lib := slog.New(&logFilter{next: s.log.Handler(), reads: s.reads, once: s.logOnce, count: s.m.unparsable.Inc})
	s.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent("ucgrid"),
		sipgo.WithUserAgentHostname(s.host),
		sipgo.WithUserAgentParser(newParser()),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(lib),
			sip.WithTransactionLayerUnhandledResponseHandler(s.strayResponse)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(lib),
			sip.WithTransportLayerReadFilter(s.readFilter)),
	)
	if err != nil {
		return fmt.Errorf("sip: user agent: %w", err)
	}
	if s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(lib)); err != nil {
		return fmt.Errorf("sip: server: %w", err)
	}
	s.client, err = sipgo.NewClient(s.ua, sipgo.WithClientLogger(lib),
		sipgo.WithClientHostname(s.host), sipgo.WithClientPort(s.port))
	if err != nil {
		return fmt.Errorf("sip: client: %w", err)
	}
	return nil
}

// route registers the request handlers, each behind guard.
func (s *Server) route() {
	s.srv.OnRegister(s.guard(s.onRegister))
	s.srv.OnInvite(s.guard(s.onInvite))
	s.srv.OnAck(s.guard(s.onAck))
	s.srv.OnCancel(s.guard(s.onStrayCancel))
	s.srv.OnOptions(s.guard(s.onOptions))
	s.srv.OnSubscribe(s.guard(s.onSubscribe))
	s.srv.OnNoRoute(s.guard(s.onInDialog))
}

// guard counts the request, answers 503 while shutting down (while
// draining: only to requests that start something new, drain.go; while
// overloaded: to new work, overload.go), 400
// to a request whose Contact sipgo could not parse (badcontact.go), and
// turns a panic in h into a 500 and a log line: bad input never takes
// the node down.
func (s *Server) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		s.m.requests.WithLabelValues(methodLabel(req.Method)).Inc()
		defer func() {
			if r := recover(); r != nil {
				s.m.panics.Inc()
				s.log.Error("sip: handler panic", "method", string(req.Method), "panic", fmt.Sprint(r))
				if tx != nil && !req.IsAck() {
					s.respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
				}
			}
		}()
		if !s.work.add() {
			if !req.IsAck() {
				res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Shutting Down", nil)
				res.AppendHeader(sip.NewHeader("Retry-After", "5"))
				s.send(tx, res)
			}
			return
		}
		defer s.work.done()
		stampRequest(req)
		s.stampOverloadFeedback(req)
		if s.draining.Load() && startsNew(req) {
			s.refuseDraining(req, tx)
			return
		}
		tx, done, ok := s.admit(req, tx)
		if !ok {
			return
		}
		defer done()
		if s.refuseBadContact(req, tx) || s.onFlowRoute(req, tx) {
			return
		}
		h(req, tx)
	}
}

// Addr is the address the server listens on (UDP and TCP).
func (s *Server) Addr() string { return s.udp.LocalAddr().String() }

// Shutdown stops the server: new requests get 503, ringing calls are
// cancelled (their callers get 503), connected calls are ended,
// subscriptions end, then the sockets close. It waits for the server's
// goroutines until ctx ends. A graceful leave calls Drain first, so that
// calls under way can finish.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	s.stop()
	// Ringing calls end with the context (their branches are cancelled).
	// Connected calls would wait for a BYE this node can no longer relay:
	// their media goes on between the phones, but this node's record of
	// them ends now, so their lines go idle and their journal entries are
	// written instead of being lost with the process.
	for _, c := range s.calls.all() {
		if c.connected() {
			c.end()
		}
	}
	var err error
	select {
	case <-s.work.close():
	case <-ctx.Done():
		err = fmt.Errorf("sip: shutdown: calls still ending: %w", ctx.Err())
	}
	s.closeListeners()
	if cerr := closeError(s.ua.Close()); cerr != nil && err == nil {
		err = fmt.Errorf("sip: shutdown: %w", cerr)
	}
	s.m.unregister()
	return err
}

// closeError is err from closing the transports without what only says
// that a connection's peer had gone first (a phone that dropped its TLS
// connection: "failed to send closeNotify alert … broken pipe"): such
// a connection is closed all the same.
func closeError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var keep []error
		for _, e := range j.Unwrap() {
			if e = closeError(e); e != nil {
				keep = append(keep, e)
			}
		}
		return errors.Join(keep...)
	}
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// listen binds UDP and TCP on the same host:port. With port 0 it retries
// when the port picked for UDP is taken for TCP.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	host, port, _ := net.SplitHostPort(addr) // validated by Config.validate
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, listenError("udp", addr, err)
		}
		sizeUDPBuffers(udp.(*net.UDPConn))
		bound := strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, bound))
		if err == nil {
			return udp, tcp, nil
		}
		_ = udp.Close() // the TCP error is the one to report
		if port != "0" || attempt == 20 {
			return nil, nil, listenError("tcp", net.JoinHostPort(host, bound), err)
		}
	}
}

// udpBufferBytes is the UDP socket's receive and send buffer: a burst of
// datagrams (a call storm, retransmissions after a pause of the process)
// waits in the kernel instead of being dropped. The Linux default
// (~208 KiB) overflowed at 900 group calls/s while the node had CPU to
// spare; Kamailio asks for 4 MiB too (maxbuffer). The kernel caps it at
// net.core.rmem_max / wmem_max (raise those to get all of it).
const udpBufferBytes = 4 << 20

// sizeUDPBuffers asks for udpBufferBytes. A refusal leaves the kernel's
// default, with which the node still works (only bursts drop sooner).
func sizeUDPBuffers(c *net.UDPConn) {
	_ = c.SetReadBuffer(udpBufferBytes)  // see above: a refusal is not fatal
	_ = c.SetWriteBuffer(udpBufferBytes) // see above
}

func listenError(network, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: %s %s: %w", ErrAddrInUse, network, addr, err)
	}
	return fmt.Errorf("sip: listen %s %s: %w", network, addr, err)
}

func closeListeners(udp net.PacketConn, tcp net.Listener) {
	// Errors closing sockets that may already be closed by sipgo carry no
	// information.
	_ = udp.Close()
	_ = tcp.Close()
}

// udpEdge is the UDP socket as sipgo reads it: through an edge process
// when mem is its shared page and it starts, else through edgeConn.
func (s *Server) udpEdge(udp *net.UDPConn, mem *edgeMemory) net.PacketConn {
	if mem != nil {
		edge, err := startEdgeProcess(udp, mem, s.adm, s.log, s.logOnce)
		if err == nil {
			return edge
		}
		s.log.Warn("sip: no UDP edge process: the node reads its SIP UDP socket itself", "err", err)
	}
	return newEdgeConn(udp, s.adm, s.log, s.logOnce)
}

func (s *Server) closeListeners() {
	if s.edge != nil {
		_ = s.edge.Close() // closes s.udp too; closed already is fine
	}
	closeListeners(s.udp, s.tcp)
	if s.probe != nil {
		s.probe.close()
	}
	if s.tls != nil {
		_ = s.tls.Close() // as above
	}
}

// advertised builds the server's address book once its sockets are
// bound, and checks an advertised host name resolves (the node does not
// start with one that does not).
func (s *Server) advertised(ctx context.Context) error {
	bound := s.udp.LocalAddr().(*net.UDPAddr).AddrPort()
	famAddr := s.cfg.Addr
	if listenFamily(famAddr) == 0 && !bound.Addr().Unmap().IsUnspecified() {
		famAddr = bound.String() // a host name bound to one address
	}
	if s.cfg.Advertise != "" {
		if err := ResolveAdvertise(ctx, s.cfg.Advertise, famAddr); err != nil {
			return err
		}
	}
	s.probe = newRouteProbe()
	s.addrs = newAddrs(bound.Addr(), s.cfg.Advertise, int(bound.Port()), s.tlsPort, s.probe.route)
	if s.tls != nil {
		s.addrs.tlsBound = s.tls.Addr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	}
	if s.host = s.addrs.fixed("UDP"); s.host == "" {
		s.host = s.addrs.fallback(netip.Addr{}).String()
	}
	s.port = s.addrs.portFor("UDP")
	return nil
}

// respond answers req on tx with a bare response.
func (s *Server) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	s.send(tx, sip.NewResponseFromRequest(req, code, reason, nil))
}

// send writes res on tx; a failure (the peer went away) is only logged.
func (s *Server) send(tx sip.ServerTransaction, res *sip.Response) {
	if tx == nil {
		return
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip: respond", "code", res.StatusCode, "err", err)
	}
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) {
		s.onInDialog(req, tx)
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, UPDATE, INFO, REFER, PRACK, MESSAGE"))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp, application/pidf+xml, application/dialog-info+xml"))
	s.send(tx, res)
}

// onStrayCancel answers a CANCEL that matched no INVITE transaction
// (sipgo answers matched ones itself).
func (s *Server) onStrayCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	return to != nil && to.Params.Has("tag")
}

// tracker counts running work and refuses new work once closed; unlike
// sync.WaitGroup it allows add concurrently with the wait.
type tracker struct {
	mu     sync.Mutex
	n      int
	closed bool
	zero   chan struct{}
}

// add counts one more piece of work, or returns false after close.
func (t *tracker) add() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.n++
	return true
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.closed && t.n == 0 {
		close(t.zero)
	}
}

// close refuses new work and returns a channel closed when none runs.
func (t *tracker) close() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed, t.zero = true, make(chan struct{})
		if t.n == 0 {
			close(t.zero)
		}
	}
	return t.zero
}

// goTracked runs f in a goroutine counted by the tracker; after close it
// runs nothing and returns false.
func (s *Server) goTracked(f func()) bool {
	if !s.work.add() {
		return false
	}
	go func() {
		defer s.work.done()
		f()
	}()
	return true
}
