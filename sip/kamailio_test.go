package sip

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/kamailiotest"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// A carrier that asks for credentials with 407 Proxy-Authenticate (a
// real Kamailio checking the digest): the call out answers the challenge
// with Proxy-Authorization and goes through, record-routed both ways, and
// the caller's BYE reaches the phone behind the carrier. With a wrong
// password the carrier challenges again and the caller gets 502, once.
func TestOutbound_KamailioCarrierChallengesWith407(t *testing.T) {
	e := newEnv(t)
	phone := startSIPp(t, e, "uas_answer.xml", "-d", "200")
	port := freeUDPPort(t)
	log := kamailiotest.Start(t, filepath.Join("testdata", "kamailio", "carrier.cfg"), port,
		map[string]string{"UAS_PORT": strconv.Itoa(phone.port), "USER": carrierUser, "PASSWORD": carrierSecret})
	outboundSetup(e, port, nil)
	alice := registered(t, e, "1001", "a-pw")

	c := alice.call("089555123")
	c.wait(200, 15*time.Second)
	c.ack()
	// A phone hangs up seconds later; this one waits only until its ACK
	// has passed the carrier (the ACK of the carrier's own 407 is absorbed
	// by its sl module before the script), so the BYE cannot overtake it.
	eventually(t, 5*time.Second, "the ACK passes the carrier", func() bool {
		return strings.Contains(log.String(), "carrier: in-dialog ACK")
	})
	c.bye()
	phone.wait(t, 15*time.Second)
	out := log.String()
	if !strings.Contains(out, "carrier: challenge INVITE sip:+4989555123@carrier.example") {
		t.Errorf("the carrier did not challenge the INVITE:\n%s", out)
	}
	if !strings.Contains(out, "carrier: authorised INVITE sip:+4989555123@carrier.example from sip:+4989123100@carrier.example") {
		t.Errorf("the carrier did not authorise the retried INVITE with alice's public number:\n%s", out)
	}
	if strings.Contains(out, carrierSecret) {
		t.Error("the password crossed the wire")
	}

	e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier",
		Outbound: &dirpb.TrunkOutbound{Host: "127.0.0.1", Port: int32(port), Username: carrierUser, Password: "not-the-secret",
			MainNumber: "+4989123000", Domain: "carrier.example"}}}}})
	before := strings.Count(log.String(), "carrier: challenge")
	bad := alice.call("089555124")
	if res := bad.wait(502, 15*time.Second); res.Reason != "Trunk Authentication Failed" {
		t.Errorf("refused credentials: %d %q, want 502 Trunk Authentication Failed", res.StatusCode, res.Reason)
	}
	// Kamailio's log reaches us through a pipe, after its 407 may have.
	challenges := func() int { return strings.Count(log.String(), "carrier: challenge") - before }
	eventually(t, 5*time.Second, "the carrier logs its second challenge", func() bool { return challenges() >= 2 })
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
	if n := challenges(); n != 2 {
		t.Errorf("the carrier challenged %d times, want 2 (the INVITE and the one retry)", n)
	}
}
