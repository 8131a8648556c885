package sip

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The carrier's credentials in the tests.
const (
	carrierUser   = "4989123"
	carrierSecret = "carrier-s3cret"
)

// carrier is a SIPp UAS standing for the upstream of trunk "carrier":
// it challenges with digest and writes what it received to trace.
type carrier struct {
	run   *sippRun
	trace string
}

func startCarrier(t *testing.T, e *env, scenario string, args ...string) *carrier {
	t.Helper()
	trace := filepath.Join(t.TempDir(), "carrier.log")
	all := append([]string{"-key", "user", carrierUser, "-key", "secret", carrierSecret, "-trace_msg", "-message_file", trace}, args...)
	return &carrier{run: startSIPp(t, e, scenario, all...), trace: trace}
}

// received is the carrier's message trace.
func (c *carrier) received(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(c.trace)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lastInvite is the last INVITE the carrier received (the one with
// credentials).
func (c *carrier) lastInvite(t *testing.T) string {
	t.Helper()
	all := c.received(t)
	i := strings.LastIndex(all, "\nINVITE ")
	if i < 0 {
		t.Fatalf("the carrier received no INVITE:\n%s", all)
	}
	inv := all[i+1:]
	if j := strings.Index(inv, "\n----"); j > 0 {
		inv = inv[:j]
	}
	return inv
}

// outboundSetup is a directory with trunk "carrier" pointing at port,
// a German dial plan, alice (1001, national class, e164 +4989123100) and
// ida (1002, international).
func outboundSetup(e *env, port int, o func(*dirpb.TrunkOutbound)) {
	e.t.Helper()
	out := &dirpb.TrunkOutbound{Host: "127.0.0.1", Port: int32(port), Username: carrierUser, Password: carrierSecret,
		MainNumber: "+4989123000", Domain: "carrier.example"}
	if o != nil {
		o(out)
	}
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier", Outbound: out}}}},
		&dirpb.Command{Op: &dirpb.Command_PutDialPlan{PutDialPlan: &dirpb.PutDialPlan{Plan: &dirpb.DialPlan{
			Rules: []*dirpb.DialRule{
				{Name: "international", Pattern: "_00.", Trunk: "carrier", Strip: 2, Prepend: "+", CallClass: "international"},
				{Name: "national", Pattern: "_0ZX.", Trunk: "carrier", Strip: 1, Prepend: "+49", CallClass: "national"},
			},
			EmergencyNumbers: []string{"112"}, EmergencyTrunk: "carrier",
		}}}})
	e.user("alice", "1001", "a-pw")
	e.setE164("1001", "+4989123100", false)
	e.user("ida", "1002", "i-pw")
	u, err := e.be.store().User("ida")
	if err != nil {
		e.t.Fatal(err)
	}
	u.CallClass = "international"
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: u}}})
}

func (e *env) setE164(number, e164 string, withhold bool) {
	e.t.Helper()
	l, err := e.be.store().Line(number)
	if err != nil {
		e.t.Fatal(err)
	}
	l.E164, l.WithholdCallerId = e164, withhold
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: l}}})
}

func mustMatch(t *testing.T, what, text, pattern string) {
	t.Helper()
	if !regexp.MustCompile(pattern).MatchString(text) {
		t.Errorf("%s does not match %q:\n%s", what, pattern, text)
	}
}

func TestOutbound_CallOutAnswersTheCarriersChallenge(t *testing.T) {
	e := newEnv(t)
	up := startCarrier(t, e, "uas_carrier.xml")
	outboundSetup(e, up.run.port, nil)
	caller := startSIPp(t, e, "uac_call_out.xml", callerArgs("1001", "a-pw", "089555123", e)...)
	caller.wait(t, 30*time.Second)
	up.run.wait(t, 30*time.Second)
	inv := up.lastInvite(t)
	mustMatch(t, "the carrier's INVITE", inv, `^INVITE sip:\+4989555123@carrier\.example SIP/2\.0`)
	mustMatch(t, "its P-Asserted-Identity", inv, `(?m)^P-Asserted-Identity: <sip:\+4989123100@carrier\.example>`)
	mustMatch(t, "its From", inv, `(?m)^From: .*<sip:\+4989123100@carrier\.example>;tag=`)
	mustMatch(t, "its credentials", inv, `(?m)^Authorization: Digest .*username="`+carrierUser+`"`)
	mustMatch(t, "its CSeq (the caller's, one more for the retry)", inv, `(?m)^CSeq: 3 INVITE`)
	all := up.received(t)
	mustMatch(t, "the caller's ACK, renumbered", all, `(?m)^CSeq: 3 ACK`)
	mustMatch(t, "the caller's BYE, renumbered", all, `(?m)^CSeq: 4 BYE`)
	if strings.Contains(up.received(t), carrierSecret) {
		t.Error("the password crossed the wire")
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}
