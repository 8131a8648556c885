package sip

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// calleeRequest is a request m the callee of r (answered with r.tag)
// sends in the call's dialog: to the caller's Contact along the
// Record-Route set in order (RFC 3261 §12.1.1).
func (r *ringing) calleeRequest(m sip.RequestMethod, seq uint32, extra ...sip.Header) *sip.Request {
	req := sip.NewRequest(m, r.req.Contact().Address)
	for _, rr := range r.req.GetHeaders("Record-Route") {
		req.AppendHeader(sip.NewHeader("Route", rr.Value()))
	}
	req.AppendHeader(sip.NewHeader("From", r.req.To().Value()+";tag="+r.tag))
	req.AppendHeader(sip.NewHeader("To", r.req.From().Value()))
	req.AppendHeader(sip.NewHeader("Call-ID", r.req.CallID().Value()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
	for _, h := range extra {
		req.AppendHeader(h)
	}
	return req
}

// send sends req from p and returns its final response.
func (p *phone) send(req *sip.Request) *sip.Response {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := p.cli.Do(ctx, req)
	if err != nil {
		p.t.Fatalf("%s: %v", req.Method, err)
	}
	return res
}

func referTo(uri string) sip.Header { return sip.NewHeader("Refer-To", "<"+uri+">") }

// transferEvents are the transfers reported on line: "by>to" per step
// that carried one.
func (b *dirBackend) transferEvents(line string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, lc := range b.lineCalls {
		if lc.line == line && lc.ev.TransferredBy != "" {
			out = append(out, lc.ev.TransferredBy+">"+lc.ev.TransferredTo)
		}
	}
	return out
}

// A REFER is checked before it is relayed: a Refer-To naming a number
// outside the directory or a host other than this node's gets 403 from
// the node, from either party, and the other party never sees it. One
// naming a directory number is relayed; its acceptance is reported on
// both lines (the journal's transferred_by/transferred_to).
func TestTransfer_ReferCheckedBeforeRelay(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("carol", "3001", "c-pw")
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	c := alice.call("2001")
	r := bob.waitRinging(5 * time.Second)
	r.answer <- 200
	c.wait(200, 5*time.Second)
	c.ack()

	seq := uint32(1)
	for _, target := range []string{"sip:9999@" + testDomain, "sip:3001@evil.example", "sip:3001@192.0.2.7", "tel:3001"} {
		if res := bob.send(r.calleeRequest(sip.REFER, seq, referTo(target))); res.StatusCode != 403 {
			t.Errorf("bob's REFER to %s: %d, want 403", target, res.StatusCode)
		}
		seq++
	}
	aliceRefer := c.inDialog(sip.REFER, 10)
	aliceRefer.AppendHeader(referTo("sip:9999@" + testDomain))
	if res := alice.send(aliceRefer); res.StatusCode != 403 {
		t.Errorf("alice's REFER to 9999: %d, want 403", res.StatusCode)
	}
	if got := len(alice.received(sip.REFER)) + len(bob.received(sip.REFER)); got != 0 {
		t.Fatalf("%d refused REFERs reached a phone", got)
	}

	if res := bob.send(r.calleeRequest(sip.REFER, seq, referTo("sip:3001@"+testDomain),
		sip.NewHeader("Referred-By", "<sip:2001@"+testDomain+">"))); res.StatusCode != 202 {
		t.Fatalf("REFER to 3001: %d, want 202", res.StatusCode)
	}
	if got := alice.received(sip.REFER); len(got) != 1 || !strings.Contains(got[0].GetHeader("Refer-To").Value(), "3001@") {
		t.Fatalf("alice got REFERs %v", got)
	}
	eventually(t, 5*time.Second, "transfer reported on both lines", func() bool {
		return slices.Contains(e.be.transferEvents("1001"), "2001>3001") && slices.Contains(e.be.transferEvents("2001"), "2001>3001")
	})
	c.bye()
	eventually(t, 5*time.Second, "call ended", func() bool { return e.srv.calls.len() == 0 })
}

// An INVITE with Replaces naming a connected call (attended transfer) is
// not a pickup: it goes to the phone holding the dialog, which replaces
// it; the new call carries the Referred-By into the line reports.
func TestTransfer_ReplacesOfConnectedCallReachesThePhoneHoldingIt(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("carol", "3001", "c-pw")
	e.user("dave", "3002", "d-pw")
	e.group("desk", "700", "ring_all", []string{"carol", "dave"}, nil)
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	carol := registered(t, e, "3001", "c-pw")
	dave := registered(t, e, "3002", "d-pw")

	// bob calls the desk group; carol answers: the dialog to replace.
	consult := bob.call("700")
	rc := carol.waitRinging(5 * time.Second)
	dave.waitRinging(5 * time.Second)
	rc.answer <- 200
	consult.wait(200, 5*time.Second)
	consult.ack()
	fromTag, _ := consult.req.From().Params.Get("tag")
	replaces := consult.req.CallID().Value() + ";to-tag=" + rc.tag + ";from-tag=" + fromTag

	// alice, referred by bob, calls the group number with Replaces: it
	// reaches carol's phone (not the group's hunt, not a pickup's 404).
	nc := alice.call("700", sip.NewHeader("Replaces", replaces), sip.NewHeader("Referred-By", "<sip:2001@"+testDomain+">"))
	rr := carol.waitRinging(5 * time.Second)
	if h := rr.req.GetHeader("Replaces"); h == nil || h.Value() != replaces {
		t.Fatalf("carol's INVITE Replaces = %v, want %q", h, replaces)
	}
	if h := rr.req.GetHeader("Record-Route"); h == nil {
		t.Error("the new call is not record-routed")
	}
	rr.answer <- 200
	nc.wait(200, 5*time.Second)
	if n := len(dave.incoming); n != 0 {
		t.Errorf("the other member's phone rang %d times for the Replaces", n)
	}
	nc.ack()
	// carol's phone ends the replaced dialog.
	if res := carol.send(rc.calleeRequest(sip.BYE, 1)); res.StatusCode != 200 {
		t.Fatalf("carol's BYE of the replaced call: %d", res.StatusCode)
	}
	eventually(t, 5*time.Second, "new call reported as transferred on both lines", func() bool {
		return slices.Contains(e.be.transferEvents("1001"), "2001>700") && slices.Contains(e.be.transferEvents("3001"), "2001>700")
	})
	nc.bye()
	eventually(t, 5*time.Second, "calls ended", func() bool { return e.srv.calls.len() == 0 })

	// Replaces naming a call nobody carries goes to the line the
	// Request-URI names (its phone answers 481), not to pickup's 404.
	carol.setMode(481)
	alice.call("3001", sip.NewHeader("Replaces", "gone@x;to-tag=a;from-tag=b")).wait(481, 5*time.Second)
}

// An INVITE with Replaces naming a call still ringing here is a pickup,
// as BLF keys send it (without early-only too): the caller's phone gets
// the picker's INVITE; the ringing phone is cancelled.
func TestTransfer_ReplacesOfRingingCallIsPickup(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("tim", "5001", "t-pw")
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: "bob", Viewer: "tim", Grant: &dirpb.Grant{Level: "team"}}}})
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	tim := registered(t, e, "5001", "t-pw")
	c := alice.call("2001")
	r := bob.waitRinging(5 * time.Second)
	c.wait(180, 5*time.Second)
	fromTag, _ := c.req.From().Params.Get("tag")
	if !e.srv.ringingCallNamed(c.req.CallID().Value(), "2001") {
		t.Fatal("the ringing call is not known as ringing")
	}
	pick := tim.call("2001", sip.NewHeader("Replaces", c.req.CallID().Value()+";to-tag="+r.tag+";from-tag="+fromTag))
	ra := alice.waitRinging(5 * time.Second)
	if h := ra.req.GetHeader("Replaces"); h == nil || !strings.HasSuffix(h.Value(), ";early-only") {
		t.Fatalf("INVITE to the caller: Replaces = %v, want the pickup's", h)
	}
	ra.answer <- 200
	pick.wait(200, 5*time.Second)
	eventually(t, 5*time.Second, "ringing phone cancelled", func() bool { return bob.cancelCount() == 1 })
	pick.ackAndBye(true)
	c.wait(487, 5*time.Second)
}
