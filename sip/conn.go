package sip

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Connection-oriented transports (TCP, TLS) are guarded below sipgo,
// which reads whatever its listener accepts for as long as the peer
// likes:
//
//   - at most Config.MaxConnsPerSource connections from one IP address;
//     more are closed at once;
//   - a connection must bring each message (and, for TLS, its handshake)
//     within Config.MessageTimeout of its first byte: a half-sent header
//     or body is not held for ever;
//   - between messages a connection may be quiet for Config.IdleTimeout;
//     RFC 5626 keep-alives (CRLF CRLF, answered with CRLF by sipgo) count
//     as traffic, so a phone that pings keeps its flow;
//   - a write that cannot complete within MessageTimeout (a peer that
//     does not read) fails and ends the connection.

// connGuard counts open connections per source address.
type connGuard struct {
	max int
	m   *metrics

	mu       sync.Mutex
	bySource map[string]int
}

func newConnGuard(max int, m *metrics) *connGuard {
	return &connGuard{max: max, m: m, bySource: map[string]int{}}
}

func (g *connGuard) acquire(ip string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.bySource[ip] >= g.max {
		return false
	}
	g.bySource[ip]++
	return true
}

func (g *connGuard) release(ip string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.bySource[ip]--; g.bySource[ip] <= 0 {
		delete(g.bySource, ip)
	}
}

// guardedListener admits connections within the per-source cap. Accept
// errors that are not the listener's closing are retried after a pause
// (sipgo stops serving on the first Accept error).
type guardedListener struct {
	net.Listener
	g         *connGuard
	transport string // metrics label: tcp, tls
	log       *slog.Logger
	logged    *onceEvery
}

func (l *guardedListener) Accept() (net.Conn, error) {
	pause := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			l.log.Warn("sip: accept", "transport", l.transport, "err", err)
			time.Sleep(pause)
			pause = min(2*pause, time.Second)
			continue
		}
		pause = 5 * time.Millisecond
		ip := hostOf(c.RemoteAddr().String())
		if !l.g.acquire(ip) {
			_ = c.Close() // refused: nothing to report to the peer
			l.g.m.connsRefused.WithLabelValues(l.transport).Inc()
			if l.logged.allow("conns:"+ip, time.Now()) {
				l.log.Warn("sip: too many connections from one address, refusing more", "transport", l.transport, "source", ip, "max", l.g.max)
			}
			continue
		}
		l.g.m.connsOpen.WithLabelValues(l.transport).Inc()
		return &countedConn{Conn: c, release: func() {
			l.g.release(ip)
			l.g.m.connsOpen.WithLabelValues(l.transport).Dec()
		}}, nil
	}
}

// countedConn gives its place back once, on its first Close.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// timedListener wraps each accepted connection in a timedConn; for TLS
// it sits above the TLS listener, so it sees the plaintext.
type timedListener struct {
	net.Listener
	idle, msg time.Duration
	transport string
	m         *metrics
}

func (l *timedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// The first message (and a TLS handshake) is due within msg of
	// the connection's opening.
	return &timedConn{Conn: c, l: l, inMsg: true, msgStart: time.Now()}, nil
}

// timedConn sets each read's deadline from where the stream is: inside
// a message, MessageTimeout from the message's first byte; between
// messages, IdleTimeout from now. Reads are owned by sipgo's one reader
// goroutine per connection, so the framing state needs no lock.
type timedConn struct {
	net.Conn
	l        *timedListener
	fr       framer
	inMsg    bool
	msgStart time.Time
}

func (c *timedConn) Read(b []byte) (int, error) {
	now := time.Now()
	deadline, kind := now.Add(c.l.idle), "idle"
	if c.inMsg {
		deadline, kind = c.msgStart.Add(c.l.msg), "message"
	}
	if err := c.Conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		in, ended := c.fr.feed(b[:n])
		if in && (ended || !c.inMsg || c.fr.started) {
			c.msgStart = time.Now()
		}
		c.inMsg = in
	}
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		c.l.m.connsTimedOut.WithLabelValues(c.l.transport, kind).Inc()
	}
	return n, err
}

func (c *timedConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.l.msg)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// framer follows SIP message boundaries on a stream (RFC 3261 §18.3):
// CRLFs between messages are keep-alives, a message is its header up to
// the empty line and Content-Length bytes of body. It keeps at most
// maxHeaderScan bytes of a header, enough to find Content-Length.
type framer struct {
	state   int // frIdle, frHeader, frBody
	header  []byte
	body    int  // body bytes still to come
	started bool // the last feed started a message it did not finish
}

const (
	frIdle = iota
	frHeader
	frBody
)

const maxHeaderScan = 16 << 10

// feed consumes b; it reports whether a message is in progress at its
// end, and whether a message ended within b (a new one may have begun).
func (f *framer) feed(b []byte) (inMessage, ended bool) {
	f.started = false
	for len(b) > 0 {
		switch f.state {
		case frIdle:
			i := 0
			for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
				i++
			}
			b = b[i:]
			if len(b) > 0 {
				f.state, f.header, f.started = frHeader, f.header[:0], true
			}
		case frHeader:
			before := len(f.header)
			take := b
			if room := maxHeaderScan - before; len(take) > room {
				take = take[:max(room, 0)]
			}
			f.header = append(f.header, take...)
			end := bytes.Index(f.header, []byte("\r\n\r\n"))
			if end < 0 {
				if len(take) < len(b) { // header too long to scan: sipgo will refuse it
					f.state, f.body = frBody, 0
					return true, ended
				}
				return true, ended
			}
			used := end + 4 - before
			b = b[used:]
			f.body = contentLength(f.header[:end])
			f.state = frBody
			if f.body == 0 {
				f.state, ended = frIdle, true
			}
		case frBody:
			if f.body == 0 { // unknown length after an unscannable header
				return true, ended
			}
			k := min(f.body, len(b))
			f.body -= k
			b = b[k:]
			if f.body == 0 {
				f.state, ended = frIdle, true
			}
		}
	}
	return f.state != frIdle, ended
}

// contentLength reads Content-Length (or its compact form l) from a
// header block; 0 when absent or unreadable.
func contentLength(header []byte) int {
	for _, line := range strings.Split(string(header), "\r\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		if strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "l") {
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || n < 0 {
				return 0
			}
			return n
		}
	}
	return 0
}
