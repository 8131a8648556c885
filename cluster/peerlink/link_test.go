package peerlink_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testlog"

	"github.com/hashicorp/raft"

	"github.com/ucgrid/ucgrid/cluster/peerlink"
	"github.com/ucgrid/ucgrid/cluster/pki"
	"github.com/ucgrid/ucgrid/cluster/pki/pkitest"
)

func listen(t *testing.T, b *pki.Bundle, logs io.Writer) *peerlink.Link {
	t.Helper()
	l, err := peerlink.Listen("127.0.0.1:0", "", b, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// A peer of the same CA reaches Raft and the internal listener by ALPN;
// its bytes arrive on the right one.
func TestLink_SplitsAuthenticatedPeersByALPN(t *testing.T) {
	ca := t.TempDir()
	server := listen(t, pkitest.Bundle(t, ca, "n1"), io.Discard)
	client := listen(t, pkitest.Bundle(t, ca, "n2"), io.Discard)

	raftConn, err := client.Raft().Dial(raft.ServerAddress(rAddr(server)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raftConn.Close()
	internalConn, err := client.DialInternal(context.Background(), rAddr(server), "n1")
	if err != nil {
		t.Fatal(err)
	}
	defer internalConn.Close()
	for _, tc := range []struct {
		conn net.Conn
		ln   net.Listener
		msg  string
	}{{raftConn, server.Raft(), "raft\n"}, {internalConn, server.Internal(), "internal\n"}} {
		if _, err := io.WriteString(tc.conn, tc.msg); err != nil {
			t.Fatal(err)
		}
		got, err := tc.ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(got).ReadString('\n')
		got.Close()
		if err != nil || line != tc.msg {
			t.Fatalf("read %q, %v; want %q", line, err, tc.msg)
		}
	}
	if err := server.Probe(context.Background(), rAddr(server), "n1"); err != nil {
		t.Errorf("probe of n1 as n1: %v", err)
	}
	if err := client.Probe(context.Background(), rAddr(server), "n3"); err == nil {
		t.Error("probe of n1 as n3 succeeded")
	}
}

func rAddr(l *peerlink.Link) string { return l.Addr().String() }

// Plain TCP and a certificate of another CA are refused, logged with the
// peer's address, and never reach Raft.
func TestLink_RefusesStrangersAndLogsThem(t *testing.T) {
	logs := &testlog.Buffer{}
	ca := t.TempDir()
	server := listen(t, pkitest.Bundle(t, ca, "n1"), logs)
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := server.Raft().Accept(); err == nil {
			accepted <- c
		}
	}()
	stranger := listen(t, pkitest.Stranger(t, ca, "n2"), io.Discard)
	// TLS 1.3: the client's handshake ends before the server has checked
	// its certificate; the refusal arrives on the first read.
	if c, err := stranger.Raft().Dial(raft.ServerAddress(rAddr(server)), 5*time.Second); err == nil {
		_, werr := io.WriteString(c, "\x00\x01 raft rpc\n")
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		_, rerr := c.Read(make([]byte, 1))
		c.Close()
		if werr == nil && rerr == nil {
			t.Error("a certificate of another CA got an answer")
		}
	}
	plain, err := net.Dial("tcp", rAddr(server))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(plain, "\x00\x01 raft rpc\n"); err != nil {
		t.Fatal(err)
	}
	if err := plain.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Read(make([]byte, 1)); err == nil {
		t.Error("plain TCP got an answer")
	}
	plain.Close()
	// A TLS client without a certificate.
	if c, err := tls.Dial("tcp", rAddr(server), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{peerlink.ProtoRaft}}); err == nil {
		_, rerr := c.Read(make([]byte, 1))
		c.Close()
		if rerr == nil {
			t.Error("a TLS client without a certificate got an answer")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(logs.String(), "refused a peer") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if n := strings.Count(logs.String(), "refused a peer"); n < 3 {
		t.Errorf("%d refusals logged, want 3:\n%s", n, logs)
	}
	select {
	case c := <-accepted:
		c.Close()
		t.Fatal("a stranger reached Raft")
	default:
	}
}

func TestListen_RefusesToAdvertiseAllInterfaces(t *testing.T) {
	_, err := peerlink.Listen("0.0.0.0:0", "", pkitest.Bundle(t, t.TempDir(), "n1"), nil)
	if err == nil || !strings.Contains(err.Error(), "binds all interfaces") {
		t.Fatalf("err %v", err)
	}
}
