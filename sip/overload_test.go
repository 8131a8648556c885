package sip

import (
	"bytes"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// pstnTrunk makes 127.0.0.5 a trunk (calls from it need no digest) and
// returns a raw UDP socket there talking to the server.
func pstnTrunk(t *testing.T, e *env) *rawUDP {
	t.Helper()
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier", Addresses: []string{"127.0.0.5/32"}}}}})
	return newRawUDP(t, "127.0.0.5:0", e.srv.Addr())
}

// rawRequest is a request outside any dialog from r, with a fresh
// Call-ID it returns.
func (r *rawUDP) rawRequest(method, target string) (msg, callID string) {
	callID = strings.ToLower(method) + "-" + sip.GenerateTagN(10)
	local := r.conn.LocalAddr().String()
	msg = method + " sip:" + target + "@" + testDomain + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + sip.GenerateTagN(10) + ";rport\r\n" +
		"From: <sip:+4930123@" + testDomain + ">;tag=" + sip.GenerateTagN(8) + "\r\n" +
		"To: <sip:" + target + "@" + testDomain + ">\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 " + method + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"Contact: <sip:+4930123@" + local + ">\r\n"
	if method == "INVITE" {
		return msg + "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(testSDP)) + "\r\n\r\n" + testSDP, callID
	}
	return msg + "Content-Length: 0\r\n\r\n", callID
}

func (r *rawUDP) send(msg string) {
	r.t.Helper()
	if _, err := r.conn.WriteTo([]byte(msg), r.srv); err != nil {
		r.t.Fatal(err)
	}
}

// next reads the next message within d.
func (r *rawUDP) next(d time.Duration) string {
	r.t.Helper()
	buf := make([]byte, 65536)
	_ = r.conn.SetReadDeadline(time.Now().Add(d))
	n, _, err := r.conn.ReadFrom(buf)
	if err != nil {
		r.t.Fatalf("no message within %v: %v", d, err)
	}
	return string(buf[:n])
}

// header is the value of the first header name in msg ("" when none).
func header(msg, name string) string {
	for _, line := range strings.Split(msg, "\r\n")[1:] {
		if n, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(n), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// An admitted call's ACK, CANCEL and BYE are served while every new
// INVITE is refused: overload control never refuses work of calls it
// took, only new ones.
func TestOverload_InDialogServedWhileNewInvitesRefused(t *testing.T) {
	inDialogServedWhileNewInvitesRefused(t)
}

func inDialogServedWhileNewInvitesRefused(t *testing.T, tweak ...func(*Config)) *env {
	e := newEnv(t, tweak...)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	pstn := pstnTrunk(t, e)

	connected := alice.call("2001")
	bob.waitRinging(5 * time.Second).answer <- 200
	connected.wait(200, 5*time.Second)
	ringing := alice.call("2001")
	bob.waitRinging(5 * time.Second)
	ringing.wait(180, 5*time.Second)

	e.srv.adm.maxCalls.Store(0) // from now on every new INVITE is over the bound
	refused := func(step string) {
		t.Helper()
		msg, callID := pstn.rawRequest("INVITE", "2001")
		pstn.send(msg)
		if got := pstn.answer(callID, 5*time.Second); !strings.HasPrefix(got, "SIP/2.0 503") {
			t.Fatalf("%s: a new INVITE got %q, want 503", step, got)
		}
	}
	refused("before the ACK")
	connected.ack()
	eventually(t, 5*time.Second, "the callee got the ACK", func() bool { _, acks := bob.counts(); return acks == 1 })
	refused("before the CANCEL")
	ringing.cancel()
	ringing.wait(487, 5*time.Second)
	refused("before the BYE")
	connected.bye() // fails the test unless the BYE gets its 200
	refused("after the BYE")
	// An edge process's refusals are counted at the sampler's next tick.
	eventually(t, 5*time.Second, "4 refused INVITEs counted", func() bool {
		return counterValue(t, e.srv.m.overloadRefused.WithLabelValues(reasonCalls, "INVITE")) == 4
	})
	if st := e.srv.Overload(); st.Reason != reasonCalls || st.Cut <= 0 {
		t.Errorf("Overload() = %+v, want refusals for calls with a cut", st)
	}
	return e
}

// A refused INVITE gets its 503 with Retry-After at once, from the UDP
// edge: before the answer to an OPTIONS sent right after it (OPTIONS
// keep-alives are still answered), with no 100 Trying first. The
// caller's ACK for the 503 goes no further than the edge.
func TestOverload_RefusedInviteGets503WithRetryAfterAtOnce(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.OverloadRetryAfter = 3 * time.Second })
	pstn := pstnTrunk(t, e)
	e.srv.adm.maxTx.Store(0) // every new request is over the bound

	invite, inviteID := pstn.rawRequest("INVITE", "2001")
	options, optionsID := pstn.rawRequest("OPTIONS", "2001")
	pstn.send(invite)
	pstn.send(options)
	first := pstn.next(5 * time.Second)
	if !strings.HasPrefix(first, "SIP/2.0 503") || header(first, "Call-ID") != inviteID {
		t.Fatalf("first answer %q, want the INVITE's 503 before anything else", first)
	}
	if ra := header(first, "Retry-After"); ra != "3" {
		t.Errorf("Retry-After %q, want 3 (OverloadRetryAfter)", ra)
	}
	tag := strings.TrimPrefix(header(first, "To")[strings.Index(header(first, "To"), ";tag="):], ";tag=")
	if !strings.HasPrefix(tag, refusalTagPrefix) || header(first, "CSeq") != "1 INVITE" || !strings.Contains(header(first, "Via"), "branch=") {
		t.Errorf("503 headers: To tag %q, CSeq %q, Via %q", tag, header(first, "CSeq"), header(first, "Via"))
	}
	if second := pstn.next(5 * time.Second); !strings.HasPrefix(second, "SIP/2.0 200") || header(second, "Call-ID") != optionsID {
		t.Fatalf("second answer %q, want the OPTIONS' 200", second)
	}

	acks := counterValue(t, e.srv.m.requests.WithLabelValues("ACK"))
	ack := strings.Replace(invite, "INVITE sip:", "ACK sip:", 1)
	ack = strings.Replace(ack, "CSeq: 1 INVITE", "CSeq: 1 ACK", 1)
	ack = strings.Replace(ack, "To: <sip:2001@"+testDomain+">", "To: <sip:2001@"+testDomain+">;tag="+tag, 1)
	pstn.send(ack)
	// An OPTIONS after the ACK is answered once the ACK has been read.
	options, optionsID = pstn.rawRequest("OPTIONS", "2001")
	pstn.send(options)
	if got := pstn.answer(optionsID, 5*time.Second); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Fatalf("OPTIONS after the ACK: %q", got)
	}
	if got := counterValue(t, e.srv.m.requests.WithLabelValues("ACK")); got != acks {
		t.Errorf("the refusal's ACK reached the handlers (%v ACKs, want %v)", got, acks)
	}
}

// Registrations and subscriptions are refused the same way, with a
// Retry-After spread between OverloadRetryAfter and twice it; over TCP
// the refusal comes from the request guard.
func TestOverload_RegisterAndSubscribeRefusedSpreadRetryAfter(t *testing.T) {
	e := newEnv(t)
	pstn := pstnTrunk(t, e)
	e.srv.adm.maxTx.Store(0)
	for _, m := range []string{"REGISTER", "SUBSCRIBE", "REGISTER", "SUBSCRIBE"} {
		msg, callID := pstn.rawRequest(m, "2001")
		pstn.send(msg)
		got := pstn.next(5 * time.Second)
		if !strings.HasPrefix(got, "SIP/2.0 503") || header(got, "Call-ID") != callID {
			t.Fatalf("%s: got %q, want 503", m, got)
		}
		if ra, err := strconv.Atoi(header(got, "Retry-After")); err != nil || ra < 2 || ra > 4 {
			t.Errorf("%s: Retry-After %q, want 2..4", m, header(got, "Retry-After"))
		}
	}

	if got := registerOverTCP(t, e, "tcp-reg"); !strings.HasPrefix(got, "SIP/2.0 503") || header(got, "Retry-After") == "" {
		t.Fatalf("REGISTER over TCP: %q, want 503 with Retry-After", got)
	}
	if got := counterValue(t, e.srv.m.overloadRefused.WithLabelValues(reasonTransactions, "REGISTER")); got != 3 {
		t.Errorf("refused REGISTERs counted %v, want 3", got)
	}
}

// registerOverTCP sends a REGISTER for 2001 on a new TCP connection and
// returns the first answer ("" when none comes within 5 s).
func registerOverTCP(t *testing.T, e *env, callID string) string {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	msg := "REGISTER sip:" + testDomain + " SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP " + local + ";branch=z9hG4bK" + sip.GenerateTagN(10) + "\r\n" +
		"From: <sip:2001@" + testDomain + ">;tag=1\r\nTo: <sip:2001@" + testDomain + ">\r\n" +
		"Call-ID: " + callID + "\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContact: <sip:2001@" + local + ";transport=tcp>\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	return string(buf[:n])
}

// The CPU cut refuses TCP and TLS new work only: over UDP the queue age
// measures the backlog itself, and a cut thrown there swung goodput
// under a storm. With every TCP REGISTER refused for cpu, UDP new work
// is still served.
func TestOverload_CPUCutRefusesTCPNotUDP(t *testing.T) {
	// No bound: the sampler leaves the cut this test sets alone.
	e := newEnv(t, func(c *Config) { c.MaxSchedLatency = -1 })
	e.srv.adm.cut.Store(math.Float64bits(1))

	if got := registerOverTCP(t, e, "tcp-cpu"); !strings.HasPrefix(got, "SIP/2.0 503") || header(got, "Retry-After") == "" {
		t.Fatalf("REGISTER over TCP with the cut at 1: %q, want 503 with Retry-After", got)
	}
	if got := counterValue(t, e.srv.m.overloadRefused.WithLabelValues(reasonCPU, "REGISTER")); got != 1 {
		t.Errorf("REGISTERs refused for cpu %v, want 1", got)
	}

	pstn := pstnTrunk(t, e)
	for _, m := range []string{"REGISTER", "SUBSCRIBE", "INVITE"} {
		msg, callID := pstn.rawRequest(m, "2001")
		pstn.send(msg)
		if got := pstn.answer(callID, 5*time.Second); got == "" || strings.HasPrefix(got, "SIP/2.0 503") {
			t.Fatalf("%s over UDP with the cut at 1: %q, want it served", m, got)
		}
	}
	if got := counterValue(t, e.srv.m.overloadRefused.WithLabelValues(reasonCPU, "REGISTER")); got != 1 {
		t.Errorf("REGISTERs refused for cpu %v after the UDP ones, want still 1", got)
	}
}

// The CPU signal: samples above MaxSchedLatency grow the cut towards
// cutMax, samples below give it back step by step; no bound, no cut.
func TestOverload_CutFollowsSchedulingLatency(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := newAdmission(Config{}.WithDefaults(), m, nil)
	busy := 2 * time.Duration(a.maxSched.Load()) // twice the default limit
	a.step(busy)
	if c := a.cutNow(); c != 0 {
		t.Fatalf("cut after one busy sample %v, want 0 (smoothed: 0.6 of the limit)", c)
	}
	for range 40 {
		a.step(busy)
	}
	if c := a.cutNow(); c != cutMax {
		t.Fatalf("cut after a long overload %v, want %v", c, cutMax)
	}
	for a.sched.Load() > a.maxSched.Load() {
		a.step(time.Millisecond)
	}
	if c := a.cutNow(); math.Abs(c-(cutMax-cutRelease)) > 1e-9 {
		t.Fatalf("cut once the smoothed latency is back below the limit %v, want %v", c, cutMax-cutRelease)
	}
	for range 30 {
		a.step(time.Millisecond)
	}
	if c := a.cutNow(); c != 0 {
		t.Fatalf("cut after calm %v, want 0", c)
	}
	a.maxSched.Store(-1)
	a.step(time.Second)
	if c := a.cutNow(); c != 0 {
		t.Fatalf("cut with no bound %v, want 0", c)
	}
}

// The edge's view of raw datagrams: compact and mixed-case header names,
// a To tag after the name-addr or not, a 503 keeping every Via.
func TestOverload_StatelessRefusalFromRawBytes(t *testing.T) {
	req := "INVITE sip:1@x SIP/2.0\r\nv: SIP/2.0/UDP a;branch=z9hG4bK1\r\nVIA: SIP/2.0/UDP b;branch=z9hG4bK2\r\n" +
		"f: <sip:a@x>;tag=9\r\nt: \"B;tag=no\" <sip:b@x;tag=no> \r\ni: c1\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n"
	if tag := toTag([]byte(req)); tag != nil {
		t.Fatalf("toTag of a To without tag: %q", tag)
	}
	if tag := toTag([]byte(strings.Replace(req, "tag=no> ", "tag=no>;TAG=abc", 1))); string(tag) != "abc" {
		t.Fatalf("toTag %q, want abc", tag)
	}
	res := string(statelessRefusal([]byte(req), "2"))
	for _, want := range []string{"SIP/2.0 503 Overloaded\r\n", "v: SIP/2.0/UDP a;branch=z9hG4bK1\r\nVIA: SIP/2.0/UDP b;branch=z9hG4bK2\r\n",
		"t: \"B;tag=no\" <sip:b@x;tag=no>;tag=" + refusalTagPrefix, "i: c1\r\n", "CSeq: 1 INVITE\r\n", "Retry-After: 2\r\n", "Content-Length: 0\r\n\r\n"} {
		if !strings.Contains(res, want) {
			t.Errorf("refusal lacks %q:\n%s", want, res)
		}
	}
	if _, err := sip.ParseMessage([]byte(res)); err != nil {
		t.Errorf("refusal does not parse: %v", err)
	}
	if statelessRefusal([]byte(strings.Replace(req, "i: c1\r\n", "", 1)), "2") != nil {
		t.Error("a request without Call-ID got a refusal")
	}
}

// FuzzStatelessRefusal: whatever a datagram holds, the edge's scanning
// neither panics nor answers what has no Via, From, To, Call-ID, CSeq.
func FuzzStatelessRefusal(f *testing.F) {
	f.Add([]byte("INVITE sip:1@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=9\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"))
	f.Add([]byte("ACK sip:1@x SIP/2.0\r\nt: <sip:b@x>;tag=ucgrid-ol-1\r\n\r\n"))
	f.Add([]byte("SIP/2.0 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = requestMethod(data) // only must not panic
		_ = toTag(data)
		if res := statelessRefusal(data, "1"); res != nil && !bytes.HasPrefix(res, []byte("SIP/2.0 503 ")) {
			t.Fatalf("refusal %q", res)
		}
	})
}

// The UDP edge hands sipgo responses and in-dialog requests ahead of new
// work queued before them, and a CANCEL after the INVITE it follows;
// new work that waited past twice MaxQueueAge by the time it is taken
// is refused then.
func TestOverload_EdgeServesInDialogAheadOfNewWork(t *testing.T) {
	edge, a, m, peer := newTestEdge(t, "127.0.0.1")
	invite, _ := peer.rawRequest("INVITE", "2001")
	cancel := strings.Replace(strings.Replace(invite, "INVITE sip:", "CANCEL sip:", 1), "CSeq: 1 INVITE", "CSeq: 1 CANCEL", 1)
	bye := strings.Replace(strings.Replace(invite, "INVITE sip:", "BYE sip:", 1), "To: <sip:2001@"+testDomain+">", "To: <sip:2001@"+testDomain+">;tag=callee", 1)
	response := "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP x;branch=z9hG4bKr\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	for _, msg := range []string{invite, cancel, response, bye} {
		peer.send(msg)
	}
	eventually(t, 5*time.Second, "all four sorted", func() bool { return len(edge.fresh) == 2 && len(edge.prio) == 2 })
	buf := make([]byte, 65536)
	var got []string
	for range 4 {
		n, _, err := edge.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(buf[:n]), " ")
		got = append(got, first)
	}
	if want := []string{"SIP/2.0", "BYE", "INVITE", "CANCEL"}; !slices.Equal(got, want) {
		t.Fatalf("sipgo read %v, want %v", got, want)
	}

	// An INVITE admitted when read but past twice MaxQueueAge when taken
	// (the limit drops to 1 ns while it waits) is answered 503 instead;
	// the next datagram comes through.
	peer.send(invite)
	eventually(t, 5*time.Second, "the INVITE queued", func() bool { return len(edge.fresh) == 1 })
	a.maxAge.Store(1)
	peer.send(response)
	eventually(t, 5*time.Second, "the response queued", func() bool { return len(edge.prio) == 1 })
	if n, _, err := edge.ReadFrom(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 180") {
		t.Fatalf("read %q %v, want the response", buf[:n], err)
	}
	done := make(chan string, 1)
	go func() {
		n, _, _ := edge.ReadFrom(buf) // the INVITE is refused; this waits for what comes next
		done <- string(buf[:n])
	}()
	if res := peer.next(5 * time.Second); !strings.HasPrefix(res, "SIP/2.0 503") {
		t.Fatalf("the aged INVITE got %q, want 503", res)
	}
	peer.send(response)
	if got := <-done; !strings.HasPrefix(got, "SIP/2.0 180") {
		t.Fatalf("after the refusal sipgo read %q", got)
	}
	if got := counterValue(t, m.overloadRefused.WithLabelValues(reasonQueueAge, "INVITE")); got != 1 {
		t.Errorf("queue-age refusals %v, want 1", got)
	}
}

// The share of new work the edge refuses is the reduction this node asks
// of an upstream that offered RFC 7339, in the Via of the responses it
// gets: an upstream that drops it before sending takes the refusals off
// the node.
func TestOverload_RFC7339ClientsAreAskedForTheEdgesRefusedShare(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := newAdmission(Config{}, m, nil)
	sig := edgeSignal{a}
	if got := sig.ReductionPercent(); got != 0 {
		t.Fatalf("reduction of an idle node: %d%%, want 0", got)
	}
	now := time.Now()
	for i := range 100 {
		if i%4 == 0 {
			a.admitted(sip.INVITE, now)
		} else {
			a.refused(sip.INVITE, "queue_age", now)
		}
	}
	if got := sig.ReductionPercent(); got < 70 || got > 80 {
		t.Fatalf("reduction while 3 of 4 new INVITEs are refused: %d%%, want 75", got)
	}
	var o overloadControl
	o.signal.Store(func() *overloadSignal { var s overloadSignal = sig; return &s }())
	req := parsedRequest(t, `;oc`)
	o.stamp(req, now)
	fb, ok := parseOCFeedback(req.Via())
	if !ok || fb.reduction < 70 || fb.reduction > 80 {
		t.Fatalf("the reduction asked of an RFC 7339 client: %+v (%v) from Via %s, want about 75", fb, ok, req.Via().Value())
	}
}

// The UDP edge reads and answers in batches whatever the address
// family: over IPv4 and IPv6 an admitted request reaches sipgo with its
// sender's address, and a refused INVITE is answered 503 to its sender.
func TestOverload_EdgeBatchesServeIPv4AndIPv6(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			edge, a, _, peer := newTestEdge(t, host)
			register, _ := peer.rawRequest("REGISTER", "2001")
			peer.send(register)
			buf := make([]byte, 65536)
			n, from, err := edge.ReadFrom(buf)
			if err != nil || !strings.HasPrefix(string(buf[:n]), "REGISTER ") {
				t.Fatalf("sipgo read %q %v, want the REGISTER", buf[:n], err)
			}
			if from.String() != peer.conn.LocalAddr().String() {
				t.Fatalf("from %s, want the sender %s", from, peer.conn.LocalAddr())
			}
			a.maxCalls.Store(0)
			invite, _ := peer.rawRequest("INVITE", "2001")
			peer.send(invite)
			if res := peer.next(5 * time.Second); !strings.HasPrefix(res, "SIP/2.0 503") {
				t.Fatalf("answer %q, want 503", res)
			}
		})
	}
}

// While sipgo's reader lags (the last datagram it took had waited past
// twice MaxQueueAge), the drain refuses a new INVITE at once, however
// fresh the INVITE itself is: it would wait behind that lag, and the
// admitted calls' messages queueing there come first. Once the reader
// keeps up again, new INVITEs are queued for it.
func TestOverload_EdgeRefusesNewWorkWhileTheReaderLags(t *testing.T) {
	edge, a, m, peer := newTestEdge(t, "127.0.0.1")

	a.noteQueueAge(3*time.Duration(a.maxAge.Load()), time.Now())
	invite, _ := peer.rawRequest("INVITE", "2001")
	peer.send(invite)
	if res := peer.next(5 * time.Second); !strings.HasPrefix(res, "SIP/2.0 503") {
		t.Fatalf("answer %q, want 503 while the reader lags", res)
	}
	if n := counterValue(t, m.overloadRefused.WithLabelValues(reasonQueueAge, "INVITE")); n != 1 {
		t.Fatalf("refused for queue_age = %v, want 1", n)
	}

	a.noteQueueAge(time.Millisecond, time.Now())
	invite, _ = peer.rawRequest("INVITE", "2001")
	peer.send(invite)
	eventually(t, 5*time.Second, "the INVITE queued for the reader", func() bool { return len(edge.fresh) == 1 })
}

// newTestEdge is a UDP edge on host with the default limits, nobody
// reading it but the test, and a peer socket sending to it.
func newTestEdge(t *testing.T, host string) (*edgeConn, *admission, *metrics, *rawUDP) {
	t.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	a := newAdmission(Config{}.WithDefaults(), m, nil)
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() }) // ends the drain
	edge := newEdgeConn(srv, a, testLogger(t), newOnceEvery(time.Minute))
	return edge, a, m, newRawUDP(t, net.JoinHostPort(host, "0"), srv.LocalAddr().String())
}
