package sip

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testnet"
)

// baresip (Debian package baresip, installed by `make test-deps`) as a
// real desk phone: it registers with digest auth and auto-answers.

func needBaresip(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("baresip")
	if err != nil {
		if os.Getenv("UCGRID_REQUIRE_PEERS") != "" {
			t.Fatal("baresip not installed (make test-deps installs it)")
		}
		t.Skip("baresip not installed: run make test-deps")
	}
	return path
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startBaresip runs baresip headless for line number: a generated config
// directory (-f), no sound device (player and source are one in-memory
// aubridge device; aufile and ausine stall or refuse 8 kHz in baresip
// 1.0), no UI module, the account with answermode=auto and the server as
// outbound proxy.
func startBaresip(t *testing.T, e *env, number, pw string) *lockedBuffer {
	t.Helper()
	return startBaresipOn(t, e, number, pw, "")
}

// startBaresipOn is startBaresip; with caFile set, baresip talks to the
// server over TLS only (its sips port as outbound proxy, the account's
// transport tls) and trusts the certificates in caFile.
func startBaresipOn(t *testing.T, e *env, number, pw, caFile string) *lockedBuffer {
	t.Helper()
	bin := needBaresip(t)
	modules := "/usr/lib/baresip/modules"
	if _, err := os.Stat(filepath.Join(modules, "aubridge.so")); err != nil {
		t.Fatalf("baresip modules not found in %s: %v", modules, err)
	}
	// The port is free when picked, but another test may take it before
	// baresip binds it (UDP and TCP): then baresip fails at once and is
	// started again on another port.
	for attempt := 1; ; attempt++ {
		out, started := runBaresip(t, bin, modules, e, number, pw, caFile)
		if started {
			return out
		}
		if attempt == 3 || !strings.Contains(out.String(), "Address already in use") {
			t.Fatalf("baresip did not start (attempt %d):\n%s", attempt, out.String())
		}
	}
}

// runBaresip starts baresip once on a free port and reports whether it
// got ready (false: it exited during start-up).
func runBaresip(t *testing.T, bin, modules string, e *env, number, pw, caFile string) (*lockedBuffer, bool) {
	t.Helper()
	dir := t.TempDir()
	// baresip listens for TLS on the sip_listen port + 1.
	config := []string{
		"poll_method epoll",
		fmt.Sprintf("sip_listen 127.0.0.1:%d", testnet.FreePort(t)),
		"audio_player aubridge,play",
		"audio_alert aubridge,alert",
		"audio_source aubridge,play",
		"module_path " + modules,
		"module g711.so",
		"module aufile.so",
		"module aubridge.so",
		"module_app account.so",
	}
	account := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;outbound=\"sip:%s\";regint=600;answermode=auto\n", number, testDomain, pw, e.srv.Addr())
	if caFile != "" {
		config = append(config, "sip_trans_def tls", "sip_cafile "+caFile)
		account = fmt.Sprintf("<sip:%s@%s;transport=tls>;auth_pass=%s;outbound=\"sip:%s;transport=tls\";regint=600;answermode=auto\n", number, testDomain, pw, e.srv.TLSAddr())
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(strings.Join(config, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	cmd := exec.Command(bin, "-f", dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("baresip output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "baresip is ready.") {
		select {
		case <-done:
			return out, false
		case <-time.After(20 * time.Millisecond): // polling interval
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip not ready after 10s:\n%s", out.String())
		}
	}
	return out, true
}

// baresip registers with digest auth and auto-answers a ring_all group
// call placed by a sipgo phone; the other member's phone gets CANCEL
// "Call completed elsewhere", and the caller hangs up through the proxy.
func TestBaresip_RegistersAndAutoAnswersGroupCall(t *testing.T) {
	e := newEnv(t)
	e.user("anna", "100", "anna-secret")
	e.user("ben", "101", "ben-secret")
	e.user("carl", "102", "carl-secret")
	startBaresip(t, e, "100", "anna-secret")
	eventually(t, 15*time.Second, "baresip registered", func() bool {
		regs, err := e.be.Contacts(context.Background(), "100")
		return err == nil && len(regs) == 1 && strings.Contains(regs[0].GetUserAgent(), "baresip")
	})
	ben := registered(t, e, "101", "ben-secret")
	carl := newPhone(t, e, "102", "carl-secret")
	e.group("desk", "700", "ring_all", []string{"anna", "ben"}, nil)

	c := carl.call("700")
	ring := ben.waitRinging(5 * time.Second)
	ok := c.wait(200, 15*time.Second)
	if ua := ok.GetHeader("User-Agent"); ua != nil && !strings.Contains(ua.Value(), "baresip") {
		t.Errorf("answered by %q", ua.Value())
	}
	if ct := ok.Contact(); ct == nil || !strings.HasPrefix(ct.Address.User, "100") {
		t.Errorf("2xx Contact %v, want baresip's", ok.Contact())
	}
	select {
	case <-ring.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("ben's phone was not cancelled")
	}
	if got := ben.lastCancelReason(); got != completedElsewhere {
		t.Errorf("ben's CANCEL Reason %q", got)
	}
	c.ackAndBye(true)
	eventually(t, 5*time.Second, "line 100 answered and ended", func() bool {
		ph := e.be.phases("100")
		return len(ph) == 3 && ph[1] == CallAnswered && ph[2] == CallEnded
	})
	eventually(t, 5*time.Second, "no call held", func() bool { return e.srv.calls.len() == 0 })
}

// SIP over TLS with a real peer: baresip registers with digest over TLS
// and auto-answers a ring_all group call placed by a crypto/tls phone;
// the call's 200, ACK and BYE pass through the node's TLS port. baresip
// 1.0 is given the node's self-signed certificate (sip_cafile) but does
// not check the server's certificate (no sip_verify_server before 1.1; a
// certificate from another CA is accepted too): the verifying side here
// is the crypto/tls caller.
func TestBaresip_OverTLSRegistersAndAutoAnswersGroupCall(t *testing.T) {
	certFile, keyFile, pool := testCert(t, t.TempDir())
	e := newEnv(t, func(c *Config) { c.TLSAddr, c.TLSCertFile, c.TLSKeyFile = "127.0.0.1:0", certFile, keyFile })
	e.user("anna", "100", "anna-secret")
	e.user("ben", "101", "ben-secret")
	e.user("carl", "102", "carl-secret")
	out := startBaresipOn(t, e, "100", "anna-secret", certFile)
	eventually(t, 15*time.Second, "baresip registered over TLS", func() bool {
		regs, err := e.be.Contacts(context.Background(), "100")
		return err == nil && len(regs) == 1 && strings.Contains(regs[0].GetUserAgent(), "baresip") &&
			strings.HasPrefix(regs[0].GetSource(), "tls:")
	})
	ben := newTLSPhone(t, e, pool, "101", "ben-secret")
	if res := ben.register(3600); res.StatusCode != 200 {
		t.Fatalf("register 101 over TLS: %d", res.StatusCode)
	}
	carl := newTLSPhone(t, e, pool, "102", "carl-secret")
	e.group("desk", "700", "ring_all", []string{"anna", "ben"}, nil)

	c := carl.call("700")
	ring := ben.waitRinging(5 * time.Second)
	ok := c.wait(200, 15*time.Second)
	// Line 100 has one binding, baresip's (checked above): its Contact in
	// the 200 says who answered.
	if ct := ok.Contact(); ct == nil || !strings.HasPrefix(ct.Address.User, "100") {
		t.Fatalf("2xx Contact %v, want baresip's", ok.Contact())
	}

	if ok.Transport() != "TLS" {
		t.Errorf("200 arrived over %s, want TLS", ok.Transport())
	}
	select {
	case <-ring.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("ben's phone was not cancelled")
	}
	// ACK, then BYE: ackAndBye fails the test unless baresip answers the
	// BYE 200 through the node.
	c.ackAndBye(false)
	eventually(t, 5*time.Second, "baresip has the ACK (call established)", func() bool {
		return strings.Contains(out.String(), "Call established: sip:102@")
	})
	eventually(t, 5*time.Second, "line 100 answered", func() bool {
		ph := e.be.phases("100")
		return len(ph) == 2 && ph[1] == CallAnswered
	})
	c.ackAndBye(true)
	eventually(t, 5*time.Second, "line 100 ended", func() bool {
		ph := e.be.phases("100")
		return len(ph) == 3 && ph[2] == CallEnded
	})
	eventually(t, 5*time.Second, "no call held", func() bool { return e.srv.calls.len() == 0 })
}
