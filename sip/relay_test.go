package sip

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// rawUDP is a bare UDP socket that sends hand-written SIP and reads the
// answers: the forger of these tests.
type rawUDP struct {
	t    *testing.T
	conn net.PacketConn
	srv  net.Addr
}

func newRawUDP(t *testing.T, local, server string) *rawUDP {
	t.Helper()
	conn, err := net.ListenPacket("udp", local)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	srv, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	return &rawUDP{t: t, conn: conn, srv: srv}
}

// inDialog writes a request with the given dialog identifiers, a Route
// naming the server and a Request-URI at target.
func (r *rawUDP) inDialog(method, target, callID, fromTag, toTag string) string {
	branch := "z9hG4bK" + sip.GenerateTagN(10)
	to := "<sip:victim@" + target + ">"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	msg := method + " sip:victim@" + target + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + r.conn.LocalAddr().String() + ";branch=" + branch + "\r\n" +
		"Route: <sip:" + r.srv.String() + ";lr>\r\n" +
		"From: <sip:forger@" + testDomain + ">;tag=" + fromTag + "\r\n" +
		"To: " + to + "\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 7 " + method + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"Contact: <sip:forger@" + r.conn.LocalAddr().String() + ">\r\n" +
		"Event: refer\r\n" +
		"Refer-To: <sip:900@" + target + ">\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := r.conn.WriteTo([]byte(msg), r.srv); err != nil {
		r.t.Fatal(err)
	}
	return callID
}

// answer waits for the final answer to the request with callID and
// returns its status line.
func (r *rawUDP) answer(callID string, d time.Duration) string {
	r.t.Helper()
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for {
		_ = r.conn.SetReadDeadline(deadline)
		n, _, err := r.conn.ReadFrom(buf)
		if err != nil {
			r.t.Fatalf("no final answer for %s: %v", callID, err)
		}
		msg := string(buf[:n])
		if !strings.Contains(msg, "Call-ID: "+callID+"\r\n") || strings.HasPrefix(msg, "SIP/2.0 1") {
			continue
		}
		line, _, _ := strings.Cut(msg, "\r\n")
		return line
	}
}

// silent fails when anything arrives on conn within d.
func silent(t *testing.T, conn net.PacketConn, d time.Duration, what string) {
	t.Helper()
	buf := make([]byte, 65536)
	_ = conn.SetReadDeadline(time.Now().Add(d))
	if n, from, err := conn.ReadFrom(buf); err == nil {
		first, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		t.Fatalf("%s: the third host received %q from %v", what, first, from)
	}
}

func listenUDP(t *testing.T, addr string) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The node relays no request naming a dialog it does not carry: forged
// in-dialog requests with our Route and a Request-URI at a third host
// get 481 and reach nobody; an ACK for no dialog is dropped; requests
// outside a dialog with our Route are answered here, not forwarded.
func TestRelay_ForgedInDialogRequestsReachNoThirdHost(t *testing.T) {
	e := newEnv(t)
	e.user("bob", "2001", "b-pw")
	third := listenUDP(t, "127.0.0.1:0")
	target := third.LocalAddr().String()
	forger := newRawUDP(t, "127.0.0.1:0", e.srv.Addr())
	for _, m := range []string{"INVITE", "MESSAGE", "BYE", "REFER", "NOTIFY", "SUBSCRIBE", "INFO", "UPDATE", "PRACK", "OPTIONS"} {
		id := forger.inDialog(m, target, "forged-"+strings.ToLower(m), "f1", "t1")
		if got := forger.answer(id, 5*time.Second); !strings.HasPrefix(got, "SIP/2.0 481") {
			t.Errorf("forged %s: answer %q, want 481", m, got)
		}
	}
	forger.inDialog("ACK", target, "forged-ack", "f1", "t1")
	for _, m := range []string{"MESSAGE", "OPTIONS"} { // outside a dialog: no To tag
		id := forger.inDialog(m, target, "outside-"+strings.ToLower(m), "f1", "")
		if got := forger.answer(id, 5*time.Second); strings.HasPrefix(got, "SIP/2.0 481") || !strings.HasPrefix(got, "SIP/2.0 ") {
			t.Errorf("%s outside a dialog with our Route: answer %q", m, got)
		}
	}
	silent(t, third, 500*time.Millisecond, "forged requests")
	if n := counterValue(t, e.srv.m.dialogRefused.WithLabelValues("BYE")); n != 1 {
		t.Errorf("ucgrid_sip_dialog_refused_total{method=BYE} = %v, want 1", n)
	}
}

// A BYE reusing a real call's Call-ID is relayed only with the dialog's
// tags, in the order of its direction, and from that party's address:
// wrong tags, or the right ones from a third address, get 481 and reach
// neither phone nor a third host. The real BYE from either side is
// relayed to the other.
func TestRelay_ByeOnlyFromTheDialogsParties(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	third := listenUDP(t, "127.0.0.1:0")
	target := third.LocalAddr().String()

	call := alice.call("2001")
	ring := bob.waitRinging(5 * time.Second)
	ring.answer <- 200
	ok := call.wait(200, 5*time.Second)
	call.ackAndBye(false)
	id := call.req.CallID().Value()
	aliceTag, _ := call.req.From().Params.Get("tag")
	bobTag, _ := ok.To().Params.Get("tag")

	near := newRawUDP(t, "127.0.0.1:0", e.srv.Addr())
	for _, tags := range [][2]string{{aliceTag, "wrong"}, {"wrong", bobTag}, {bobTag, bobTag}} {
		near.inDialog("BYE", target, id, tags[0], tags[1])
		if got := near.answer(id, 5*time.Second); !strings.HasPrefix(got, "SIP/2.0 481") {
			t.Errorf("BYE with tags %q: answer %q, want 481", tags, got)
		}
	}
	far := newRawUDP(t, "127.0.0.2:0", e.srv.Addr()) // a third party that learnt the tags
	for _, tags := range [][2]string{{aliceTag, bobTag}, {bobTag, aliceTag}} {
		far.inDialog("BYE", target, id, tags[0], tags[1])
		if got := far.answer(id, 5*time.Second); !strings.HasPrefix(got, "SIP/2.0 481") {
			t.Errorf("BYE with the dialog's tags %q from 127.0.0.2: answer %q, want 481", tags, got)
		}
	}
	silent(t, third, 500*time.Millisecond, "forged BYEs")
	if byes, _ := bob.counts(); byes != 0 {
		t.Fatalf("a forged BYE reached the callee (%d BYEs)", byes)
	}
	if byes, _ := alice.counts(); byes != 0 {
		t.Fatalf("a forged BYE reached the caller (%d BYEs)", byes)
	}
	if e.srv.calls.len() != 1 {
		t.Fatalf("the forged BYEs ended the call: %d calls held", e.srv.calls.len())
	}

	// The caller itself cannot make the node send into its dialog
	// elsewhere: a MESSAGE with the dialog's tags from the caller's
	// address but a Request-URI and Route at a third host goes to the
	// callee, not there.
	other := listenUDP(t, "127.0.0.3:0") // another host than the callee's
	near.inDialog("MESSAGE", other.LocalAddr().String(), id, aliceTag, bobTag)
	if got := near.answer(id, 5*time.Second); strings.HasPrefix(got, "SIP/2.0 481") || strings.HasPrefix(got, "SIP/2.0 408") {
		t.Errorf("the caller's in-dialog MESSAGE: answer %q, want the callee's", got)
	}
	silent(t, other, 500*time.Millisecond, "the caller's MESSAGE with a third host's Request-URI")

	// The callee hangs up: its BYE follows the route set to the caller.
	calleeBye(t, bob, ring)
	eventually(t, 5*time.Second, "the callee's BYE reaches the caller", func() bool { byes, _ := alice.counts(); return byes == 1 })
	eventually(t, 5*time.Second, "the call ends", func() bool { return e.srv.calls.len() == 0 })

	// A second call, hung up by the caller, reaches the callee.
	call = alice.call("2001")
	bob.waitRinging(5 * time.Second).answer <- 200
	call.wait(200, 5*time.Second)
	call.ackAndBye(true)
	eventually(t, 5*time.Second, "the caller's BYE reaches the callee", func() bool { byes, _ := bob.counts(); return byes == 1 })
}

// calleeBye sends the BYE of the callee of ring through its route set
// (the Record-Route of the INVITE, in order) to the caller's Contact.
func calleeBye(t *testing.T, p *phone, ring *ringing) {
	t.Helper()
	req := sip.NewRequest(sip.BYE, ring.req.Contact().Address)
	for _, rr := range ring.req.GetHeaders("Record-Route") {
		req.AppendHeader(sip.NewHeader("Route", rr.Value()))
	}
	req.AppendHeader(sip.NewHeader("From", fmt.Sprintf("%s;tag=%s", ring.req.To().Value(), ring.tag)))
	req.AppendHeader(sip.NewHeader("To", ring.req.From().Value()))
	req.AppendHeader(sip.NewHeader("Call-ID", ring.req.CallID().Value()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.BYE})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := p.cli.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("callee's bye: %v %v", res, err)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func counterValueTB(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m) // a counter always writes
	return m.GetCounter().GetValue()
}

// The caller's ACK reaches the callee even when the BYE it sent right
// after was handled first: this node handles each request on a goroutine
// of its own, and a caller whose CANCEL crossed the answer ACKs and hangs
// up back to back. Only the caller's ACK is relayed so: the dialog's tags
// from a third address reach nobody.
func TestRelay_AckHandledAfterTheByeStillReachesTheCallee(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	third := listenUDP(t, "127.0.0.1:0")

	call := alice.call("2001")
	ring := bob.waitRinging(5 * time.Second)
	ring.answer <- 200
	ok := call.wait(200, 5*time.Second)
	call.bye()
	eventually(t, 5*time.Second, "the call ends", func() bool { return e.srv.calls.len() == 0 })

	aliceTag, _ := call.req.From().Params.Get("tag")
	bobTag, _ := ok.To().Params.Get("tag")
	far := newRawUDP(t, "127.0.0.2:0", e.srv.Addr())
	far.inDialog("ACK", third.LocalAddr().String(), call.req.CallID().Value(), aliceTag, bobTag)
	call.ack()
	eventually(t, 5*time.Second, "the callee gets the ACK", func() bool { _, acks := bob.counts(); return acks == 1 })
	silent(t, third, 500*time.Millisecond, "an ACK of the ended dialog from a third address")
}
