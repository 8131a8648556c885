package sip

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// parsedResponse is a response as sipgo parses it off the wire, its top
// Via ending in viaParams.
func parsedResponse(t *testing.T, code int, viaParams string, extra ...string) *sip.Response {
	t.Helper()
	raw := "SIP/2.0 " + strconv.Itoa(code) + " X\r\n" +
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport=5060" + viaParams + "\r\n" +
		"Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKdef\r\n" +
		"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n" +
		strings.Join(extra, "") + "Content-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("parse %q: %v", viaParams, err)
	}
	return m.(*sip.Response)
}

func TestParseOCFeedback(t *testing.T) {
	const seq = 1282321615*ocSeqFrac + 78200
	for _, tc := range []struct {
		name   string
		params string
		want   ocFeedback
		ok     bool
	}{
		{"no oc", "", ocFeedback{}, false},
		{"bare oc: our own offer echoed", ";oc", ocFeedback{}, false},
		{"oc alone: default validity", ";oc=20", ocFeedback{20, 500 * time.Millisecond, -1}, true},
		{"every parameter", `;oc=20;oc-algo="loss";oc-validity=1000;oc-seq=1282321615.782`, ocFeedback{20, time.Second, seq}, true},
		{"quoted algo first (sipgo's mangled keys)", `;oc-algo="loss";oc-validity=300;oc=30`, ocFeedback{30, 300 * time.Millisecond, -1}, true},
		{"names in any case", ";OC=40;Oc-Validity=2000;OC-SEQ=5.1", ocFeedback{40, 2 * time.Second, 5*ocSeqFrac + 10000}, true},
		{"unquoted algo", ";oc=10;oc-algo=LOSS", ocFeedback{10, 500 * time.Millisecond, -1}, true},
		{"oc=0 ends it", ";oc=0;oc-validity=500", ocFeedback{0, 500 * time.Millisecond, -1}, true},
		{"validity 0 ends it", ";oc=50;oc-validity=0", ocFeedback{50, 0, -1}, true},
		{"validity capped", ";oc=50;oc-validity=86400000", ocFeedback{50, ocMaxValidity, -1}, true},
		{"oc above 100", ";oc=101", ocFeedback{}, false},
		{"oc negative", ";oc=-5", ocFeedback{}, false},
		{"oc not a number", ";oc=abc", ocFeedback{}, false},
		{"oc huge", ";oc=99999999999999999999", ocFeedback{}, false},
		{"validity not a number", ";oc=20;oc-validity=1s", ocFeedback{}, false},
		{"validity too long a number", ";oc=20;oc-validity=12345678901", ocFeedback{}, false},
		{"seq without a dot", ";oc=20;oc-seq=12", ocFeedback{}, false},
		{"seq fraction too long", ";oc=20;oc-seq=1.123456", ocFeedback{}, false},
		{"seq seconds too long", ";oc=20;oc-seq=1234567890123.1", ocFeedback{}, false},
		{"seq empty fraction", ";oc=20;oc-seq=1.", ocFeedback{}, false},
		{"another algorithm", `;oc=20;oc-algo="rate"`, ocFeedback{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseOCFeedback(parsedResponse(t, 200, tc.params).Via())
			if ok != tc.ok || ok && got != tc.want {
				t.Errorf("parseOCFeedback(%q) = %+v, %v; want %+v, %v", tc.params, got, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := parseOCFeedback(nil); ok {
		t.Error("no Via gave feedback")
	}
}

func FuzzParseOCFeedback(f *testing.F) {
	for _, s := range []string{";oc=20", `;oc-algo="loss";oc=30;oc-seq=1.2`, ";oc=0;oc-validity=0", ";oc", `;oc="`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, params string) {
		raw := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKabc" + params + "\r\n" +
			"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
		m, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			return
		}
		res, ok := m.(*sip.Response)
		if !ok {
			return
		}
		fb, ok := parseOCFeedback(res.Via())
		if ok && (fb.reduction < 0 || fb.reduction > 100 || fb.validity < 0 || fb.validity > ocMaxValidity) {
			t.Fatalf("%q gave %+v", params, fb)
		}
		var o overloadControl
		o.observe("t", res, time.Unix(0, 0))
		o.admit("t", time.Unix(0, 0))
	})
}

// feedback feeds o a response of trunk "carrier" at now with viaParams.
func feedback(t *testing.T, o *overloadControl, now time.Time, code int, viaParams string, extra ...string) {
	t.Helper()
	o.observe("carrier", parsedResponse(t, code, viaParams, extra...), now)
}

// shedAt reports whether a new call to "carrier" is refused at now, and
// why.
func shedAt(o *overloadControl, now time.Time) string {
	why, _ := o.admit("carrier", now)
	return why
}

func TestOverloadControl_ValidityExpires(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var o overloadControl
	feedback(t, &o, t0, 200, ";oc=100;oc-validity=1000")
	if got := shedAt(&o, t0.Add(999*time.Millisecond)); got != trunkShed {
		t.Errorf("within the validity: %q, want shed", got)
	}
	if got := shedAt(&o, t0.Add(time.Second)); got != "" {
		t.Errorf("once it expired: %q, want admitted", got)
	}
	if got := shedAt(&o, t0); got != trunkShed {
		t.Errorf("at t0: %q", got)
	}
	if _, ok := o.admit("other", t0); ok != 0 {
		t.Error("another trunk is restricted")
	}
	feedback(t, &o, t0.Add(100*time.Millisecond), 180, ";oc=100;oc-validity=0")
	if got := shedAt(&o, t0.Add(200*time.Millisecond)); got != "" {
		t.Errorf("after oc-validity=0: %q", got)
	}
	feedback(t, &o, t0.Add(300*time.Millisecond), 180, ";oc=100")
	if got := shedAt(&o, t0.Add(799*time.Millisecond)); got != trunkShed {
		t.Errorf("default validity: %q", got)
	}
	if got := shedAt(&o, t0.Add(800*time.Millisecond)); got != "" {
		t.Errorf("after the default 500 ms: %q", got)
	}
	feedback(t, &o, t0.Add(time.Second), 180, ";oc=100;oc-validity=10000")
	feedback(t, &o, t0.Add(2*time.Second), 180, ";oc=0;oc-validity=10000")
	if got := shedAt(&o, t0.Add(2*time.Second)); got != "" {
		t.Errorf("after oc=0: %q", got)
	}
}

func TestOverloadControl_NewerSeqWins(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var o overloadControl
	feedback(t, &o, t0, 200, ";oc=100;oc-validity=60000;oc-seq=100.5")
	feedback(t, &o, t0, 200, ";oc=0;oc-seq=100.4") // older, overtaken: ignored
	if got := shedAt(&o, t0.Add(time.Second)); got != trunkShed {
		t.Fatalf("an older oc-seq lifted the reduction: %q", got)
	}
	feedback(t, &o, t0.Add(2*time.Second), 200, ";oc=100;oc-validity=1000;oc-seq=100.50") // the same: refreshes
	if got := shedAt(&o, t0.Add(3*time.Second)); got != "" {
		t.Fatalf("the same oc-seq did not replace the validity: %q", got)
	}
	feedback(t, &o, t0.Add(4*time.Second), 200, ";oc=100;oc-validity=1000;oc-seq=100.6")
	feedback(t, &o, t0.Add(4*time.Second), 200, ";oc=0;oc-seq=101.0")
	if got := shedAt(&o, t0.Add(4*time.Second)); got != "" {
		t.Fatalf("a newer oc=0 did not end it: %q", got)
	}
	feedback(t, &o, t0.Add(5*time.Second), 200, ";oc=100;oc-validity=1000") // no oc-seq: taken
	if got := shedAt(&o, t0.Add(5*time.Second)); got != trunkShed {
		t.Fatalf("feedback without oc-seq ignored: %q", got)
	}
	feedback(t, &o, t0.Add(5*time.Second), 200, ";oc=0;oc-seq=100.9") // older than 101.0
	if got := shedAt(&o, t0.Add(5*time.Second)); got != trunkShed {
		t.Fatalf("the newest oc-seq is 101.0, 100.9 applied: %q", got)
	}
}

func TestOverloadControl_BadFeedbackIsIgnored(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var o overloadControl
	feedback(t, &o, t0, 200, ";oc=100;oc-validity=60000")
	for _, p := range []string{";oc=0;oc-validity=x", ";oc=abc", ";oc=0;oc-seq=nan", `;oc=0;oc-algo="rate"`} {
		feedback(t, &o, t0, 200, p)
	}
	if got := shedAt(&o, t0.Add(time.Second)); got != trunkShed {
		t.Errorf("malformed feedback changed the state: %q", got)
	}
}

func TestOverloadControl_LossShareWithinBand(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	for _, pct := range []int{0, 10, 50, 90, 100} {
		var o overloadControl
		feedback(t, &o, t0, 200, ";oc="+strconv.Itoa(pct)+";oc-validity=60000")
		const n = 20000
		shed := 0
		for range n {
			if shedAt(&o, t0) == trunkShed {
				shed++
			}
		}
		// Binomial: sd ≤ √(n/4) ≈ 71; ±2 % of n is 5.7 sd, so a fair
		// share fails about once in 10⁸ runs (±1 %, 2.8 sd, failed CI
		// once: 9,788 of 20,000 at oc=50), while a share off by a few
		// points still fails every run.
		want := n * pct / 100
		if shed < want-n/50 || shed > want+n/50 {
			t.Errorf("oc=%d: %d of %d shed, want %d ± %d", pct, shed, n, want, n/50)
		}
	}
}

func TestOverloadControl_503RetryAfterHoldsTheTrunk(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name  string
		code  int
		extra string
		hold  time.Duration
	}{
		{"503 Retry-After 2", 503, "Retry-After: 2\r\n", 2 * time.Second},
		{"with a comment and duration", 503, "Retry-After: 30 (maintenance);duration=60\r\n", 30 * time.Second},
		{"a day is capped", 503, "Retry-After: 86400\r\n", DefaultTrunkHoldMax},
		{"503 without Retry-After", 503, "", 0},
		{"malformed Retry-After", 503, "Retry-After: soon\r\n", 0},
		{"486 with Retry-After", 486, "Retry-After: 2\r\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o overloadControl
			feedback(t, &o, t0, tc.code, "", tc.extra)
			why, left := o.admit("carrier", t0)
			if tc.hold == 0 {
				if why != "" {
					t.Fatalf("held off: %q", why)
				}
				return
			}
			if why != trunkHeldOff || left != tc.hold {
				t.Fatalf("admit = %q, %v; want held_off, %v", why, left, tc.hold)
			}
			if why, _ := o.admit("carrier", t0.Add(tc.hold)); why != "" {
				t.Fatalf("still held off after Retry-After: %q", why)
			}
		})
	}
}

func TestOverloadControl_AdmitDoesNotAllocate(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var o overloadControl
	if n := testing.AllocsPerRun(100, func() { o.admit("carrier", t0) }); n != 0 {
		t.Errorf("no state: %v allocations", n)
	}
	feedback(t, &o, t0, 200, ";oc=50;oc-validity=1000")
	if n := testing.AllocsPerRun(100, func() { o.admit("carrier", t0.Add(2*time.Second)) }); n != 0 {
		t.Errorf("expired feedback: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { o.admit("carrier", t0) }); n != 0 {
		t.Errorf("active feedback: %v allocations", n)
	}
}

func BenchmarkOverloadControl_Admit(b *testing.B) {
	var o overloadControl
	now := time.Now()
	o.upstream("other")
	for b.Loop() {
		o.admit("carrier", now)
	}
}

func TestOCVia_OffersLossAlgorithm(t *testing.T) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "1", Host: "h"})
	req.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "10.0.0.9", Port: 5060,
		Params: sip.HeaderParams{{K: "branch", V: "z9hG4bKx"}}})
	if err := ocVia(nil, req); err != nil {
		t.Fatal(err)
	}
	if got, want := req.Via().Value(), `SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKx;oc;oc-algo="loss"`; got != want {
		t.Errorf("Via %q, want %q", got, want)
	}
}

// fakeSignal is an overload detector saying what a test sets.
type fakeSignal struct{ pct int }

func (f *fakeSignal) ReductionPercent() int { return f.pct }

// parsedRequest is a request from a client whose top Via ends in
// viaParams, as sipgo parses it.
func parsedRequest(t *testing.T, viaParams string) *sip.Request {
	t.Helper()
	raw := "INVITE sip:1001@example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup" + viaParams + "\r\n" +
		"From: <sip:a@b>;tag=1\r\nTo: <sip:1001@example.com>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*sip.Request)
}

// responseVia is the top Via of a response built from req.
func responseVia(req *sip.Request) string {
	return sip.NewResponseFromRequest(req, 503, "Busy", nil).Via().Value()
}

func TestStampOverloadFeedback_GivesOurReductionToAnRFC7339Client(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var o overloadControl
	sig := &fakeSignal{}
	var s overloadSignal = sig
	o.signal.Store(&s)

	req := parsedRequest(t, `;oc;oc-algo="loss"`)
	o.stamp(req, t0)
	if got, want := responseVia(req), `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup;oc;oc-algo="loss"`; got != want {
		t.Fatalf("not overloaded: Via %q, want it as sent, %q", got, want)
	}

	sig.pct = 40
	req = parsedRequest(t, `;oc;oc-algo="loss"`)
	o.stamp(req, t0)
	via := responseVia(req)
	if !strings.HasPrefix(via, `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup;oc=40;oc-algo="loss";oc-validity=2000;oc-seq=1800000000.`) {
		t.Fatalf("overloaded: Via %q", via)
	}
	fb, ok := parseOCFeedback(parsedResponse(t, 200, strings.TrimPrefix(via, "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup")).Via())
	if !ok || fb.reduction != 40 || fb.validity != DefaultOverloadFeedbackValidity {
		t.Fatalf("a client reads %+v, %v from %q", fb, ok, via)
	}
	first := fb.seq

	sig.pct = 0
	req = parsedRequest(t, `;oc`)
	o.stamp(req, t0.Add(time.Second))
	fb, ok = parseOCFeedback(parsedResponse(t, 200, strings.TrimPrefix(responseVia(req), "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup")).Via())
	if !ok || fb.reduction != 0 || fb.seq <= first {
		t.Fatalf("after the overload, within the validity: %+v, %v; want oc=0 with a newer oc-seq than %d", fb, ok, first)
	}
	req = parsedRequest(t, `;oc`)
	o.stamp(req, t0.Add(DefaultOverloadFeedbackValidity))
	if got := responseVia(req); strings.Contains(got, "oc=") {
		t.Fatalf("long after the overload: Via %q", got)
	}

	sig.pct = 40
	req = parsedRequest(t, "")
	o.stamp(req, t0)
	if got := responseVia(req); strings.Contains(got, "oc") {
		t.Fatalf("a client that did not offer RFC 7339 got %q", got)
	}
}

func TestStampOverloadFeedback_MendsQuotedViaParameters(t *testing.T) {
	var o overloadControl
	const params = `;oc-algo="loss";rport;x="a b";oc`
	req := parsedRequest(t, params)
	o.stamp(req, time.Unix(0, 0))
	if got, want := req.Via().Value(), "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup"+params; got != want {
		t.Errorf("Via %q, want %q", got, want)
	}
	plain := parsedRequest(t, ";rport")
	if n := testing.AllocsPerRun(100, func() { o.stamp(plain, time.Unix(0, 0)) }); n != 0 {
		t.Errorf("a plain request: %v allocations", n)
	}
}

func TestTrunkRefusalRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		left time.Duration
		want int
	}{{time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {time.Hour, 5}} {
		if got := refusalRetryAfter(tc.left); got != tc.want {
			t.Errorf("refusalRetryAfter(%v) = %d, want %d", tc.left, got, tc.want)
		}
	}
	if o := trunkRefused(parsedResponse(t, 503, "", "Retry-After: 3600\r\n")); o.status != 503 || o.retryAfter != 5 {
		t.Errorf("the upstream's 503 Retry-After 3600: %+v", o)
	}
	if o := trunkRefused(parsedResponse(t, 503, "")); o.retryAfter != 0 || len(o.headers()) != 0 {
		t.Errorf("the upstream's 503 without Retry-After: %+v", o)
	}
}

// The merger's two lines: the detector plugs in with setOverloadSignal,
// and stampOverloadFeedback marks a request as it enters.
func TestServer_OverloadSignalPlugsIn(t *testing.T) {
	var s Server
	req := parsedRequest(t, ";oc")
	s.stampOverloadFeedback(req)
	if got := responseVia(req); strings.Contains(got, "oc=") {
		t.Fatalf("no detector: Via %q", got)
	}
	s.setOverloadSignal(&fakeSignal{pct: 120})
	req = parsedRequest(t, ";oc")
	s.stampOverloadFeedback(req)
	if got := responseVia(req); !strings.Contains(got, ";oc=100;") {
		t.Fatalf("a detector asking 120 %%: Via %q, want oc=100", got)
	}
}

// Feedback, 503s and admissions for several trunks at once (run with
// -race): every trunk ends up with the state its last response set.
func TestOverloadControl_ConcurrentUse(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var o overloadControl
	shed := parsedResponse(t, 200, ";oc=100;oc-validity=60000")
	held := parsedResponse(t, 503, "", "Retry-After: 60\r\n")
	var wg sync.WaitGroup
	for g := range 8 {
		trunk := "t" + strconv.Itoa(g%4)
		wg.Go(func() {
			for i := range 200 {
				switch i % 3 {
				case 0:
					o.observe(trunk, shed, t0)
				case 1:
					o.observe(trunk, held, t0)
				default:
					o.admit(trunk, t0)
				}
			}
		})
	}
	wg.Wait()
	for g := range 4 {
		if why, _ := o.admit("t"+strconv.Itoa(g), t0); why != trunkHeldOff {
			t.Errorf("trunk t%d: %q, want held_off", g, why)
		}
	}
	if m := o.trunks.Load(); m == nil || len(*m) != 4 {
		t.Errorf("trunk states: %v", m)
	}
}
