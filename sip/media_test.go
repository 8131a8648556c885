package sip

import (
	"testing"
	"time"
)

// The proxy carries no media and rewrites no SDP: the offer reaches the
// callee and the answer the caller byte for byte, with the phones' own
// addresses in c= and m= (docs/sip.md, "Media is not relayed").
func TestCall_SDPPassesUntouched(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	alice, bob := registered(t, e, "1001", "a-pw"), registered(t, e, "2001", "b-pw")
	c := alice.call("2001")
	r := bob.waitRinging(5 * time.Second)
	if got := string(r.req.Body()); got != testSDP {
		t.Fatalf("offer at the callee:\n%q\nwant the caller's:\n%q", got, testSDP)
	}
	r.answer <- 200
	res := c.wait(200, 5*time.Second)
	if got := string(res.Body()); got != testSDP {
		t.Fatalf("answer at the caller:\n%q\nwant the callee's:\n%q", got, testSDP)
	}
	if ct := res.ContentType(); ct == nil || ct.Value() != "application/sdp" {
		t.Fatalf("answer Content-Type %v, want application/sdp", ct)
	}
	c.ackAndBye(true)
}
