package sip

import (
	"net"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// fakeCarrier is a sipgo UAS on 127.0.0.1 standing for the upstream of
// trunk "carrier": it answers every INVITE with what answer returns and
// counts the INVITEs and BYEs it receives.
type fakeCarrier struct {
	port    int
	invites atomic.Int64
	byes    atomic.Int64
	seq     atomic.Int64

	mu     sync.Mutex
	answer func(f *fakeCarrier, n int64, res *sip.Response) // n counts INVITEs from 1
	vias   []string                                         // the top Via of each INVITE
}

func startFakeCarrier(t *testing.T, answer func(f *fakeCarrier, n int64, res *sip.Response)) *fakeCarrier {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("fake-carrier"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCarrier{port: pc.LocalAddr().(*net.UDPAddr).Port, answer: answer}
	srv.OnInvite(f.onInvite)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		f.byes.Add(1)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = srv.ServeUDP(pc) }()
	t.Cleanup(func() { _ = ua.Close() })
	return f
}

func (f *fakeCarrier) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	n := f.invites.Add(1)
	f.mu.Lock()
	f.vias = append(f.vias, req.Via().Value())
	answer := f.answer
	f.mu.Unlock()
	res := sip.NewResponseFromRequest(req, 486, "Busy Here", nil)
	mendVia(res.Via()) // a correct RFC 7339 server echoes our Via as sent
	res.To().Params.Add("tag", "carrier"+strconv.FormatInt(n, 10))
	for _, rr := range req.GetHeaders("Record-Route") { // a UAS's 2xx echoes them (RFC 3261 §12.1.1)
		res.AppendHeader(sip.HeaderClone(rr))
	}
	answer(f, n, res)
	_ = tx.Respond(res)
}

// firstVia is the top Via of the first INVITE.
func (f *fakeCarrier) firstVia() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.vias) == 0 {
		return ""
	}
	return f.vias[0]
}

// withOC makes res ask for reduction for validity, with a new oc-seq.
func (f *fakeCarrier) withOC(res *sip.Response, reduction int, validity time.Duration) {
	setOCFeedback(res.Via(), reduction, validity, 1_800_000_000*ocSeqFrac+f.seq.Add(1))
}

// finalOf waits for the final response of call c.
func finalOf(t *testing.T, c *outCall) *sip.Response {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-c.res:
			if !r.IsProvisional() {
				c.fin = r
				return r
			}
		case <-timeout:
			t.Fatalf("%v: no final response", c)
			return nil
		}
	}
}

// A carrier asking for a 50 % reduction receives about half of the new
// calls; the others are answered 503 at once, with a short Retry-After.
func TestTrunkOverload_CarrierAskingForHalfGetsAboutHalfTheCalls(t *testing.T) {
	e := newEnv(t)
	up := startFakeCarrier(t, func(f *fakeCarrier, _ int64, res *sip.Response) { f.withOC(res, 50, time.Minute) })
	outboundSetup(e, up.port, nil)
	alice := newPhone(t, e, "1001", "a-pw")

	if res := finalOf(t, alice.call("089555123")); res.StatusCode != 486 {
		t.Fatalf("first call: %d, want the carrier's 486", res.StatusCode)
	}
	if via := up.firstVia(); !regexpMatch(`;oc;oc-algo="loss"`, via) {
		t.Errorf("our Via does not offer RFC 7339: %q", via)
	}
	const calls = 60
	shed := 0
	for range calls {
		res := finalOf(t, alice.call("089555123"))
		switch res.StatusCode {
		case 486:
		case 503:
			shed++
			if h := res.GetHeader("Retry-After"); h == nil || h.Value() == "" {
				t.Errorf("a shed call's 503 has no Retry-After: %v", res)
			} else if n, err := strconv.Atoi(h.Value()); err != nil || n < 1 || n > 5 {
				t.Errorf("a shed call's Retry-After %q, want 1–5 s", h.Value())
			}
		default:
			t.Fatalf("a call got %d", res.StatusCode)
		}
	}
	sent := up.invites.Load() - 1
	if sent+int64(shed) != calls {
		t.Errorf("%d calls reached the carrier and %d were shed, of %d", sent, shed, calls)
	}
	// Binomial(60, ½): sd 3.9; 15–45 is ±3.9 sd.
	if sent < 15 || sent > 45 {
		t.Errorf("%d of %d new calls reached a carrier asking for 50 %%", sent, calls)
	}
	if got := counterValue(t, e.srv.m.trunkCalls.WithLabelValues(trunkShed)); got != float64(shed) {
		t.Errorf("shed counter %v, want %d", got, shed)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}

// A carrier answering 503 Retry-After: 2 gets no new call for 2 s; the
// caller gets our 503 (Retry-After ≤ 2) at once; then calls go again.
func TestTrunkOverload_503RetryAfterKeepsTheNextCallAway(t *testing.T) {
	e := newEnv(t)
	up := startFakeCarrier(t, func(_ *fakeCarrier, n int64, res *sip.Response) {
		if n == 1 {
			res.StatusCode, res.Reason = 503, "Service Unavailable"
			res.AppendHeader(sip.NewHeader("Retry-After", "2"))
		}
	})
	outboundSetup(e, up.port, nil)
	alice := newPhone(t, e, "1001", "a-pw")

	res := finalOf(t, alice.call("089555123"))
	if res.StatusCode != 503 || res.GetHeader("Retry-After") == nil || res.GetHeader("Retry-After").Value() != "2" {
		t.Fatalf("first call: %v, want 503 with Retry-After 2", res)
	}
	start := time.Now()
	res = finalOf(t, alice.call("089555123"))
	if res.StatusCode != 503 || res.Reason != "Trunk Unavailable" {
		t.Fatalf("the next call: %d %s, want our 503", res.StatusCode, res.Reason)
	}
	if h := res.GetHeader("Retry-After"); h == nil || (h.Value() != "1" && h.Value() != "2") {
		t.Errorf("the next call's Retry-After: %v", h)
	}
	if n := up.invites.Load(); n != 1 && time.Since(start) < 2*time.Second {
		t.Fatalf("the carrier received %d INVITEs within its Retry-After", n)
	}
	if got := counterValue(t, e.srv.m.trunkCalls.WithLabelValues(trunkHeldOff)); got < 1 {
		t.Errorf("held_off counter %v", got)
	}
	eventually(t, 10*time.Second, "a call reaches the carrier after its Retry-After", func() bool {
		if finalOf(t, alice.call("089555123")).StatusCode == 486 {
			return true
		}
		return false
	})
	if waited := time.Since(start); waited < 1500*time.Millisecond {
		t.Errorf("calls went to the carrier again after %v", waited)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}

// A carrier asking for a 100 % reduction gets no new call, but the BYE
// of the call it answered reaches it: in-dialog requests are never shed.
func TestTrunkOverload_InDialogRequestsAreNeverShed(t *testing.T) {
	e := newEnv(t)
	up := startFakeCarrier(t, func(f *fakeCarrier, n int64, res *sip.Response) {
		if n == 1 {
			res.StatusCode, res.Reason = 200, "OK"
			res.AppendHeader(sip.NewHeader("Contact", "<sip:carrier@127.0.0.1:"+strconv.Itoa(f.port)+">"))
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			res.SetBody([]byte(testSDP))
		}
		f.withOC(res, 100, time.Minute)
	})
	outboundSetup(e, up.port, nil)
	alice := newPhone(t, e, "1001", "a-pw")
	call := alice.call("089555123")
	call.wait(200, 10*time.Second)
	call.ack()
	if res := finalOf(t, alice.call("089555124")); res.StatusCode != 503 || res.Reason != "Trunk Overloaded" {
		t.Fatalf("a new call while the carrier asks for 100 %%: %d %s", res.StatusCode, res.Reason)
	}
	call.bye()
	if n := up.byes.Load(); n != 1 {
		t.Errorf("the carrier received %d BYEs, want 1", n)
	}
	if n := up.invites.Load(); n != 1 {
		t.Errorf("the carrier received %d INVITEs, want 1", n)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}

func regexpMatch(pattern, s string) bool {
	return regexp.MustCompile(regexp.QuoteMeta(pattern)).MatchString(s)
}

// An emergency call goes to a carrier asking for 100 % or held back by
// its 503: the upstream decides about those.
func TestTrunkOverload_EmergencyCallsAreNeverShed(t *testing.T) {
	e := newEnv(t)
	up := startFakeCarrier(t, func(f *fakeCarrier, n int64, res *sip.Response) {
		f.withOC(res, 100, time.Minute)
		if n == 2 {
			res.StatusCode, res.Reason = 503, "Service Unavailable"
			res.AppendHeader(sip.NewHeader("Retry-After", "60"))
		}
	})
	outboundSetup(e, up.port, nil)
	alice := newPhone(t, e, "1001", "a-pw")
	if res := finalOf(t, alice.call("089555123")); res.StatusCode != 486 {
		t.Fatalf("first call: %d", res.StatusCode)
	}
	if res := finalOf(t, alice.call("112")); res.StatusCode != 503 || up.invites.Load() != 2 {
		t.Fatalf("an emergency call while the carrier asks for 100 %%: %d, carrier INVITEs %d", res.StatusCode, up.invites.Load())
	}
	if res := finalOf(t, alice.call("112")); res.StatusCode != 486 || up.invites.Load() != 3 {
		t.Fatalf("an emergency call within the carrier's Retry-After: %d, carrier INVITEs %d", res.StatusCode, up.invites.Load())
	}
	if res := finalOf(t, alice.call("089555123")); res.StatusCode != 503 || up.invites.Load() != 3 {
		t.Fatalf("a new call meanwhile: %d, carrier INVITEs %d", res.StatusCode, up.invites.Load())
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}
