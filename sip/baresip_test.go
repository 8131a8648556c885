package sip

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/internal/baresiptest"
	"github.com/ucgrid/ucgrid/internal/testlog"
	"github.com/ucgrid/ucgrid/internal/testnet"
)

// baresip (internal/baresiptest) as a real desk phone: it registers
// with digest auth and auto-answers.

// startBaresip runs baresip headless for line number with the account's
// answermode=auto and the server as outbound proxy.
func startBaresip(t *testing.T, e *env, number, pw string) *testlog.Buffer {
	t.Helper()
	return startBaresipOn(t, e, number, pw, "")
}

// startBaresipOn is startBaresip; with caFile set, baresip talks to the
// server over TLS only (its sips port as outbound proxy, the account's
// transport tls) and trusts the certificates in caFile.
func startBaresipOn(t *testing.T, e *env, number, pw, caFile string, more ...string) *testlog.Buffer {
	t.Helper()
	// The port is free when picked, but another test may take it before
	// baresip binds it (UDP and TCP): then baresip fails at once and is
	// started again on another port.
	for attempt := 1; ; attempt++ {
		out, started := runBaresip(t, e, number, pw, caFile, more...)
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
func runBaresip(t *testing.T, e *env, number, pw, caFile string, more ...string) (*testlog.Buffer, bool) {
	t.Helper()
	// baresip listens for TLS on the sip_listen port + 1.
	config := baresiptest.Config(fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t)), more...)
	account := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;outbound=\"sip:%s\";regint=600;answermode=auto", number, testDomain, pw, e.srv.Addr())
	if caFile != "" {
		config = append(config, "sip_trans_def tls", "sip_cafile "+caFile)
		account = fmt.Sprintf("<sip:%s@%s;transport=tls>;auth_pass=%s;outbound=\"sip:%s;transport=tls\";regint=600;answermode=auto", number, testDomain, pw, e.srv.TLSAddr())
	}
	p := baresiptest.Start(t, number, exec.Command, config, account)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Out.String(), "baresip is ready.") {
		select {
		case <-p.Exited:
			return p.Out, false
		case <-time.After(20 * time.Millisecond): // polling interval
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip not ready after 10s:\n%s", p.Out.String())
		}
	}
	return p.Out, true
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
		return len(ph) == 3 && ph[1] == linestate.PhaseAnswered && ph[2] == linestate.PhaseEnded
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
		return len(ph) == 2 && ph[1] == linestate.PhaseAnswered
	})
	c.ackAndBye(true)
	eventually(t, 5*time.Second, "line 100 ended", func() bool {
		ph := e.be.phases("100")
		return len(ph) == 3 && ph[2] == linestate.PhaseEnded
	})
	eventually(t, 5*time.Second, "no call held", func() bool { return e.srv.calls.len() == 0 })
}

// Blind transfer with baresip as the transferee: ben calls baresip (100,
// auto-answer) and REFERs it to carl (102). baresip accepts (202), dials
// carl through the node with its digest credentials, and reports the
// progress to ben in NOTIFYs (sipfrag) relayed through the node; ben's
// BYE ends the first call. baresip 1.0 sends no Referred-By: the node
// knows the new call for a transfer from the REFER it relayed, and the
// new call's line reports say ben transferred it to 102.
func TestBaresip_BlindTransferAsTransferee(t *testing.T) {
	e := newEnv(t)
	e.user("anna", "100", "anna-secret")
	e.user("ben", "101", "ben-secret")
	e.user("carl", "102", "carl-secret")
	// baresip 1.0's core accepts a REFER; its menu module places the call.
	out := startBaresipOn(t, e, "100", "anna-secret", "", "module_app menu.so")
	eventually(t, 15*time.Second, "baresip registered", func() bool {
		regs, err := e.be.Contacts(context.Background(), "100")
		return err == nil && len(regs) == 1
	})
	ben := registered(t, e, "101", "ben-secret")
	carl := registered(t, e, "102", "carl-secret")
	carl.setMode(200)

	c := ben.call("100")
	c.wait(200, 15*time.Second)
	c.ack()
	eventually(t, 5*time.Second, "baresip has the call", func() bool {
		return strings.Contains(out.String(), "Call established: sip:101@")
	})
	refer := c.inDialog(sip.REFER, c.req.CSeq().SeqNo+1)
	refer.AppendHeader(sip.NewHeader("Refer-To", "<sip:102@"+testDomain+">"))
	refer.AppendHeader(sip.NewHeader("Referred-By", "<sip:101@"+testDomain+">"))
	refer.AppendHeader(sip.NewHeader("Contact", "<"+ben.contactURI()+">"))
	if res := ben.send(refer); res.StatusCode != 202 {
		t.Fatalf("REFER: %d, want 202", res.StatusCode)
	}
	carl.waitRinging(15 * time.Second)
	eventually(t, 10*time.Second, "NOTIFY with the new call's 200 reached ben", func() bool {
		for _, n := range ben.received(sip.NOTIFY) {
			if strings.HasPrefix(string(n.Body()), "SIP/2.0 200") {
				return true
			}
		}
		return false
	})
	eventually(t, 5*time.Second, "the new call reported as transferred", func() bool {
		return slices.Contains(e.be.transferEvents("102"), "101>102") && slices.Contains(e.be.transferEvents("100"), "101>102")
	})
	c.bye()
	eventually(t, 5*time.Second, "only the new call left", func() bool { return e.srv.calls.len() == 1 })
}
