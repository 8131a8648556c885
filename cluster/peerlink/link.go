package peerlink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ucgrid/ucgrid/cluster/pki"
)

// ALPN protocols of the link.
const (
	ProtoRaft     = "ucgrid-raft"
	ProtoInternal = "ucgrid-internal"
)

// handshakeTimeout bounds a peer's TLS handshake, so a peer that connects
// and says nothing holds a goroutine for no longer.
const handshakeTimeout = 10 * time.Second

// Link is the listener and dialer of a node's node-to-node traffic. Its
// methods are safe for concurrent use.
type Link struct {
	ln        net.Listener
	bundle    *pki.Bundle
	advertise net.Addr
	log       *slog.Logger
	raft      *subListener
	internal  *subListener

	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup

	refused atomic.Uint64 // peers refused at the handshake

	connMu sync.Mutex
	conns  map[*authedConn]struct{} // accepted and handed out, still open
}

// Listen binds addr (TCP) and starts accepting peers authenticated by b.
// advertise is the address peers dial ("" = the bound one).
func Listen(addr, advertise string, b *pki.Bundle, log *slog.Logger) (*Link, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("peerlink: listen on %s: %w", addr, err)
	}
	l := &Link{ln: ln, bundle: b, advertise: ln.Addr(), log: log, done: make(chan struct{})}
	if advertise == "" {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
			ln.Close()
			return nil, fmt.Errorf("peerlink: %s binds all interfaces and peers cannot dial that: bind the address peers reach this node on", addr)
		}
	}
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("peerlink: advertise address %q: %w", advertise, err)
		}
		l.advertise = a
	}
	l.raft = newSubListener(l)
	l.internal = newSubListener(l)
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// Refused counts the peers refused so far (failed handshake, unknown ALPN
// protocol), for a metric.
func (l *Link) Refused() uint64 { return l.refused.Load() }

// Addr is the address peers dial.
func (l *Link) Addr() net.Addr { return l.advertise }

// Raft returns the stream layer the Raft transport runs on. Closing it
// closes the link.
func (l *Link) Raft() raft.StreamLayer { return raftLayer{l} }

// Internal returns the listener of node-to-node HTTP connections: peers
// already authenticated, handed out as plain net.Conns (not *tls.Conn),
// so that net/http serves HTTP/1.1 on them. Closing it stops only its
// Accept; the link stays open for Raft.
func (l *Link) Internal() net.Listener { return l.internal }

// DialInternal opens an authenticated connection to the node-to-node HTTP
// server of the node whose link listens on addr; A refused handshake is
// returned as a *net.OpError with Op "dial": nothing was sent.
// node, when not "", is the node the peer's certificate must name.
func (l *Link) DialInternal(ctx context.Context, addr, node string) (net.Conn, error) {
	return l.dialAs(ctx, addr, node, ProtoInternal)
}

// Probe checks that the node at addr is node: it completes a handshake
// in which the peer must present node's certificate of the cluster CA,
// and hangs up. The leader probes a server before adding it to Raft.
func (l *Link) Probe(ctx context.Context, addr, node string) error {
	c, err := l.dialAs(ctx, addr, node, ProtoInternal)
	if err != nil {
		return err
	}
	return c.Close()
}

func (l *Link) dial(ctx context.Context, addr, proto string) (net.Conn, error) {
	return l.dialAs(ctx, addr, "", proto)
}

// dialAs dials addr, requiring the peer to be node ("" = any node).
func (l *Link) dialAs(ctx context.Context, addr, node, proto string) (net.Conn, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: l.bundle.Client(node, proto)}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return nil, err
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: nil, Err: fmt.Errorf("peerlink: peer %s refused: %w", addr, err)}
	}
	if got := c.(*tls.Conn).ConnectionState().NegotiatedProtocol; got != proto {
		c.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("peerlink: peer %s does not speak %s", addr, proto)}
	}
	return c, nil
}

// Close stops accepting, closes the listener and every connection it
// accepted. Connections it dialled are their owners' to close.
func (l *Link) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.ln.Close()
		l.wg.Wait()
		l.connMu.Lock()
		conns := l.conns
		l.conns = nil
		l.connMu.Unlock()
		for c := range conns {
			c.Conn.Close() // ends the peer's stream; its reader sees the error
		}
	})
	return err
}

func (l *Link) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Warn("peerlink: accept", "err", err)
			continue
		}
		l.wg.Add(1)
		go l.handshake(c)
	}
}

// handshake authenticates one peer and hands its connection on by ALPN.
func (l *Link) handshake(raw net.Conn) {
	defer l.wg.Done()
	tc := tls.Server(raw, l.bundle.Server(ProtoRaft, ProtoInternal))
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	go func() {
		select {
		case <-l.done:
			raw.Close()
		case <-ctx.Done():
		}
	}()
	if err := tc.HandshakeContext(ctx); err != nil {
		l.refused.Add(1)
		l.log.Warn("peerlink: refused a peer", "peer", raw.RemoteAddr().String(), "err", err)
		raw.Close()
		return
	}
	var to *subListener
	switch tc.ConnectionState().NegotiatedProtocol {
	case ProtoRaft:
		to = l.raft
	case ProtoInternal:
		to = l.internal
	default:
		l.refused.Add(1)
		l.log.Warn("peerlink: refused a peer", "peer", raw.RemoteAddr().String(), "err", "no ucgrid ALPN protocol")
		raw.Close()
		return
	}
	conn := l.track(tc)
	if !to.deliver(conn) {
		conn.Close()
	}
}

// track registers an accepted connection, so that Close ends it: Raft's
// transport does not close the connections it accepted.
func (l *Link) track(tc *tls.Conn) net.Conn {
	c := &authedConn{Conn: tc, l: l}
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if l.conns == nil {
		l.conns = map[*authedConn]struct{}{}
	}
	l.conns[c] = struct{}{}
	return c
}

// authedConn is an accepted connection whose TLS handshake (and peer
// check) is done. It is handed out as a plain net.Conn, not a *tls.Conn:
// net/http gives a *tls.Conn whose ALPN protocol it does not know to
// Server.TLSNextProto and closes it when there is none; as a plain
// connection it speaks HTTP/1.1 on it.
type authedConn struct {
	net.Conn
	l *Link
}

func (c *authedConn) Close() error {
	c.l.connMu.Lock()
	delete(c.l.conns, c)
	c.l.connMu.Unlock()
	return c.Conn.Close()
}

// subListener is a net.Listener fed by the link's accept loop.
type subListener struct {
	l      *Link
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newSubListener(l *Link) *subListener {
	return &subListener{l: l, ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (s *subListener) deliver(c net.Conn) bool {
	select {
	case s.ch <- c:
		return true
	case <-s.closed:
	case <-s.l.done:
	}
	return false
}

func (s *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-s.ch:
		return c, nil
	case <-s.closed:
	case <-s.l.done:
	}
	return nil, net.ErrClosed
}

func (s *subListener) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (s *subListener) Addr() net.Addr { return s.l.advertise }

// raftLayer is the raft.StreamLayer of a link.
type raftLayer struct{ l *Link }

func (r raftLayer) Accept() (net.Conn, error) { return r.l.raft.Accept() }
func (r raftLayer) Close() error              { return r.l.Close() }
func (r raftLayer) Addr() net.Addr            { return r.l.advertise }

func (r raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return r.l.dial(ctx, string(address), ProtoRaft)
}
