package sip

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// A callee whose 200 the caller does not ACK (the ACK was lost) sends the
// 200 again, for up to 64*T1: the caller ACKs again only when it sees a
// copy. Every copy must reach it: those the node's transaction for the
// branch takes while it lives (RFC 6026's Accepted state, whose copies
// sipgo hands only to a hook: they were dropped before) and those after
// it ended (it stays completedLinger, 64*T1 here), which the call table
// relays (strayResponse).
func TestCall_RepeatedAnswerReachesTheCallerWhileAndAfterItsTransactionLives(t *testing.T) {
	e := newEnv(t)
	e.user("bob", "2001", "b-pw")
	bob := registered(t, e, "2001", "b-pw")
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier", Addresses: []string{"127.0.0.5/32"}}}}})
	pstn := newRawUDP(t, "127.0.0.5:0", e.srv.Addr())
	callID := "repeat-" + sip.GenerateTagN(8)
	local := pstn.conn.LocalAddr().String()
	invite := "INVITE sip:2001@" + testDomain + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + sip.GenerateTagN(10) + ";rport\r\n" +
		"From: <sip:+4930123@" + testDomain + ">;tag=" + sip.GenerateTagN(8) + "\r\n" +
		"To: <sip:2001@" + testDomain + ">\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Max-Forwards: 70\r\n" +
		"Contact: <sip:+4930123@" + local + ">\r\n" +
		"Content-Type: application/sdp\r\n" +
		"Content-Length: " + strconv.Itoa(len(testSDP)) + "\r\n\r\n" + testSDP
	if _, err := pstn.conn.WriteTo([]byte(invite), pstn.srv); err != nil {
		t.Fatal(err)
	}
	ring := bob.waitRinging(5 * time.Second)
	ring.answer <- 200
	if got := pstn.answer(callID, 5*time.Second); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("the caller got %q, want the 200", got)
	}

	// The callee repeats its 200 at T2 intervals until well past the
	// node's transaction (64*T1 in tests); the caller, who never ACKs,
	// counts the copies that reach it.
	answered := time.Now()
	ended := answered.Add(64 * sip.T1)
	lastCopy := ended.Add(4 * sip.T2)
	got := make(chan time.Time, 64)
	go func() {
		buf := make([]byte, 65536)
		for {
			_ = pstn.conn.SetReadDeadline(lastCopy.Add(5 * time.Second))
			n, _, err := pstn.conn.ReadFrom(buf)
			if err != nil {
				close(got)
				return
			}
			if msg := string(buf[:n]); strings.HasPrefix(msg, "SIP/2.0 200") && strings.Contains(msg, "Call-ID: "+callID+"\r\n") {
				got <- time.Now()
			}
		}
	}()
	tick := time.NewTicker(sip.T2)
	defer tick.Stop()
	sent := 0
	for now := range tick.C {
		res := ring.response(200, bob)
		res.SetDestination(e.srv.Addr())
		if err := bob.ua.TransportLayer().WriteMsg(res); err != nil {
			t.Fatal(err)
		}
		sent++
		if now.After(lastCopy) {
			break
		}
	}
	late, total := 0, 0
	deadline := time.After(5 * time.Second)
	for total < sent {
		select {
		case at, ok := <-got:
			if !ok {
				t.Fatalf("the caller got %d of the %d repeated 200s (%d after the transaction ended)", total, sent, late)
			}
			total++
			if at.After(ended) {
				late++
			}
		case <-deadline:
			t.Fatalf("the caller got %d of the %d repeated 200s (%d after the transaction ended)", total, sent, late)
		}
	}
	if late == 0 || late == total {
		t.Fatalf("of %d repeated 200s, %d reached the caller after the node's transaction ended: want some before and some after", total, late)
	}
}
