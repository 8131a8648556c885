package sip

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// BenchmarkOverload_InvitePath drives the INVITE path open loop at 1×,
// 2×, 4× and 10× the node's clean capacity and reports what it
// completes. The calls come from a trunk (no digest) to a line whose
// phone answers at once; a call is complete when the caller has its 200,
// sent the ACK and got the 200 of its BYE. The clean capacity is found
// first with 64 calls kept in flight (closed loop, calls/s); each step
// then offers a multiple of it at an even pace for overloadStep.
// Reports per step: goodput (completed calls/s), goodput-ratio (goodput
// over the clean capacity: overload control aims at ≥ 0.9), refused/s
// (503s), lost/s (calls with no final answer a second after the step),
// and the p99 time from an INVITE to its 503. The load generator and the
// callee share the process (and the CPU) with the node: compare ratios,
// not absolute numbers.
func BenchmarkOverload_InvitePath(b *testing.B) {
	e := newEnv(b)
	e.user("bob", "2001", "b-pw")
	bob := newPhone(b, e, "2001", "b-pw")
	if res := bob.register(3600); res.StatusCode != 200 {
		b.Fatalf("register: %d", res.StatusCode)
	}
	bob.answerAtOnce()
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier", Addresses: []string{"127.0.0.5/32"}}}}})
	g := newLoadGen(b, e.srv.Addr())
	capacity := g.closedLoop(64, 2*time.Second)
	b.Logf("clean capacity %.0f calls/s", capacity)
	for _, k := range []float64{1, 2, 4, 10} {
		b.Run(strconv.FormatFloat(k, 'f', -1, 64)+"x", func(b *testing.B) {
			var r stepResult
			for range b.N {
				eventually(b, 30*time.Second, "calls drained", func() bool { return e.srv.calls.len() == 0 })
				r = g.openLoop(k*capacity, overloadStep)
			}
			b.ReportMetric(r.goodput, "goodput/s")
			b.ReportMetric(r.goodput/capacity, "goodput-ratio")
			b.ReportMetric(r.refused, "refused/s")
			b.ReportMetric(r.lost, "lost/s")
			b.ReportMetric(float64(r.refuseP99.Microseconds())/1000, "ms-to-503-p99")
			b.Logf("refused by reason since the start: %s", refusedByReason(e))
		})
	}
}

// overloadStep is how long each step of BenchmarkOverload_InvitePath
// offers its load.
const overloadStep = 3 * time.Second

// loadGen places calls from a trunk socket with hand-written SIP and
// follows them: ACK and BYE on the 200, counting 503s.
type loadGen struct {
	tb    testing.TB
	conn  *net.UDPConn
	srv   *net.UDPAddr
	local string

	mu    sync.Mutex
	calls map[string]*genCall
	// done receives a signal per call that ended (closed loop): true
	// completed, false refused.
	done chan bool
	seq  atomic.Int64
}

type genCall struct {
	sent    time.Time
	fromTag string
	final   int // the INVITE's final status, 0 while none
	refused time.Duration
	ended   bool // the BYE got its 200
}

type stepResult struct {
	goodput, refused, lost float64
	refuseP99              time.Duration
}

func newLoadGen(tb testing.TB, server string) *loadGen {
	tb.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 5)})
	if err != nil {
		tb.Fatal(err)
	}
	sizeUDPBuffers(conn)
	srv, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		tb.Fatal(err)
	}
	g := &loadGen{tb: tb, conn: conn, srv: srv, local: conn.LocalAddr().String(),
		calls: map[string]*genCall{}, done: make(chan bool, 1<<16)}
	read := make(chan struct{})
	go g.read(read)
	tb.Cleanup(func() { _ = conn.Close(); <-read })
	return g
}

// invite sends a new call's INVITE.
func (g *loadGen) invite() {
	id := "ovl-" + strconv.FormatInt(g.seq.Add(1), 10)
	c := &genCall{sent: time.Now(), fromTag: "f" + id}
	g.mu.Lock()
	g.calls[id] = c
	g.mu.Unlock()
	msg := "INVITE sip:2001@" + testDomain + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + g.local + ";branch=z9hG4bK" + id + ";rport\r\n" +
		"From: <sip:+4930123@" + testDomain + ">;tag=" + c.fromTag + "\r\n" +
		"To: <sip:2001@" + testDomain + ">\r\n" +
		"Call-ID: " + id + "\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n" +
		"Contact: <sip:+4930123@" + g.local + ">\r\n" +
		"Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(testSDP)) + "\r\n\r\n" + testSDP
	g.write(msg)
}

func (g *loadGen) write(msg string) {
	// A send error under load is a lost call, counted as such.
	_, _ = g.conn.WriteToUDP([]byte(msg), g.srv)
}

// read follows the answers until the socket closes.
func (g *loadGen) read(stopped chan<- struct{}) {
	defer close(stopped)
	buf, oob := make([]byte, 65536), make([]byte, rxStampOOB)
	enableRxStamps(g.conn) // arrival times from the kernel: this reader shares the CPU
	for {
		n, oobn, _, _, err := g.conn.ReadMsgUDP(buf, oob)
		if err != nil {
			return
		}
		now := time.Now()
		at := now.Add(-rxAge(oob[:oobn], now))
		data := buf[:n]
		if !strings.HasPrefix(string(data[:min(n, 12)]), "SIP/2.0 ") {
			continue
		}
		code, _ := strconv.Atoi(string(data[8:11]))
		if code < 200 {
			continue
		}
		g.answer(code, data, at)
	}
}

// answer handles a final response: the INVITE's 503 or 200, the BYE's
// 200.
func (g *loadGen) answer(code int, data []byte, at time.Time) {
	id := header(string(data), "Call-ID")
	if id == "" {
		id = header(string(data), "i")
	}
	g.mu.Lock()
	c := g.calls[id]
	if c == nil {
		g.mu.Unlock()
		return
	}
	bye := strings.HasSuffix(header(string(data), "CSeq"), "BYE")
	first := c.final == 0 && !bye
	switch {
	case bye && code == 200 && !c.ended:
		c.ended = true
		g.mu.Unlock()
		g.signal(true)
		return
	case first:
		c.final = code
		if code >= 300 {
			c.refused = at.Sub(c.sent)
		}
	}
	g.mu.Unlock()
	if first && code >= 300 {
		g.signal(false)
	}
	if code == 200 && !bye {
		g.ackAndBye(id, c.fromTag, data, first) // every copy of the 200 gets its ACK
	}
}

// signal tells the closed loop a call ended; nobody listens in an open
// loop, so a full channel drops it.
func (g *loadGen) signal(completed bool) {
	select {
	case g.done <- completed:
	default:
	}
}

// ackAndBye acknowledges a 200 along its route set and, the first time,
// hangs up.
func (g *loadGen) ackAndBye(id, fromTag string, data []byte, bye bool) {
	m, err := sip.ParseMessage(data)
	res, ok := m.(*sip.Response)
	if err != nil || !ok || res.Contact() == nil || res.To() == nil {
		return
	}
	var route strings.Builder
	for _, rr := range slices.Backward(res.GetHeaders("Record-Route")) {
		route.WriteString("Route: " + rr.Value() + "\r\n")
	}
	in := func(method string, cseq int) string {
		return method + " " + res.Contact().Address.String() + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + g.local + ";branch=z9hG4bK" + method + id + ";rport\r\n" + route.String() +
			"From: <sip:+4930123@" + testDomain + ">;tag=" + fromTag + "\r\n" +
			"To: " + res.To().Value() + "\r\n" +
			"Call-ID: " + id + "\r\nCSeq: " + strconv.Itoa(cseq) + " " + method + "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	}
	g.write(in("ACK", 1))
	if bye {
		g.write(in("BYE", 2))
	}
}

// closedLoop keeps inFlight calls going for d and returns the completed
// calls per second.
func (g *loadGen) closedLoop(inFlight int, d time.Duration) float64 {
	g.reset()
	for range inFlight {
		g.invite()
	}
	start := time.Now()
	deadline := time.After(d)
	n := 0
	for {
		select {
		case ok := <-g.done:
			if ok {
				n++
			}
			g.invite()
		case <-deadline:
			g.waitQuiet()
			return float64(n) / time.Since(start).Seconds()
		}
	}
}

// openLoop offers rate calls/s for d at an even pace, then waits a
// second for late answers and sums up.
func (g *loadGen) openLoop(rate float64, d time.Duration) stepResult {
	g.reset()
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent := 0
	for now := range tick.C {
		el := now.Sub(start)
		if el >= d {
			break
		}
		for want := int(rate * el.Seconds()); sent < want; sent++ {
			g.invite()
		}
	}
	g.waitQuiet()
	return g.result(d)
}

// waitQuiet gives late answers a second.
func (g *loadGen) waitQuiet() {
	quiet := time.NewTimer(time.Second)
	defer quiet.Stop()
	<-quiet.C
}

func (g *loadGen) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = map[string]*genCall{}
	for len(g.done) > 0 {
		<-g.done
	}
}

func (g *loadGen) result(d time.Duration) stepResult {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ok, refused, lost int
	var lat []time.Duration
	for _, c := range g.calls {
		switch {
		case c.ended:
			ok++
		case c.final == 503:
			refused++
			lat = append(lat, c.refused)
		case c.final == 0:
			lost++
		}
	}
	r := stepResult{goodput: float64(ok) / d.Seconds(), refused: float64(refused) / d.Seconds(), lost: float64(lost) / d.Seconds()}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.refuseP99 = lat[len(lat)*99/100]
	}
	return r
}

// refusedByReason sums the overload refusals by reason.
func refusedByReason(e *env) string {
	var out []string
	for _, r := range []string{reasonCalls, reasonTransactions, reasonQueueAge, reasonCPU} {
		out = append(out, r+"="+strconv.Itoa(int(counterValueTB(e.srv.m.overloadRefused.WithLabelValues(r, "INVITE")))))
	}
	return strings.Join(out, " ")
}

// BenchmarkEdge_StatelessRefusal is the cost of a refusal at the UDP edge
// while every new INVITE is refused (calls bounded at 0): one op is an
// INVITE read, judged, answered 503 from its raw bytes, and that 503
// read back by the sender. The sender keeps up to 256 INVITEs
// unanswered, so the edge reads from a queue as under a storm.
func BenchmarkEdge_StatelessRefusal(b *testing.B) {
	m, err := newMetrics(nil)
	if err != nil {
		b.Fatal(err)
	}
	a := newAdmission(Config{}.WithDefaults(), m, nil)
	a.maxCalls.Store(0)
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	sizeUDPBuffers(srv)
	edge := newEdgeConn(srv, a, testLogger(b), newOnceEvery(time.Minute))
	go func() { // sipgo's reader: takes what is admitted (nothing here)
		buf := make([]byte, 65536)
		for {
			if _, _, err := edge.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() { _ = srv.Close() })
	peer, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close() //nolint:errcheck // the benchmark's own socket
	sizeUDPBuffers(peer)
	local := peer.LocalAddr().String()
	invite := func(i int) []byte {
		id := "ref-" + strconv.Itoa(i)
		return []byte("INVITE sip:2001@" + testDomain + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + id + ";rport\r\n" +
			"From: <sip:+4930123@" + testDomain + ">;tag=f" + id + "\r\n" +
			"To: <sip:2001@" + testDomain + ">\r\n" +
			"Call-ID: " + id + "\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n" +
			"Contact: <sip:+4930123@" + local + ">\r\n" +
			"Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(testSDP)) + "\r\n\r\n" + testSDP)
	}
	const window = 256
	credit := make(chan struct{}, window)
	for range window {
		credit <- struct{}{}
	}
	b.ResetTimer()
	go func() {
		for i := range b.N {
			<-credit
			if _, err := peer.Write(invite(i)); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 65536)
	for got := 0; got < b.N; {
		_ = peer.SetReadDeadline(time.Now().Add(time.Second))
		n, err := peer.Read(buf)
		if err != nil { // a datagram lost under load: give its credit back
			credit <- struct{}{}
			continue
		}
		if !strings.HasPrefix(string(buf[:min(n, 12)]), "SIP/2.0 503 ") {
			b.Fatalf("answer %q, want a 503", buf[:min(n, 40)])
		}
		got++
		credit <- struct{}{}
	}
}
