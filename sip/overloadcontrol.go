package sip

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/dialplan"
)

// Overload control toward other SIP servers (docs/sip.md, "Overload
// control toward other servers (RFC 7339)"). As a client of a trunk's
// upstream, ucgrid offers RFC 7339 loss-based overload control in its
// Via (";oc;oc-algo="loss""), reads the reduction the upstream asks for
// in the top Via of its responses (oc, oc-algo, oc-validity, oc-seq) and
// drops that share of the new calls to it before they are sent; a 503
// with Retry-After keeps new calls away from the trunk for that long
// (RFC 3261 §21.5.4). As a server, it gives the reduction its own
// overload detector asks for to a client that offered RFC 7339.

// Defaults a Config field could override one day (the merger's flags).
const (
	// DefaultOverloadFeedbackValidity is the oc-validity of the reduction
	// this node asks of RFC 7339 clients while it is overloaded: long
	// enough that a client keeps it between two of our responses at a
	// low call rate, short enough that it lifts soon after the overload
	// ends (an oc=0 ends it sooner).
	DefaultOverloadFeedbackValidity = 2 * time.Second
	// DefaultTrunkHoldMax caps how long a trunk's 503 Retry-After keeps
	// new calls away from it: a wrong or hostile value ("Retry-After:
	// 86400") must not shut a carrier for a day.
	DefaultTrunkHoldMax = 10 * time.Minute
	// DefaultTrunkRefusalRetryAfter caps the Retry-After of the 503 a
	// caller gets when its call out is held back. A client reads a
	// Retry-After as "this server is unavailable" for everything, and
	// only the one trunk is: keep it short.
	DefaultTrunkRefusalRetryAfter = 5 * time.Second
)

// RFC 7339 parameters and values.
const (
	ocAlgoLoss = "loss"
	// ocDefaultValidity is the oc-validity a response without one means
	// (RFC 7339 §5.2).
	ocDefaultValidity = 500 * time.Millisecond
	// ocMaxValidity caps an upstream's oc-validity (a reduction asked
	// for longer is asked for again in the upstream's next responses).
	ocMaxValidity = time.Hour
	// ocSeqFrac is oc-seq's unit: 10 µs, its fraction's 5 digits.
	ocSeqFrac = 100000
)

// Results of the admission of a new call out (trunkCalls' labels).
const (
	trunkShed    = "shed"     // dropped: the upstream asked for a reduction (RFC 7339)
	trunkHeldOff = "held_off" // the upstream answered 503 with Retry-After lately
)

// overloadSignal is this node's own overload, as the edge's detector
// measures it: the percent of new requests upstreams should hold back, 0
// when the node is not overloaded. ReductionPercent is called for every
// request whose client offered RFC 7339: it must be cheap and safe for
// concurrent use.
type overloadSignal interface {
	ReductionPercent() int
}

// noOverload is the signal without a detector: never overloaded.
type noOverload struct{}

func (noOverload) ReductionPercent() int { return 0 }

// overloadControl is the node's RFC 7339 state: the feedback of each
// trunk's upstream and the signal it gives its own clients. Safe for
// concurrent use; the zero value is ready (no signal, no feedback).
type overloadControl struct {
	// trunks maps a trunk id to its upstream's state; copied on write
	// (under mu), read without a lock: a trunk gets an entry when its
	// upstream first sends feedback or a 503.
	trunks atomic.Pointer[map[string]*upstreamLoad]
	mu     sync.Mutex

	signal atomic.Pointer[overloadSignal]
	// seq is the last oc-seq we gave, in ocSeqFrac units; askedUntil
	// (unix ns) is how long a client may still hold the last reduction
	// we asked for (an oc=0 ends it).
	seq        atomic.Int64
	askedUntil atomic.Int64
}

// setOverloadSignal plugs the edge's overload detector into the feedback
// this node gives RFC 7339 clients: s.setOverloadSignal(detector).
func (s *Server) setOverloadSignal(sig overloadSignal) {
	s.trunkRegs.oc.signal.Store(&sig)
}

func (o *overloadControl) reduction() int {
	p := o.signal.Load()
	if p == nil {
		return 0
	}
	return min(max((*p).ReductionPercent(), 0), 100)
}

// upstreamLoad is what one trunk's upstream asked for. activeUntil
// (unix ns) is when the later of its restrictions ends: admit reads it
// alone, without the lock, while none holds.
type upstreamLoad struct {
	activeUntil atomic.Int64

	mu        sync.Mutex
	reduction int       // percent of new calls to drop
	ocUntil   time.Time // when the reduction ends
	seq       int64     // newest oc-seq applied; -1 none
	holdUntil time.Time // no new call before (503 Retry-After)
}

// upstream is trunk's state, made on first use.
func (o *overloadControl) upstream(trunk string) *upstreamLoad {
	if m := o.trunks.Load(); m != nil {
		if u := (*m)[trunk]; u != nil {
			return u
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	old := o.trunks.Load()
	if old != nil && (*old)[trunk] != nil {
		return (*old)[trunk]
	}
	next := make(map[string]*upstreamLoad, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	u := &upstreamLoad{seq: -1}
	next[trunk] = u
	o.trunks.Store(&next)
	return u
}

// admit decides whether a new call may go to trunk's upstream at now:
// "" when it may, else why not (trunkShed, trunkHeldOff) and how long
// the restriction lasts. It neither locks nor allocates while the
// upstream restricts nothing.
func (o *overloadControl) admit(trunk string, now time.Time) (string, time.Duration) {
	m := o.trunks.Load()
	if m == nil {
		return "", 0
	}
	u := (*m)[trunk]
	if u == nil || now.UnixNano() >= u.activeUntil.Load() {
		return "", 0
	}
	return u.admit(now)
}

func (u *upstreamLoad) admit(now time.Time) (string, time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if now.Before(u.holdUntil) {
		return trunkHeldOff, u.holdUntil.Sub(now)
	}
	if now.Before(u.ocUntil) && rand.IntN(100) < u.reduction {
		return trunkShed, u.ocUntil.Sub(now)
	}
	return "", 0
}

// observe reads a response of trunk's upstream at now: its RFC 7339
// feedback, and for a 503 its Retry-After.
func (o *overloadControl) observe(trunk string, res *sip.Response, now time.Time) {
	fb, hasFB := parseOCFeedback(res.Via())
	hold := time.Duration(0)
	if res.StatusCode == sip.StatusServiceUnavailable {
		hold = min(retryAfter(res), DefaultTrunkHoldMax)
	}
	if !hasFB && hold <= 0 {
		return
	}
	u := o.upstream(trunk)
	u.mu.Lock()
	defer u.mu.Unlock()
	if hasFB {
		u.apply(fb, now)
	}
	if until := now.Add(hold); hold > 0 && until.After(u.holdUntil) {
		u.holdUntil = until
	}
	active := u.holdUntil
	if u.reduction > 0 && u.ocUntil.After(active) {
		active = u.ocUntil
	}
	u.activeUntil.Store(active.UnixNano())
}

// apply takes feedback fb received at now, unless an older oc-seq than
// the one applied says it was overtaken. u.mu is held.
func (u *upstreamLoad) apply(fb ocFeedback, now time.Time) {
	if fb.seq >= 0 {
		if fb.seq < u.seq {
			return
		}
		u.seq = fb.seq
	}
	if fb.reduction == 0 || fb.validity == 0 {
		u.reduction, u.ocUntil = 0, time.Time{}
		return
	}
	u.reduction, u.ocUntil = fb.reduction, now.Add(fb.validity)
}

// retryAfter is the delta-seconds of res's Retry-After ("120",
// "120 (comment)", "120;duration=60"), 0 when absent or malformed.
func retryAfter(res *sip.Response) time.Duration {
	h := res.GetHeader("Retry-After")
	if h == nil {
		return 0
	}
	v := strings.TrimSpace(h.Value())
	end := 0
	for end < len(v) && end < 9 && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(v[:end])
	if err != nil {
		return 0 // no digits: nothing to honour
	}
	return time.Duration(n) * time.Second
}

// ocFeedback is the RFC 7339 feedback of a response's top Via.
type ocFeedback struct {
	reduction int           // percent of new requests to drop, 0–100
	validity  time.Duration // how long it holds; 0 ends it
	seq       int64         // oc-seq in ocSeqFrac units; -1 when absent
}

// parseOCFeedback reads the feedback in via. ok is false when there is
// none (no oc value: an upstream that does not speak RFC 7339 echoes our
// bare ";oc") or it is malformed, an algorithm other than loss
// included: such feedback is ignored whole.
func parseOCFeedback(via *sip.ViaHeader) (fb ocFeedback, ok bool) {
	if via == nil {
		return fb, false
	}
	oc, has := viaParam(via, "oc")
	if !has || oc == "" {
		return fb, false
	}
	if fb.reduction, ok = smallUint(oc, 3); !ok || fb.reduction > 100 {
		return fb, false
	}
	if algo, has := viaParam(via, "oc-algo"); has && !strings.EqualFold(strings.Trim(algo, `" `), ocAlgoLoss) {
		return fb, false
	}
	fb.validity = ocDefaultValidity
	if v, has := viaParam(via, "oc-validity"); has {
		ms, ok := smallUint(v, 10)
		if !ok {
			return fb, false
		}
		fb.validity = min(time.Duration(ms)*time.Millisecond, ocMaxValidity)
	}
	fb.seq = -1
	if v, has := viaParam(via, "oc-seq"); has {
		if fb.seq, ok = parseOCSeq(v); !ok {
			return fb, false
		}
	}
	return fb, true
}

// parseOCSeq reads an oc-seq (1*12DIGIT "." 1*5DIGIT, RFC 7339 §9) in
// ocSeqFrac units.
func parseOCSeq(v string) (int64, bool) {
	secs, frac, found := strings.Cut(v, ".")
	if !found || len(frac) > 5 {
		return 0, false
	}
	s, ok1 := smallUint(secs, 12)
	f, ok2 := smallUint(frac, 5)
	if !ok1 || !ok2 {
		return 0, false
	}
	for range 5 - len(frac) {
		f *= 10
	}
	return int64(s)*ocSeqFrac + int64(f), true
}

// smallUint parses 1 to maxDigits decimal digits, nothing else.
func smallUint(v string, maxDigits int) (int, bool) {
	if v == "" || len(v) > maxDigits {
		return 0, false
	}
	n := 0
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int(v[i]-'0')
	}
	return n, true
}

// viaParam is h's parameter name (case-insensitive), with its quotes
// removed. sipgo v1.7.2 mis-parses a quoted parameter: `a="x";b=1` comes
// out as key `a="x";b=1` with value x, then key `;b`; paramKey reads the
// name either way.
func viaParam(h *sip.ViaHeader, name string) (string, bool) {
	for _, kv := range h.Params {
		if strings.EqualFold(paramKey(kv.K), name) {
			return strings.Trim(kv.V, `"`), true
		}
	}
	return "", false
}

func paramKey(k string) string {
	k = strings.TrimLeft(k, "; \t")
	if i := strings.IndexByte(k, '='); i >= 0 {
		k = k[:i]
	}
	return strings.TrimSpace(k)
}

// ocVia is a client request option, after addVia: our Via offers RFC
// 7339 loss-based overload control to the trunk's upstream.
func ocVia(_ *sipgo.Client, r *sip.Request) error {
	if v := r.Via(); v != nil {
		v.Params.Add("oc", "")
		v.Params.Add("oc-algo", `"`+ocAlgoLoss+`"`)
	}
	return nil
}

// stampOverloadFeedback prepares the responses to req, a request as it
// arrives: every response built from it copies its Vias. Where the
// client offered RFC 7339 (oc in the top Via) and this node asks for a
// reduction, the top Via carries it (oc=N;oc-algo="loss";oc-validity;
// oc-seq), and oc=0 once the reduction is over, for as long as a client
// may still hold it. It also mends the Vias sipgo v1.7.2 mangled while
// parsing a quoted parameter (oc-algo="loss"), which it would otherwise
// send back garbled. A request with no oc and no quoted Via parameter is
// left alone, without an allocation.
//
// The merger calls it where every request enters (Server.guard, before
// the handler and any refusal): s.stampOverloadFeedback(req).
func (s *Server) stampOverloadFeedback(req *sip.Request) {
	s.trunkRegs.oc.stamp(req, time.Now())
}

func (o *overloadControl) stamp(req *sip.Request, now time.Time) {
	for _, h := range req.Headers() {
		if v, ok := h.(*sip.ViaHeader); ok {
			mendVia(v)
		}
	}
	top := req.Via()
	if top == nil {
		return
	}
	if _, offered := viaParam(top, "oc"); !offered {
		return
	}
	red := o.reduction()
	if red == 0 && now.UnixNano() >= o.askedUntil.Load() {
		return // nothing asked lately: the Via stays as the client sent it
	}
	if red > 0 {
		o.askedUntil.Store(now.Add(DefaultOverloadFeedbackValidity).UnixNano())
	}
	setOCFeedback(top, red, DefaultOverloadFeedbackValidity, o.nextSeq(now))
}

// setOCFeedback writes a reduction into via.
func setOCFeedback(via *sip.ViaHeader, reduction int, validity time.Duration, seq int64) {
	for _, k := range []string{"oc", "oc-algo", "oc-validity", "oc-seq"} {
		removeParam(via, k)
	}
	via.Params.Add("oc", strconv.Itoa(reduction))
	via.Params.Add("oc-algo", `"`+ocAlgoLoss+`"`)
	via.Params.Add("oc-validity", strconv.FormatInt(validity.Milliseconds(), 10))
	via.Params.Add("oc-seq", formatOCSeq(seq))
}

// removeParam removes via's parameter name, whatever its case.
func removeParam(via *sip.ViaHeader, name string) {
	out := via.Params[:0]
	for _, kv := range via.Params {
		if !strings.EqualFold(paramKey(kv.K), name) {
			out = append(out, kv)
		}
	}
	via.Params = out
}

// nextSeq is a new oc-seq: the time in ocSeqFrac units, above every one
// given before.
func (o *overloadControl) nextSeq(now time.Time) int64 {
	t := now.UnixMicro() / (1e6 / ocSeqFrac)
	for {
		last := o.seq.Load()
		next := max(t, last+1)
		if o.seq.CompareAndSwap(last, next) {
			return next
		}
	}
}

func formatOCSeq(seq int64) string {
	frac := strconv.FormatInt(seq%ocSeqFrac, 10)
	return strconv.FormatInt(seq/ocSeqFrac, 10) + "." + strings.Repeat("0", 5-len(frac)) + frac
}

// mendVia undoes sipgo v1.7.2's parse of a quoted Via parameter (see
// viaParam): each parameter gets its own name back and its value its
// quotes, so that the Via is written as it was received.
func mendVia(via *sip.ViaHeader) {
	mangled := false
	for _, kv := range via.Params {
		if strings.ContainsAny(kv.K, "=;") {
			mangled = true
			break
		}
	}
	if !mangled {
		return
	}
	out := make(sip.HeaderParams, 0, len(via.Params))
	for _, kv := range via.Params {
		k, v := strings.TrimLeft(kv.K, "; \t"), strings.Trim(kv.V, `"`)
		quoted := strings.HasPrefix(kv.V, `"`)
		if i := strings.IndexByte(k, '='); i >= 0 {
			quoted = quoted || strings.HasPrefix(k[i+1:], `"`)
			k = k[:i]
		}
		// sipgo quotes a value with blanks itself when it writes it.
		if quoted && !strings.ContainsAny(v, " \t") {
			v = `"` + v + `"`
		}
		// sipgo adds a quoted parameter at the end twice.
		if k = strings.TrimSpace(k); k != "" && !out.Has(k) {
			out = append(out, sip.HeaderKV{K: k, V: v})
		}
	}
	via.Params = out
}

// headers are the headers of o's answer: its Retry-After.
func (o outcome) headers() []sip.Header {
	if o.retryAfter <= 0 {
		return nil
	}
	return []sip.Header{sip.NewHeader("Retry-After", strconv.Itoa(o.retryAfter))}
}

// trunkAdmission refuses a new call out to route's trunk while its
// upstream holds new calls back: the caller gets 503 with a short
// Retry-After (there is no other trunk to fail over to: a dial-plan
// rule names one). Emergency calls always go: the upstream decides.
func (s *Server) trunkAdmission(route dialplan.Route, now time.Time) (outcome, bool) {
	if route.Emergency {
		return outcome{}, true
	}
	why, left := s.trunkRegs.oc.admit(route.Trunk, now)
	if why == "" {
		return outcome{}, true
	}
	s.m.trunkCalls.WithLabelValues(why).Inc()
	reason := "Trunk Overloaded"
	if why == trunkHeldOff {
		reason = "Trunk Unavailable"
	}
	return outcome{status: sip.StatusServiceUnavailable, reason: reason, retryAfter: refusalRetryAfter(left)}, false
}

// trunkRefused is the answer to a caller whose call out the upstream
// refused with 503: ours, with a Retry-After of at most
// DefaultTrunkRefusalRetryAfter, not the upstream's. RFC 3261 §16.7:
// the upstream's 503 says nothing of this node, and its Retry-After
// (an hour, say) would keep the caller's server away from all of it.
func trunkRefused(res *sip.Response) outcome {
	o := outcome{status: sip.StatusServiceUnavailable, reason: "Trunk Unavailable"}
	if ra := retryAfter(res); ra > 0 {
		o.retryAfter = refusalRetryAfter(ra)
	}
	return o
}

// refusalRetryAfter is the Retry-After, in seconds, of a refusal while
// a trunk is held back for left: at least 1, at most
// DefaultTrunkRefusalRetryAfter.
func refusalRetryAfter(left time.Duration) int {
	secs := min(max((left+time.Second-1)/time.Second, 1), DefaultTrunkRefusalRetryAfter/time.Second)
	return int(secs)
}
