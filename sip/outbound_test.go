package sip

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
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
	caller := startSIPp(t, e, "uac_call.xml", callerArgs("1001", "a-pw", "089555123", e)...)
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

// refusedReason runs uac_refused.xml from caller (pw) to callee and
// returns the reason phrase of the 403 it got.
func refusedReason(t *testing.T, e *env, caller, pw, callee string) string {
	t.Helper()
	trace := filepath.Join(t.TempDir(), "caller.log")
	startSIPp(t, e, "uac_refused.xml", append([]string{"-trace_msg", "-message_file", trace}, callerArgs(caller, pw, callee, e)...)...).wait(t, 30*time.Second)
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`SIP/2\.0 403 ([^\r\n]*)`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no 403 in the caller's trace:\n%s", b)
	}
	return m[1]
}

// silentUpstream is a UDP socket standing for an upstream that must
// receive nothing.
func silentUpstream(t *testing.T) (net.PacketConn, int) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc, pc.LocalAddr().(*net.UDPAddr).Port
}

// assertNothingReceived checks that pc holds no datagram. The call that
// would have sent one has had its final answer already, and the INVITE
// goes out before that answer could.
func assertNothingReceived(t *testing.T, pc net.PacketConn) {
	t.Helper()
	if err := pc.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	if n, _, err := pc.ReadFrom(buf); err == nil {
		t.Fatalf("the upstream received:\n%s", buf[:n])
	}
}

func TestOutbound_InternationalRefusedForNationalClass(t *testing.T) {
	e := newEnv(t)
	pc, port := silentUpstream(t)
	outboundSetup(e, port, nil)
	if got := refusedReason(t, e, "1001", "a-pw", "0044201234567"); got != "Call Class International Required" {
		t.Errorf("403 reason %q", got)
	}
	assertNothingReceived(t, pc)
	if n := counterValue(t, e.srv.m.trunkCalls.WithLabelValues("refused")); n != 1 {
		t.Errorf("refused trunk calls = %v, want 1", n)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}

func TestOutbound_MayDial(t *testing.T) {
	e := newEnv(t)
	outboundSetup(e, 5060, nil)
	e.user("bob", "2001", "b-pw")
	e.setE164("2001", "+4989123201", false)
	alice, err := e.be.store().Line("1001")
	if err != nil {
		t.Fatal(err)
	}
	ida, err := e.be.store().Line("1002")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		caller *dirpb.Line
		number string
		status int
		reason string
	}{
		{"a line", alice, "2001", 0, ""},
		{"a line by its public number", alice, "+4989123201", 0, ""},
		{"national for a national caller", alice, "089555123", 0, ""},
		{"international for a national caller", alice, "0044201234567", 403, "Call Class International Required"},
		{"international for an international caller", ida, "0044201234567", 0, ""},
		{"emergency for anyone", alice, "112", 0, ""},
		{"no rule", alice, "5555", 404, reasonNoRoute},
		{"from a trunk", nil, "089555123", 403, reasonTrunkCaller},
	}
	for _, tc := range cases {
		status, reason := e.srv.mayDial(tc.caller, tc.number)
		if status != tc.status || reason != tc.reason {
			t.Errorf("%s: mayDial(%s) = %d %q, want %d %q", tc.name, tc.number, status, reason, tc.status, tc.reason)
		}
	}
	u, err := e.be.store().User("alice")
	if err != nil {
		t.Fatal(err)
	}
	u.CallClass = "internal"
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: u}}})
	if status, reason := e.srv.mayDial(alice, "089555123"); status != 403 || reason != "Call Class National Required" {
		t.Errorf("an internal caller dialling a national number: %d %q", status, reason)
	}
}

func TestOutbound_CallInReachesTheLineByItsPublicNumber(t *testing.T) {
	e := newEnv(t)
	pc, port := silentUpstream(t)
	outboundSetup(e, port, nil)
	tr, err := e.be.store().Trunk("carrier")
	if err != nil {
		t.Fatal(err)
	}
	tr.Addresses = []string{"127.0.0.2/32"}
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: tr}}})
	phone := startSIPp(t, e, "uas_answer.xml", "-d", "100")
	e.bindSIPp("1001", phone)
	in := startSIPp(t, e, "uac_trunk_in.xml", "-i", "127.0.0.2", "-key", "caller", "+4930999",
		"-key", "callee", "+4989123100", "-key", "to", "+4989123100", e.srv.Addr())
	in.wait(t, 30*time.Second)
	phone.wait(t, 30*time.Second)

	// A registering upstream sends its calls to the Contact it has (the
	// trunk's user) with the dialled number in To.
	e.setE164("1002", "+4989123102", false)
	phone = startSIPp(t, e, "uas_answer.xml", "-d", "100")
	e.bindSIPp("1002", phone)
	in = startSIPp(t, e, "uac_trunk_in.xml", "-i", "127.0.0.2", "-key", "caller", "+4930999",
		"-key", "callee", carrierUser, "-key", "to", "004989123102", e.srv.Addr())
	in.wait(t, 30*time.Second)
	phone.wait(t, 30*time.Second)
	assertNothingReceived(t, pc)
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}

func TestOutbound_ForwardingToAMobileGoesOutWithTheForwardersClass(t *testing.T) {
	e := newEnv(t)
	up := startCarrier(t, e, "uas_carrier.xml")
	outboundSetup(e, up.run.port, nil)
	e.user("bob", "2001", "b-pw")
	e.setE164("2001", "+4989123201", false)
	l, err := e.be.store().Line("2001")
	if err != nil {
		t.Fatal(err)
	}
	l.Forwarding = &dirpb.Forwarding{Enabled: true, Destination: "01701234567"}
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: l}}})
	startSIPp(t, e, "uac_call.xml", callerArgs("1001", "a-pw", "2001", e)...).wait(t, 30*time.Second)
	up.run.wait(t, 30*time.Second)
	inv := up.lastInvite(t)
	mustMatch(t, "the carrier's INVITE", inv, `^INVITE sip:\+491701234567@carrier\.example SIP/2\.0`)
	mustMatch(t, "the caller's identity", inv, `(?m)^P-Asserted-Identity: <sip:\+4989123100@carrier\.example>`)

	// bob may call only internally now: his forwarding to the mobile is
	// refused, even for ida, who may call anywhere.
	u, err := e.be.store().User("bob")
	if err != nil {
		t.Fatal(err)
	}
	u.CallClass = "internal"
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: u}}})
	if got := refusedReason(t, e, "1002", "i-pw", "2001"); got != "Call Class National Required" {
		t.Errorf("403 reason %q", got)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}

func TestTrunkRegistration_RegistersRefreshesAndRemoves(t *testing.T) {
	e := newEnv(t)
	up := startCarrier(t, e, "uas_registrar.xml")
	outboundSetup(e, up.run.port, func(o *dirpb.TrunkOutbound) { o.Register, o.RegisterExpiresS = true, 60 })
	registered := func(n float64) func() bool {
		return func() bool {
			st, ok := e.srv.TrunkRegistration("carrier")
			return ok && st.State == RegRegistered && counterValue(t, e.srv.m.trunkRegisters.WithLabelValues("registered")) >= n
		}
	}
	eventually(t, 10*time.Second, "registered at the carrier", registered(1))
	st, _ := e.srv.TrunkRegistration("carrier")
	if left := time.Until(st.Expires); left > 3*time.Second {
		t.Errorf("the binding the carrier granted for 2 s ends in %v", left)
	}
	eventually(t, 10*time.Second, "refreshed before it expired", registered(2))
	tr, err := e.be.store().Trunk("carrier")
	if err != nil {
		t.Fatal(err)
	}
	tr.Outbound.Register = false
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: tr}}})
	up.run.wait(t, 10*time.Second)
	all := up.received(t)
	mustMatch(t, "the removal", all, `(?m)^Expires: 0`)
	mustMatch(t, "the contact", all, `(?m)^Contact: <sip:`+carrierUser+`@127\.0\.0\.1:`)
	if strings.Contains(all, carrierSecret) {
		t.Error("the password crossed the wire")
	}
	if _, ok := e.srv.TrunkRegistration("carrier"); ok {
		t.Error("a trunk that no longer registers still shows a registration")
	}
}

func TestTrunkRegistration_OnlyTheRegistrarNodeRegisters(t *testing.T) {
	pc, port := silentUpstream(t)
	e := newEnv(t, func(c *Config) { c.TrunkRegistrar = func() (bool, string) { return false, "node-2" } })
	outboundSetup(e, port, func(o *dirpb.TrunkOutbound) { o.Register = true })
	st, ok := e.srv.TrunkRegistration("carrier")
	if !ok || st.State != RegElsewhere || st.Node != "node-2" {
		t.Fatalf("TrunkRegistration = %+v %v, want elsewhere at node-2", st, ok)
	}
	// Once the registration loops were matched to the trunks, nothing
	// went out.
	gen := e.be.store().Generation(persistence.KindTrunk)
	eventually(t, 5*time.Second, "the trunks checked for registration", func() bool {
		r := &e.srv.trunkRegs
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.loops != nil && r.at == gen && len(r.loops) == 0
	})
	assertNothingReceived(t, pc)
}

func TestOutbound_CallerCancelReachesTheRetriedInvite(t *testing.T) {
	e := newEnv(t)
	up := startCarrier(t, e, "uas_carrier_cancelled.xml")
	outboundSetup(e, up.run.port, nil)
	caller := startSIPp(t, e, "uac_cancel.xml", callerArgs("1001", "a-pw", "089555123", e)...)
	caller.wait(t, 30*time.Second)
	up.run.wait(t, 30*time.Second)
	all := up.received(t)
	// The caller's INVITE had CSeq 2; the carrier's second, with
	// credentials, 3: the CANCEL must name that one.
	mustMatch(t, "the CANCEL", all, `(?m)^CSeq: 3 CANCEL`)
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}

func TestOutbound_WithheldCallerIDIsAnonymousButAsserted(t *testing.T) {
	e := newEnv(t)
	up := startCarrier(t, e, "uas_carrier.xml")
	outboundSetup(e, up.run.port, nil)
	e.setE164("1001", "+4989123100", true)
	startSIPp(t, e, "uac_call.xml", callerArgs("1001", "a-pw", "089555123", e)...).wait(t, 30*time.Second)
	up.run.wait(t, 30*time.Second)
	inv := up.lastInvite(t)
	mustMatch(t, "its From", inv, `(?m)^From: "Anonymous" <sip:anonymous@anonymous\.invalid>;tag=`)
	mustMatch(t, "its Privacy", inv, `(?m)^Privacy: id`)
	mustMatch(t, "its P-Asserted-Identity", inv, `(?m)^P-Asserted-Identity: <sip:\+4989123100@carrier\.example>`)
}

func TestCallerID_LineOrTrunkNumber(t *testing.T) {
	line := &dirpb.Line{E164: "+4989123100"}
	cases := []struct {
		mode string
		line *dirpb.Line
		want string
	}{
		{"", line, "+4989123100"},
		{"line", line, "+4989123100"},
		{"trunk", line, "+4989123000"},
		{"line", &dirpb.Line{}, "+4989123000"},
		{"line", nil, "+4989123000"},
	}
	for _, tc := range cases {
		if got := callerID(&dirpb.TrunkOutbound{CallerId: tc.mode, MainNumber: "+4989123000"}, tc.line); got != tc.want {
			t.Errorf("caller_id %q, line %v: %q, want %q", tc.mode, tc.line, got, tc.want)
		}
	}
}
