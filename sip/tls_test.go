package sip

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testcert"

	"github.com/emiago/sipgo"
)

// testCert writes a self-signed certificate for 127.0.0.1 and the test
// domain into dir and returns the file names and a pool trusting it.
func testCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	c := testcert.New(t, 1, time.Now().Add(time.Hour), testDomain)
	certFile, keyFile = c.Write(t, dir)
	return certFile, keyFile, c.Pool(t)
}

func tlsEnv(t *testing.T) (*env, *x509.CertPool) {
	t.Helper()
	certFile, keyFile, pool := testCert(t, t.TempDir())
	e := newEnv(t, func(c *Config) { c.TLSAddr, c.TLSCertFile, c.TLSKeyFile = "127.0.0.1:0", certFile, keyFile })
	return e, pool
}

// newTLSPhone is a phone that talks to the proxy over TLS (crypto/tls,
// verifying the proxy's certificate) and is reached over the same
// connection: its Contact is a sips: URI at a port nothing listens on.
func newTLSPhone(t *testing.T, e *env, pool *x509.CertPool, number, pw string) *phone {
	t.Helper()
	p := &phone{t: t, number: number, pw: pw, proxy: e.srv.TLSAddr(), tls: true, incoming: make(chan *ringing, 8)}
	var err error
	p.ua, err = sipgo.NewUA(sipgo.WithUserAgent("tls-phone-"+number), sipgo.WithUserAgenTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	p.srv, _ = sipgo.NewServer(p.ua, sipgo.WithServerLogger(testLogger(t)))
	unused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = unused.Addr().String()
	_ = unused.Close() // a port nothing listens on: the phone is reachable only over its connection
	host, port, _ := net.SplitHostPort(p.addr)
	n, _ := strconv.Atoi(port)
	p.cli, _ = sipgo.NewClient(p.ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(n))
	p.handle()
	t.Cleanup(func() { _ = p.ua.Close() })
	return p
}

// SIP over TLS (RFC 3261 §26): phones register with digest over TLS,
// and a call to a sips: URI of a ring_all group reaches each member over
// the connection it registered on; the Record-Route names our TLS port
// with transport=tls; BYE goes through it.
func TestTLS_RegisterAndRingAllGroupCall(t *testing.T) {
	e, pool := tlsEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("carol", "3001", "c-pw")
	e.group("sales", "700", "ring_all", []string{"bob", "carol"}, nil)
	alice := newTLSPhone(t, e, pool, "1001", "a-pw")
	bob := newTLSPhone(t, e, pool, "2001", "b-pw")
	carol := newTLSPhone(t, e, pool, "3001", "c-pw")
	for _, p := range []*phone{alice, bob, carol} {
		res := p.register(3600)
		if res.StatusCode != 200 {
			t.Fatalf("register %s over TLS: %d", p.number, res.StatusCode)
		}
		// Granted less than the idle timeout (5 min), so the refresh keeps
		// the connection open.
		if c := res.GetHeader("Contact"); c == nil || !strings.Contains(c.Value(), "expires=270") {
			t.Fatalf("register %s over TLS for 3600 s: Contact %v, want expires=270", p.number, c)
		}
	}
	if regs, _ := e.be.Contacts(t.Context(), "2001"); len(regs) != 1 || !strings.HasPrefix(regs[0].GetSource(), "tls:") {
		t.Fatalf("bob's binding: %v, want one from tls:", regs)
	}
	call := alice.call("700")
	rb, rc := bob.waitRinging(5*time.Second), carol.waitRinging(5*time.Second)
	_, tlsPort, _ := net.SplitHostPort(e.srv.TLSAddr())
	if rr := rb.req.GetHeader("Record-Route"); rr == nil || !strings.Contains(rr.Value(), ":"+tlsPort+";lr;transport=tls") && !strings.Contains(rr.Value(), ":"+tlsPort+";transport=tls") {
		t.Fatalf("Record-Route %v, want our TLS port %s with transport=tls", rr, tlsPort)
	}
	if rb.req.Transport() != "TLS" || rc.req.Transport() != "TLS" {
		t.Fatalf("INVITEs arrived over %s and %s, want TLS", rb.req.Transport(), rc.req.Transport())
	}
	if rb.req.Recipient.Scheme != "sips" {
		t.Fatalf("INVITE to bob for %s, want his sips: Contact", rb.req.Recipient.String())
	}
	rb.answer <- 200
	call.wait(200, 5*time.Second)
	eventually(t, 5*time.Second, "carol is cancelled", func() bool { return carol.cancelCount() == 1 })
	// ACK first (an ACK overtaken by the BYE finds the dialog ended and
	// is dropped), then BYE.
	call.ackAndBye(false)
	eventually(t, 10*time.Second, "the ACK reaches bob over TLS", func() bool { _, acks := bob.counts(); return acks >= 1 })
	call.ackAndBye(true)
	eventually(t, 10*time.Second, "the BYE reaches bob over TLS", func() bool { byes, _ := bob.counts(); return byes == 1 })
}

// A TLS client that does not finish its handshake is closed after
// MessageTimeout; a plain-text client on the TLS port gets nothing.
func TestTLS_StalledHandshakeClosed(t *testing.T) {
	certFile, keyFile, _ := testCert(t, t.TempDir())
	e := newEnv(t, func(c *Config) {
		c.TLSAddr, c.TLSCertFile, c.TLSKeyFile = "127.0.0.1:0", certFile, keyFile
		c.MessageTimeout = 300 * time.Millisecond
	})
	c := dialFrom(t, "127.0.0.1", e.srv.TLSAddr())
	_, _ = c.Write([]byte{0x16, 0x03, 0x01}) // the start of a ClientHello, then nothing
	if took := closedWithin(t, c, 5*time.Second, "a stalled TLS handshake"); took > 2*time.Second {
		t.Errorf("closed after %v", took)
	}
}

// A certificate file that cannot be read fails start-up with an error
// naming it.
func TestTLS_BadCertificateFailsStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "missing.crt")
	cfg := Config{Addr: "127.0.0.1:0", Domain: testDomain, TLSAddr: "127.0.0.1:0", TLSCertFile: bad, TLSKeyFile: bad}
	e := newEnv(t) // for a Store and a Backend
	cfg.Store, cfg.Backend = e.srv.cfg.Store, e.srv.cfg.Backend
	_, err := Start(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Start with a missing certificate: %v, want an error naming %s", err, bad)
	}
}
