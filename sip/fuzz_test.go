package sip

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	dto "github.com/prometheus/client_model/go"
)

// FuzzHandlers sends each input as one UDP datagram to a running server
// (real directory, a registered line, a group) and checks that no handler
// panicked, that the server still answers, and that no call is left held.
func FuzzHandlers(f *testing.F) {
	via := "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKfz\r\n"
	hdrs := "From: <sip:1001@" + testDomain + ">;tag=a\r\nTo: <sip:2001@" + testDomain + ">\r\nCall-ID: fz\r\nMax-Forwards: 70\r\n"
	for _, seed := range []string{
		"REGISTER sip:" + testDomain + " SIP/2.0\r\n" + via + hdrs + "CSeq: 1 REGISTER\r\nContact: *\r\nExpires: 0\r\nAuthorization: Digest username=\"1001\", realm=\"" + testDomain + "\", nonce=\"00\", uri=\"sip:x\", response=\"00\"\r\nContent-Length: 0\r\n\r\n",
		"REGISTER sip:" + testDomain + " SIP/2.0\r\n" + via + hdrs + "CSeq: 1 REGISTER\r\nContact: <sip:a@1.2.3.4>;expires=abc, \"x,y\" <sip:b@[::1]:5>\r\nContent-Length: 0\r\n\r\n",
		"INVITE sip:2001@" + testDomain + " SIP/2.0\r\n" + via + hdrs + "CSeq: 1 INVITE\r\nProxy-Authorization: Digest algorithm=SHA-999\r\nContent-Length: 0\r\n\r\n",
		"INVITE sip:**2001@" + testDomain + " SIP/2.0\r\n" + via + hdrs + "CSeq: 1 INVITE\r\nReplaces: ;;;\r\nContent-Length: 0\r\n\r\n",
		"BYE sip:2001@127.0.0.1:1 SIP/2.0\r\n" + via + hdrs + "CSeq: 2 BYE\r\nRoute: <sip:127.0.0.1:1;lr>, garbage\r\nContent-Length: 0\r\n\r\n",
		"ACK sip:x@y SIP/2.0\r\n" + via + hdrs + "CSeq: 1 ACK\r\nRoute: <>\r\nContent-Length: 0\r\n\r\n",
		"CANCEL sip:2001@" + testDomain + " SIP/2.0\r\n" + via + hdrs + "CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
		"SUBSCRIBE sip:2001@" + testDomain + " SIP/2.0\r\n" + via + hdrs + "CSeq: 1 SUBSCRIBE\r\nEvent: presence\r\nExpires: -1\r\nContent-Length: 0\r\n\r\n",
		"INFO sip:2001@" + testDomain + " SIP/2.0\r\n" + via + strings.Replace(hdrs, "<sip:2001@"+testDomain+">", "<sip:2001@"+testDomain+">;tag=x", 1) + "CSeq: 1 INFO\r\nContent-Length: 0\r\n\r\n",
		"OPTIONS sip:x SIP/2.0\r\n\r\n",
		"\x00\x01garbage",
		"REGISTER sip:" + testDomain + " SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bKn, SIP/2.0/UDP [fd00::1]\r\n" + hdrs + "CSeq: 1 REGISTER\r\nContact: <sip:1001@10.0.0.5:5060>\r\nContent-Length: 0\r\n\r\n",
		"INVITE sip:1001@10.0.0.5 SIP/2.0\r\n" + via + hdrs + "CSeq: 1 INVITE\r\nRoute: <sip:dWRwOjEuMi4zLjQ6NQ.AAAAAAAAAAAAAAAAAAAAAA@127.0.0.1:1;lr>\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	addSeedFiles(f)
	e := newEnv(f)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.group("sales", "700", "ring_all", []string{"bob"}, nil)
	conn, err := net.Dial("udp", e.srv.Addr())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = conn.Close() })
	probe := 0
	f.Fuzz(func(t *testing.T, msg []byte) {
		if _, err := conn.Write(msg); err != nil {
			t.Skip() // too large for a datagram
		}
		probe++
		alive(t, conn, probe)
		noPanics(t, e.srv, msg)
	})
	eventually(f, 10*time.Second, "calls left held", func() bool { return e.srv.calls.len() == 0 })
}

// noPanics fails t when a handler of srv has panicked (after input msg).
func noPanics(t *testing.T, srv *Server, msg []byte) {
	t.Helper()
	var m dto.Metric
	if err := srv.m.panics.Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetCounter().GetValue(); n != 0 {
		t.Fatalf("%v handler panics after %q", n, msg)
	}
}

// alive sends an OPTIONS and waits for its 200 (other answers on the
// socket are skipped).
func alive(t *testing.T, conn net.Conn, n int) {
	t.Helper()
	id := "probe-" + time.Now().Format("150405.000000") + "-" + string(rune('a'+n%26))
	msg := "OPTIONS sip:" + testDomain + " SIP/2.0\r\nVia: SIP/2.0/UDP " + conn.LocalAddr().String() + ";branch=z9hG4bK" + strings.ReplaceAll(id, ".", "") +
		"\r\nFrom: <sip:p@" + testDomain + ">;tag=p\r\nTo: <sip:" + testDomain + ">\r\nCall-ID: " + id + "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = conn.SetReadDeadline(deadline)
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("server did not answer OPTIONS after the input: %v", err)
		}
		if strings.Contains(string(buf[:k]), "Call-ID: "+id) && strings.HasPrefix(string(buf[:k]), "SIP/2.0 200") {
			return
		}
	}
}

// addSeedFiles adds the messages of testdata/fuzz-seeds (README.md
// there): LF line ends become CRLF, except in files named lf-*.
func addSeedFiles(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz-seeds", "*.sip"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fuzz seeds in testdata/fuzz-seeds: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if !strings.HasPrefix(filepath.Base(name), "lf-") {
			b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
		}
		f.Add(b)
	}
}

// FuzzHandlersTCP writes each input on a new TCP connection to a running
// server (the connection guards, sipgo's stream parser, the handlers),
// then checks that no handler panicked and the server still answers on
// UDP and TCP.
func FuzzHandlersTCP(f *testing.F) {
	addSeedFiles(f)
	f.Add([]byte("\r\n\r\n"))
	f.Add([]byte("OPTIONS sip:x SIP/2.0\r\nContent-Length: 5\r\n\r\nab"))
	e := newEnv(f, func(c *Config) { c.MaxConnsPerSource = 1 << 20; c.MessageTimeout = 200 * time.Millisecond })
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	udp, err := net.Dial("udp", e.srv.Addr())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = udp.Close() })
	probe := 0
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := net.DialTimeout("tcp", e.srv.Addr(), time.Second)
		if err != nil {
			t.Fatalf("server refuses TCP: %v", err)
		}
		_ = c.SetDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(msg) // the server may close first
		_ = c.Close()
		probe++
		alive(t, udp, probe)
		noPanics(t, e.srv, msg)
	})
	eventually(f, 10*time.Second, "calls left held", func() bool { return e.srv.calls.len() == 0 })
}

// FuzzStampDatagram: the RFC 3581 rewrite of UDP requests (nat.go) never
// panics, and a request sipgo could parse before it still parses after.
func FuzzStampDatagram(f *testing.F) {
	f.Add([]byte("OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bKa\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("OPTIONS sip:x@y SIP/2.0\nv:SIP/2.0/UDP [fd00::5];received=1.2.3.4, SIP/2.0/TCP h\n folded\n\n"))
	src := &net.UDPAddr{IP: net.ParseIP("203.0.113.9"), Port: 40123}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := stampDatagram(append([]byte(nil), data...), src)
		if _, err := sip.ParseMessage(data); err != nil {
			return
		}
		if _, err := sip.ParseMessage(out); err != nil {
			t.Fatalf("parsable request became unparsable: %v\n%q\n%q", err, data, out)
		}
	})
}
