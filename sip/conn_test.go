package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func optionsOver(conn net.Conn, id string) string {
	return "OPTIONS sip:" + testDomain + " SIP/2.0\r\nVia: SIP/2.0/TCP " + conn.LocalAddr().String() + ";branch=z9hG4bK" + id +
		"\r\nFrom: <sip:x@" + testDomain + ">;tag=1\r\nTo: <sip:" + testDomain + ">\r\nCall-ID: " + id +
		"\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
}

// askOptions sends an OPTIONS on conn and reads its 200.
func askOptions(t *testing.T, conn net.Conn, id string) {
	t.Helper()
	if _, err := conn.Write([]byte(optionsOver(conn, id))); err != nil {
		t.Fatalf("%s: write: %v", id, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	got := ""
	for !strings.Contains(got, "Call-ID: "+id) {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("%s: no answer: %v (read %q)", id, err, got)
		}
		got += string(buf[:n])
	}
	if !strings.Contains(got, "SIP/2.0 200") {
		t.Fatalf("%s: %q", id, got)
	}
}

// closedWithin waits until the server closes conn (a read ends with EOF
// or a reset), failing after d.
func closedWithin(t *testing.T, conn net.Conn, d time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(d))
	buf := make([]byte, 4096)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: still open after %v", what, d)
		}
		return time.Since(start)
	}
}

func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A TCP connection that says nothing after a message is closed after
// IdleTimeout, one that never says anything after MessageTimeout; one
// that sends RFC 5626 keep-alives (CRLF CRLF, answered CRLF) stays and
// still carries requests; one that sends a message a byte at a time, each
// byte well within the idle timeout, is closed after MessageTimeout.
func TestTCP_IdleAndSlowConnectionsClosedKeepAlivesKeepAFlow(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.IdleTimeout = 600 * time.Millisecond; c.MessageTimeout = 400 * time.Millisecond })
	mute := dialFrom(t, "127.0.0.1", e.srv.Addr()) // never says anything
	quiet := dialFrom(t, "127.0.0.1", e.srv.Addr())
	askOptions(t, quiet, "quiet-1")
	live := dialFrom(t, "127.0.0.1", e.srv.Addr())
	askOptions(t, live, "live-1")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the quiet one closes while the live one pings
		defer wg.Done()
		if took := closedWithin(t, quiet, 5*time.Second, "an idle connection"); took < 500*time.Millisecond {
			t.Errorf("idle connection closed after %v, before IdleTimeout", took)
		}
	}()
	go func() { // its first message (or TLS handshake) is due within MessageTimeout
		defer wg.Done()
		closedWithin(t, mute, 5*time.Second, "a connection that never spoke")
	}()
	pongs := 0
	buf := make([]byte, 16)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		if _, err := live.Write([]byte("\r\n\r\n")); err != nil {
			t.Fatalf("keep-alive write: %v", err)
		}
		_ = live.SetReadDeadline(time.Now().Add(time.Second))
		n, err := live.Read(buf)
		if err != nil || string(buf[:n]) != "\r\n" {
			t.Fatalf("keep-alive %d: pong %q %v", pongs, buf[:n], err)
		}
		pongs++
		time.Sleep(200 * time.Millisecond) // the peer's keep-alive interval, not a wait for the server
	}
	askOptions(t, live, "live-2")
	wg.Wait()

	slow := dialFrom(t, "127.0.0.1", e.srv.Addr())
	msg := optionsOver(slow, "slow")
	go func() {
		for i := range len(msg) {
			if _, err := slow.Write([]byte{msg[i]}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // a trickling sender
		}
	}()
	if took := closedWithin(t, slow, 5*time.Second, "a trickled message"); took > 2*time.Second {
		t.Errorf("trickled message closed after %v, want about MessageTimeout", took)
	}
	if n := counterValue(t, e.srv.m.connsTimedOut.WithLabelValues("tcp", "message")); n != 2 {
		t.Errorf("timed out (message) = %v, want 2 (the mute and the trickling one)", n)
	}
	if n := counterValue(t, e.srv.m.connsTimedOut.WithLabelValues("tcp", "idle")); n != 1 {
		t.Errorf("timed out (idle) = %v, want 1", n)
	}
}

// At most MaxConnsPerSource connections from one address: the next is
// closed at once, other addresses are not affected, and a closed
// connection frees its place.
func TestTCP_ConnectionsPerSourceCapped(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxConnsPerSource = 3 })
	var held []net.Conn
	for i := range 3 {
		c := dialFrom(t, "127.0.0.1", e.srv.Addr())
		askOptions(t, c, "held-"+string(rune('a'+i)))
		held = append(held, c)
	}
	extra := dialFrom(t, "127.0.0.1", e.srv.Addr())
	_, _ = extra.Write([]byte(optionsOver(extra, "extra")))
	closedWithin(t, extra, 3*time.Second, "a fourth connection from one address")
	askOptions(t, dialFrom(t, "127.0.0.2", e.srv.Addr()), "other-source")
	_ = held[0].Close()
	eventually(t, 5*time.Second, "a place freed", func() bool {
		c := dialFrom(t, "127.0.0.1", e.srv.Addr())
		defer c.Close()
		if _, err := c.Write([]byte(optionsOver(c, "again"))); err != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		b := make([]byte, 64)
		n, err := c.Read(b)
		return err == nil && strings.HasPrefix(string(b[:n]), "SIP/2.0 200")
	})
	if n := counterValue(t, e.srv.m.connsRefused.WithLabelValues("tcp")); n < 1 {
		t.Errorf("connections refused = %v, want ≥ 1", n)
	}
}

// recordHandler keeps every log record.
type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) matching(sub string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		line := r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool { line += " " + a.Key + "=" + a.Value.String(); return true })
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return out
}

// Unparsable datagrams are logged once per source per minute, at WARN,
// cut short, with credentials redacted; all are counted.
func TestLog_UnparsableOncePerSourceTruncatedWithoutCredentials(t *testing.T) {
	h := &recordHandler{}
	e := newEnv(t, func(c *Config) { c.Logger = slog.New(h) })
	bad := "NOT A SIP START LINE\r\nAuthorization: Digest username=\"1001\", response=\"topsecret\"\r\n" +
		"Proxy-Authorization: Digest username=\"1001\", response=\"alsosecret\"\r\n" + strings.Repeat("X-Pad: y\r\n", 40) + "\r\n"
	for _, src := range []string{"127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2"} {
		c := newRawUDP(t, src+":0", e.srv.Addr())
		if _, err := c.conn.WriteTo([]byte(bad), c.srv); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "4 unparsable counted", func() bool { return counterValueTB(e.srv.m.unparsable) == 4 })
	logged := h.matching("unparsable")
	if len(logged) != 2 {
		t.Fatalf("unparsable messages logged %d times, want once per source (2): %q", len(logged), logged)
	}
	for _, l := range logged {
		if strings.Contains(l, "secret") || strings.Contains(l, "ERROR") {
			t.Errorf("log line with credentials or at ERROR: %q", l)
		}
		if len(l) > 600 {
			t.Errorf("log line of %d bytes: not cut short", len(l))
		}
	}
	if all := h.matching("secret"); len(all) != 0 {
		t.Errorf("credentials in the log: %q", all)
	}
	if len(h.matching("source=127.0.0.2")) != 1 {
		t.Errorf("the second source is not named: %q", logged)
	}
}

// Closing the transports reports real errors, not a peer that had hung
// up first (CI once failed a baresip test on its TLS closeNotify).
func TestCloseError_DropsPeerGoneKeepsTheRest(t *testing.T) {
	gone := fmt.Errorf("tls: failed to send closeNotify alert (but connection was closed anyway): %w",
		&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)})
	if err := closeError(gone); err != nil {
		t.Errorf("closeError(peer gone) = %v, want nil", err)
	}
	if err := closeError(errors.Join(gone, net.ErrClosed)); err != nil {
		t.Errorf("closeError(peer gone, closed) = %v, want nil", err)
	}
	other := errors.New("listener: bad descriptor")
	if err := closeError(errors.Join(gone, other)); !errors.Is(err, other) || errors.Is(err, syscall.EPIPE) {
		t.Errorf("closeError(peer gone, other) = %v, want the other error alone", err)
	}
	if err := closeError(nil); err != nil {
		t.Errorf("closeError(nil) = %v", err)
	}
}
