package sip

import (
	"math"
	"math/rand/v2"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Overload control (admission at the edge). Past its capacity a node
// must go on completing the calls it can and refuse the rest at once,
// instead of letting retransmissions and timers pile onto a full CPU.
// New work — a request outside any dialog (no To tag) other than ACK,
// CANCEL and OPTIONS: INVITE, REGISTER, SUBSCRIBE … — is admitted only
// while every signal below is within its limit; otherwise it gets 503
// with Retry-After at once:
//
//   - calls: INVITEs being set up (admitted, no 18x or final answer
//     sent yet) reach Config.MaxCallsSettingUp (INVITEs only);
//   - transactions: requests being handled reach Config.MaxTransactions;
//   - queue_age: the UDP datagram waited longer than Config.MaxQueueAge
//     since the kernel received it (SO_TIMESTAMPNS), judged when the
//     edge reads it and again when sipgo takes it: from none at
//     MaxQueueAge to all at twice it, in proportion, so that one short
//     pause (a garbage collection, the host's scheduler) does not refuse
//     everything read right after it;
//   - cpu (TCP and TLS only): goroutine scheduling latency
//     (runtime/metrics): its p99 over each overloadSample, smoothed;
//     while above Config.MaxSchedLatency the share of new work refused
//     (the cut) grows, below it shrinks. Over UDP the queue age is the
//     better signal (judgeUDP).
//
// In-dialog requests (ACK, BYE, CANCEL, re-INVITE, NOTIFY, refreshes)
// and every response are never refused, and over UDP they go ahead of
// queued new work (edgeConn's two queues, edgeudp.go). Over UDP the
// refusal is made on the raw datagram before sipgo parses it
// (stateless: no transaction, no goroutine); over TCP and TLS, and for
// whatever passes the edge, in the request guard (server.go).

// overloadSample is how often the CPU signal is read and the cut moved.
const overloadSample = 50 * time.Millisecond

// Cut steps: each sample over the limit takes a quarter of what is still
// admitted away; each sample below gives back cutRelease. Fast down,
// slow up: a node that just recovered is not flooded again at once.
const (
	cutGrow    = 0.25
	cutRelease = 0.05
	cutMax     = 0.98
)

// Refusal reasons (the reason label of ucgrid_sip_overload_refused_total).
const (
	reasonCalls        = "calls"
	reasonTransactions = "transactions"
	reasonQueueAge     = "queue_age"
	reasonCPU          = "cpu"
)

// OverloadState is a node's admission state at one moment, for whoever
// tells its upstreams how much to send (RFC 7339 oc, trunk failover).
type OverloadState struct {
	// Overloaded is true while new work is being refused for any reason.
	Overloaded bool
	// Reason is the last reason new work was refused for ("calls",
	// "transactions", "queue_age", "cpu"; "" when none lately).
	Reason string
	// Cut is the share (0..1) of new work refused over the last second:
	// an upstream asked to send 1-Cut of what it sends now relieves the
	// node (RFC 7339's loss algorithm, oc=Cut*100).
	Cut float64
	// QueueAge is the age of the datagram read last when it was read.
	QueueAge time.Duration
	// SchedLatency is the smoothed p99 goroutine scheduling latency
	// (the CPU signal).
	SchedLatency time.Duration
}

// Overload reports whether the node refuses new work now and how much of
// it. Safe for concurrent use; cheap (atomics only).
func (s *Server) Overload() OverloadState {
	return s.adm.state(time.Now())
}

// edgeSignal gives RFC 7339 clients (overloadcontrol.go) the share of new
// work the edge refused over the last second as the reduction to apply:
// an upstream that drops that share before sending relieves the node of
// the work it would have refused anyway, and of the refusals.
type edgeSignal struct{ a *admission }

func (e edgeSignal) ReductionPercent() int {
	return int(math.Round(e.a.state(time.Now()).Cut * 100))
}

// admission holds the overload signals and decides on new work. Its
// state is atomics (edgeState): the UDP edge, the request guards and the
// sampler use it concurrently without a lock, and with an edge process
// (edgeproc_linux.go) that process reads and writes the same state in a
// page of memory both map.
type admission struct {
	*edgeState
	maxSched   atomic.Int64 // time.Duration; a test can force it
	retryAfter time.Duration
	m          *metrics     // nil in the edge process
	sched      atomic.Int64 // smoothed p99 scheduling latency, ns
	// cut is the share of TCP and TLS new work the CPU signal refuses
	// (math.Float64bits); the UDP edge does not use it (judgeUDP).
	cut atomic.Uint64
	// win counts admitted and refused new work in the current and the
	// previous second (OverloadState.Cut).
	win window
	// processEdge is true while an edge process judges UDP new work.
	processEdge atomic.Bool
	// folded is what foldEdge has counted of edgeState.edgeRefused.
	foldMu sync.Mutex
	folded [len(overloadReasons)][len(methodLabels)]int64
}

// edgeState is the part of the admission state the UDP edge reads and
// writes. It holds no pointers: in an edge process it lives in shared
// memory. The limits (negative: no bound) are atomics so that a test can
// force a state while the server runs.
type edgeState struct {
	maxCalls, maxTx, maxAge atomic.Int64 // maxAge: time.Duration

	settingUp atomic.Int64 // admitted INVITEs without 18x or final answer yet
	inTx      atomic.Int64 // requests in a handler
	age       atomic.Int64 // queue age of the last datagram read, ns
	ageAt     atomic.Int64 // when it was read, unix ns
	// lastReason (index in overloadReasons, plus one) and lastRefusal
	// (unix ns) say why and when new work was last refused.
	lastReason  atomic.Int64
	lastRefusal atomic.Int64
	// taken counts the datagrams the node's reader took from an edge
	// process; edgeRefused the new work that process refused, by reason
	// and method label, for the node to count (foldEdge).
	taken       atomic.Int64
	edgeRefused [len(overloadReasons)][len(methodLabels)]atomic.Int64
}

// overloadReasons are the refusal reasons, in edgeState's order.
var overloadReasons = [...]string{reasonCalls, reasonTransactions, reasonQueueAge, reasonCPU}

// newAdmission makes the admission state for c. st is where its
// edgeState lives (shared memory for an edge process); nil: the heap.
func newAdmission(c Config, m *metrics, st *edgeState) *admission {
	if st == nil {
		st = new(edgeState)
	}
	a := &admission{edgeState: st, retryAfter: c.OverloadRetryAfter, m: m}
	a.maxCalls.Store(int64(c.MaxCallsSettingUp))
	a.maxTx.Store(int64(c.MaxTransactions))
	a.maxAge.Store(int64(c.MaxQueueAge))
	a.maxSched.Store(int64(c.MaxSchedLatency))
	return a
}

// newWork reports whether req would be subject to admission: a request
// outside any dialog that is not an ACK, a CANCEL or an OPTIONS
// (keep-alives are answered whatever the load).
func newWork(req *sip.Request) bool {
	return startsNew(req) && req.Method != sip.OPTIONS
}

// judge is what refuse weighs beyond the bounds on calls and
// transactions.
type judge uint8

const (
	// judgeBounds: the bounds only; an edge judged the rest on arrival
	// (a second throw would refuse more than it says).
	judgeBounds judge = iota
	// judgeUDP: and the queue age. The UDP edge does not throw the CPU
	// cut: the queue age measures the reader's backlog itself, while the
	// cut — a random share on a smoothed latency — swung between 0 and
	// 98 % around a garbage collection at 1×, refusing for a second what
	// the node would have completed (one core, seven runs each: 0.88–1.0
	// of clean capacity at 1× with it, 0.99–1.0 without;
	// docs/benchmarks.md).
	judgeUDP
	// judgeAll: and the cut: TCP and TLS, whose requests wait in no
	// queue the node can age.
	judgeAll
)

// refuse returns why new work (isInvite: a new call) arriving with
// queue age age is refused now, or "" to admit it, weighing what j
// says. It counts nothing: admitted and refused do.
func (a *admission) refuse(isInvite bool, age time.Duration, j judge) string {
	if why := a.pastBounds(isInvite, 1); why != "" || j == judgeBounds {
		return why
	}
	if a.refuseAge(age) {
		return reasonQueueAge
	}
	if c := a.cutNow(); j == judgeAll && c > 0 && rand.Float64() < c {
		return reasonCPU
	}
	return ""
}

// pastBounds is why new work is refused with k times the bounds on
// calls and transactions, or "".
func (a *admission) pastBounds(isInvite bool, k int64) string {
	if mc := a.maxCalls.Load(); isInvite && mc >= 0 && a.settingUp.Load() >= k*mc {
		return reasonCalls
	}
	if mt := a.maxTx.Load(); mt >= 0 && a.inTx.Load() >= k*mt {
		return reasonTransactions
	}
	return ""
}

// refuseAge reports whether new work that waited age is refused: none
// at MaxQueueAge, all at twice it, in proportion between.
func (a *admission) refuseAge(age time.Duration) bool {
	ma := a.maxAge.Load()
	return ma >= 0 && int64(age) > ma && (int64(age) >= 2*ma || rand.Int64N(ma+1) < int64(age)-ma)
}

// refused counts a refusal of new work of method for reason. In the
// edge process (no metrics) it counts in edgeRefused, for the node.
func (a *admission) refused(method sip.RequestMethod, reason string, now time.Time) {
	r := slices.Index(overloadReasons[:], reason)
	a.lastReason.Store(int64(r + 1))
	a.lastRefusal.Store(now.UnixNano())
	if a.m == nil {
		a.edgeRefused[r][slices.Index(methodLabels[:], methodLabel(method))].Add(1)
		return
	}
	a.m.overloadRefused.WithLabelValues(reason, methodLabel(method)).Inc()
	a.win.add(now, false, 1)
}

// foldEdge counts the refusals an edge process made since the last call
// in the node's metrics and window (the sampler calls it every
// overloadSample).
func (a *admission) foldEdge(now time.Time) {
	a.foldMu.Lock()
	defer a.foldMu.Unlock()
	for r := range a.edgeRefused {
		for l := range a.edgeRefused[r] {
			n := a.edgeRefused[r][l].Load()
			if d := n - a.folded[r][l]; d > 0 {
				a.m.overloadRefused.WithLabelValues(overloadReasons[r], methodLabels[l]).Add(float64(d))
				a.win.add(now, false, d)
				a.folded[r][l] = n
			}
		}
	}
}

// admitted counts new work of method let in.
func (a *admission) admitted(method sip.RequestMethod, now time.Time) {
	a.m.overloadAdmitted.WithLabelValues(methodLabel(method)).Inc()
	a.win.add(now, true, 1)
}

// retryAfterFor is the Retry-After (seconds) of a refusal of method: the
// configured value for a call (its caller or upstream tries again or
// elsewhere), spread over up to twice as much for registrations and
// subscriptions, so that phones refused together do not come back
// together.
func (a *admission) retryAfterFor(method sip.RequestMethod) string {
	ra := a.retryAfter
	if method != sip.INVITE {
		ra += time.Duration(rand.Int64N(int64(ra) + 1))
	}
	return strconv.Itoa(max(1, int((ra+time.Second/2)/time.Second)))
}

// noteQueueAge records the queue age of a datagram read at now.
func (a *admission) noteQueueAge(age time.Duration, now time.Time) {
	a.age.Store(int64(age))
	a.ageAt.Store(now.UnixNano())
	a.m.queueAge.Observe(age.Seconds())
}

// queueAge is the age the last datagram read had when it was read, or 0
// when none was read in the last second (the queue is not what holds
// the node back).
func (a *admission) queueAge(now time.Time) time.Duration {
	if now.UnixNano()-a.ageAt.Load() > int64(time.Second) {
		return 0
	}
	return time.Duration(a.age.Load())
}

func (a *admission) cutNow() float64 { return math.Float64frombits(a.cut.Load()) }

// state is Overload's answer at now.
func (a *admission) state(now time.Time) OverloadState {
	st := OverloadState{Cut: a.win.refusedShare(now), QueueAge: a.queueAge(now),
		SchedLatency: time.Duration(a.sched.Load())}
	if r := a.lastReason.Load(); r > 0 && now.UnixNano()-a.lastRefusal.Load() < int64(time.Second) {
		st.Reason = overloadReasons[r-1]
		st.Overloaded = now.UnixNano()-a.lastRefusal.Load() < int64(2*overloadSample)
	}
	return st
}

// schedSmoothing is the weight of a new sample in the smoothed
// scheduling latency: one busy 50 ms sample (a garbage collection, a
// burst) moves it a little, a few in a row move it past the limit.
const schedSmoothing = 0.3

// step moves the cpu cut after a sample of p99 scheduling latency: the
// smoothed latency above MaxSchedLatency grows the cut, below shrinks it.
func (a *admission) step(p99 time.Duration) {
	prev := time.Duration(a.sched.Load())
	sm := time.Duration(schedSmoothing*float64(p99) + (1-schedSmoothing)*float64(prev))
	a.sched.Store(int64(sm))
	a.m.schedLatency.Set(sm.Seconds())
	ms := a.maxSched.Load()
	if ms < 0 {
		return // no bound: the cut stays where it is (0 unless a test set it)
	}
	c := a.cutNow()
	if int64(sm) > ms {
		c += (1 - c) * cutGrow
		c = min(c, cutMax)
	} else {
		c = max(0, c-cutRelease)
	}
	a.cut.Store(math.Float64bits(c))
	a.m.overloadCut.Set(c)
}

// sampleCPU reads the scheduling latency every overloadSample and moves
// the cut, until done closes.
func (a *admission) sampleCPU(done <-chan struct{}) {
	s := newSchedSampler()
	tick := time.NewTicker(overloadSample)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			a.step(s.p99())
			a.foldEdge(now)
		}
	}
}

// schedSampler reads the runtime's goroutine scheduling latency
// histogram (time from runnable to running, all goroutines) and gives
// the p99 of what was added since the previous read.
type schedSampler struct {
	sample []rtmetrics.Sample
	prev   []uint64
}

const schedMetric = "/sched/latencies:seconds"

func newSchedSampler() *schedSampler {
	s := &schedSampler{sample: []rtmetrics.Sample{{Name: schedMetric}}}
	s.p99() // the baseline
	return s
}

// p99 is the 99th percentile of the scheduling latencies since the last
// call (0 when none, or when the runtime does not offer the metric).
func (s *schedSampler) p99() time.Duration {
	rtmetrics.Read(s.sample)
	if s.sample[0].Value.Kind() != rtmetrics.KindFloat64Histogram {
		return 0
	}
	h := s.sample[0].Value.Float64Histogram()
	if len(s.prev) != len(h.Counts) {
		s.prev = make([]uint64, len(h.Counts))
	}
	var total uint64
	for i, c := range h.Counts {
		total += c - s.prev[i]
	}
	var p time.Duration
	if total > 0 {
		p = quantile(h, s.prev, total, 0.99)
	}
	copy(s.prev, h.Counts)
	return p
}

// quantile finds the bucket holding quantile q of the counts added
// since prev and returns its upper bound (its lower bound for the last,
// open bucket).
func quantile(h *rtmetrics.Float64Histogram, prev []uint64, total uint64, q float64) time.Duration {
	want := uint64(float64(total)*q) + 1
	var seen uint64
	for i, c := range h.Counts {
		seen += c - prev[i]
		if seen >= want {
			up := h.Buckets[i+1]
			if up > 3600 { // +Inf
				up = h.Buckets[i]
			}
			return time.Duration(up * float64(time.Second))
		}
	}
	return 0
}

// window counts admitted and refused new work per second, over the
// current and the previous second.
type window struct {
	mu        sync.Mutex
	sec       int64
	cur, prev [2]int64 // [admitted, refused]
}

func (w *window) add(now time.Time, admitted bool, n int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.roll(now.Unix())
	if admitted {
		w.cur[0] += n
	} else {
		w.cur[1] += n
	}
}

func (w *window) roll(sec int64) {
	switch {
	case sec == w.sec:
	case sec == w.sec+1:
		w.prev, w.cur, w.sec = w.cur, [2]int64{}, sec
	default:
		w.prev, w.cur, w.sec = [2]int64{}, [2]int64{}, sec
	}
}

// refusedShare is the share of new work refused over the previous and
// the current second.
func (w *window) refusedShare(now time.Time) float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.roll(now.Unix())
	adm, ref := w.cur[0]+w.prev[0], w.cur[1]+w.prev[1]
	if adm+ref == 0 {
		return 0
	}
	return float64(ref) / float64(adm+ref)
}

// admit decides on req in the request guard, before its handler runs.
// New work refused is answered 503 with Retry-After here (ok false). On
// ok the caller runs the handler with tx2 and calls done when it
// returns: done ends the request's count among the transactions in
// progress and, for a new INVITE, its count among the calls being set
// up (earlier, when tx2 sends an 18x or a final answer).
func (s *Server) admit(req *sip.Request, tx sip.ServerTransaction) (tx2 sip.ServerTransaction, done func(), ok bool) {
	a := s.adm
	if newWork(req) {
		now := time.Now()
		invite := req.Method == sip.INVITE
		// UDP requests had the signals judged at the edge (edgeConn).
		udp := strings.EqualFold(req.Transport(), "udp")
		why := ""
		if udp && a.processEdge.Load() {
			// An edge process judged it on arrival, bounds included, and
			// passed it; the bounds may have been reached while it waited
			// for this reader (a garbage collection): a 503 now would come
			// that much late. Only twice the bounds refuse it here.
			why = a.pastBounds(invite, 2)
		} else {
			j := judgeAll
			if udp {
				j = judgeBounds
			}
			why = a.refuse(invite, a.queueAge(now), j)
		}
		if why != "" {
			a.refused(req.Method, why, now)
			s.refuseOverload(req, tx)
			return nil, nil, false
		}
		a.admitted(req.Method, now)
		if invite && tx != nil {
			a.settingUp.Add(1)
			a.m.settingUp.Inc()
			st := &setupTx{ServerTransaction: tx, a: a}
			a.txStart()
			return st, func() { st.release(); a.txEnd() }, true
		}
	}
	a.txStart()
	return tx, a.txEnd, true
}

func (a *admission) txStart() {
	a.inTx.Add(1)
	a.m.transactions.Inc()
}

func (a *admission) txEnd() {
	a.inTx.Add(-1)
	a.m.transactions.Dec()
}

// refuseOverload answers new work refused for overload: 503 with
// Retry-After (RFC 3261 §21.5.4).
func (s *Server) refuseOverload(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, overloadReason, nil)
	res.AppendHeader(sip.NewHeader("Retry-After", s.adm.retryAfterFor(req.Method)))
	s.send(tx, res)
}

// overloadReason is the reason phrase of an overload refusal.
const overloadReason = "Overloaded"

// setupTx is a new INVITE's server transaction while the call is being
// set up: the first 18x or final answer it sends ends the set-up count.
type setupTx struct {
	sip.ServerTransaction
	a    *admission
	once sync.Once
}

func (t *setupTx) Respond(res *sip.Response) error {
	if res.StatusCode >= 180 {
		t.release()
	}
	return t.ServerTransaction.Respond(res)
}

func (t *setupTx) release() {
	t.once.Do(func() {
		t.a.settingUp.Add(-1)
		t.a.m.settingUp.Dec()
	})
}
