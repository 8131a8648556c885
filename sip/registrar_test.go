package sip

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func TestStart_BusyPortFailsClearly(t *testing.T) {
	e := newEnv(t)
	_, err := Start(context.Background(), Config{Addr: e.srv.Addr(), Domain: testDomain, Store: e.be.store(), Backend: e.be})
	if !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("Start on a busy port: %v, want ErrAddrInUse", err)
	}
	if !strings.Contains(err.Error(), e.srv.Addr()) {
		t.Errorf("error %q does not name the address", err)
	}
}

func TestRegister_DigestMD5StoresBinding(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "secret")
	p := newPhone(t, e, "1001", "secret")
	res := p.register(300)
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d %s", res.StatusCode, res.Reason)
	}
	if c := res.GetHeader("Contact"); c == nil || !strings.Contains(c.Value(), p.addr) || !strings.Contains(c.Value(), "expires=") {
		t.Fatalf("200 Contact = %v, want the binding with expires", c)
	}
	regs, _ := e.be.Contacts(context.Background(), "1001")
	if len(regs) != 1 || regs[0].Contact != p.contactURI() || regs[0].CallId == "" {
		t.Fatalf("stored bindings %v", regs)
	}
}

// registerWith answers the 401 with the challenge of algorithm alg.
func registerWith(t *testing.T, p *phone, alg string) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := registerRequest(p, 300)
	res, err := p.cli.Do(ctx, req)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("first REGISTER: %v %v", res, err)
	}
	var chal *digest.Challenge
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		c, err := digest.ParseChallenge(h.Value())
		if err == nil && c.Algorithm == alg {
			chal = c
		}
	}
	if chal == nil {
		t.Fatalf("no %s challenge in %v", alg, res.GetHeaders("WWW-Authenticate"))
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.Addr(), Username: p.number, Password: p.pw})
	if err != nil {
		t.Fatal(err)
	}
	req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
	req.CSeq().SeqNo++
	req.RemoveHeader("Via")
	res, err = p.cli.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func registerRequest(p *phone, expires int) *sip.Request {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: testDomain})
	aor := "<sip:" + p.number + "@" + testDomain + ">"
	req.AppendHeader(sip.NewHeader("From", aor+";tag="+sip.GenerateTagN(8)))
	req.AppendHeader(sip.NewHeader("To", aor))
	req.AppendHeader(sip.NewHeader("Contact", "<"+p.contactURI()+">"))
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	req.SetDestination(p.proxy)
	return req
}

func TestRegister_DigestSHA256(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "secret")
	p := newPhone(t, e, "1001", "secret")
	if res := registerWith(t, p, "SHA-256"); res.StatusCode != 200 {
		t.Fatalf("REGISTER with SHA-256: %d", res.StatusCode)
	}
	p.pw = "wrong"
	if res := registerWith(t, p, "SHA-256"); res.StatusCode != 403 {
		t.Fatalf("REGISTER with a wrong SHA-256 digest: %d, want 403", res.StatusCode)
	}
}

func TestRegister_UnknownLineAndWrongPasswordLookAlike(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "secret")
	wrong, err := newPhone(t, e, "1001", "secret").tryRegister("nope", 300)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := newPhone(t, e, "1999", "secret").tryRegister("secret", 300)
	if err != nil {
		t.Fatal(err)
	}
	if wrong.StatusCode != 403 || unknown.StatusCode != wrong.StatusCode || unknown.Reason != wrong.Reason {
		t.Fatalf("wrong password: %d %q; unknown line: %d %q; want the same 403", wrong.StatusCode, wrong.Reason, unknown.StatusCode, unknown.Reason)
	}
}

func TestRegister_NonceReplayIsRefused(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "secret")
	p := newPhone(t, e, "1001", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := registerRequest(p, 300)
	res, _ := p.cli.Do(ctx, req)
	chal, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	cred, _ := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.Addr(), Username: "1001", Password: "secret"})
	send := func() *sip.Response {
		r := registerRequest(p, 300)
		r.AppendHeader(sip.NewHeader("Authorization", cred.String()))
		res, err := p.cli.Do(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := send(); res.StatusCode != 200 {
		t.Fatalf("first use of the nonce: %d", res.StatusCode)
	}
	res = send()
	if res.StatusCode != 401 || !strings.Contains(res.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("replayed credentials: %d %v, want 401 stale=true", res.StatusCode, res.GetHeader("WWW-Authenticate"))
	}
}

func TestRegister_ExpiredNonceIsStale(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.NonceTTL = 50 * time.Millisecond })
	e.user("alice", "1001", "secret")
	p := newPhone(t, e, "1001", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := registerRequest(p, 300)
	res, _ := p.cli.Do(ctx, req)
	chal, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	issued := time.Now()
	eventually(t, time.Second, "nonce age", func() bool { return time.Since(issued) > 100*time.Millisecond })
	cred, _ := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.Addr(), Username: "1001", Password: "secret"})
	r := registerRequest(p, 300)
	r.AppendHeader(sip.NewHeader("Authorization", cred.String()))
	res, _ = p.cli.Do(ctx, r)
	if res.StatusCode != 401 || !strings.Contains(res.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("expired nonce: %d, want 401 stale=true", res.StatusCode)
	}
}

func TestRegister_SeveralContactsUnregisterAndWildcard(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "secret")
	p := newPhone(t, e, "1001", "secret")
	desk, soft := "<sip:1001@127.0.0.1:5071>", "<sip:1001@127.0.0.1:5072;transport=tcp>;expires=120"
	if res := p.register(300, desk, soft); res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 2 {
		t.Fatalf("two contacts: %d %v", res.StatusCode, res.GetHeaders("Contact"))
	}
	regs, _ := e.be.Contacts(context.Background(), "1001")
	if len(regs) != 2 {
		t.Fatalf("bindings %v", regs)
	}
	for _, r := range regs {
		left := r.ExpiresAtUnix - time.Now().Unix()
		if strings.Contains(r.Contact, "5072") && (left > 121 || left < 100) {
			t.Errorf("contact expires param not honoured: %ds left", left)
		}
	}
	if res := p.register(300, "<sip:1001@127.0.0.1:5071>;expires=0"); len(res.GetHeaders("Contact")) != 1 {
		t.Fatalf("after removing one: %v", res.GetHeaders("Contact"))
	}
	if res := p.register(0, "*"); res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 0 {
		t.Fatalf("wildcard: %d %v", res.StatusCode, res.GetHeaders("Contact"))
	}
	if regs, _ := e.be.Contacts(context.Background(), "1001"); len(regs) != 0 {
		t.Fatalf("bindings left after *: %v", regs)
	}
	if res := p.register(300, "*"); res.StatusCode != 400 {
		t.Fatalf("* with Expires 300: %d, want 400", res.StatusCode)
	}
}

func TestRegister_IntervalTooBrief(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "secret")
	p := newPhone(t, e, "1001", "secret")
	res := p.register(10)
	if res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil || res.GetHeader("Min-Expires").Value() != "60" {
		t.Fatalf("Expires 10: %d %v, want 423 Min-Expires 60", res.StatusCode, res.GetHeader("Min-Expires"))
	}
	res = p.register(100000)
	if c := res.GetHeader("Contact"); res.StatusCode != 200 || !strings.Contains(c.Value(), "expires=3600") {
		t.Fatalf("Expires 100000: %d %v, want capped at 3600", res.StatusCode, c)
	}
}

func TestRegister_RepeatedFailuresThrottleTheSource(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AuthFailures = 3 })
	e.user("alice", "1001", "secret")
	p := newPhone(t, e, "1001", "secret")
	for i := 0; i < 3; i++ {
		if res, _ := p.tryRegister("guess", 300); res.StatusCode != 403 {
			t.Fatalf("failure %d: %d, want 403", i, res.StatusCode)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := p.cli.Do(ctx, registerRequest(p, 300))
	if err != nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("after 3 failures: %v %v, want 503 with Retry-After", res, err)
	}
	// Even the right password is refused while the source is blocked.
	if res, _ := p.tryRegister("secret", 300); res.StatusCode != 503 {
		t.Fatalf("right password while blocked: %d, want 503", res.StatusCode)
	}
}

func TestServer_AnswersTCP(t *testing.T) {
	e := newEnv(t)
	conn, err := net.DialTimeout("tcp", e.srv.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	msg := "OPTIONS sip:" + testDomain + " SIP/2.0\r\nVia: SIP/2.0/TCP " + local + ";branch=z9hG4bKtcp1\r\n" +
		"From: <sip:x@" + testDomain + ">;tag=1\r\nTo: <sip:" + testDomain + ">\r\nCall-ID: tcp-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
		t.Fatalf("OPTIONS over TCP: %q %v", buf[:n], err)
	}
}
