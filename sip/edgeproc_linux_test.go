package sip

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The edge process serves a node as edgeConn does: an admitted call's
// ACK, CANCEL and BYE are served while every new INVITE is refused, and
// the refusals (made in the edge process) are counted in the node's
// metrics.
func TestEdgeProcess_InDialogServedWhileNewInvitesRefused(t *testing.T) {
	e := inDialogServedWhileNewInvitesRefused(t, func(c *Config) { c.EdgeProcess = true })
	if _, ok := e.srv.edge.(*procEdge); !ok {
		t.Fatalf("the node reads UDP through %T, want an edge process", e.srv.edge)
	}
	if got := gaugeValue(e.srv.m.edgeProcess); got != 1 {
		t.Errorf("ucgrid_sip_edge_process = %v, want 1", got)
	}
	if got := e.srv.adm.edgeRefused[slices.Index(overloadReasons[:], reasonCalls)][0].Load(); got != 4 {
		t.Errorf("the edge process refused %d INVITEs, want all 4", got)
	}
}

// newTestProcEdge starts an edge process on a UDP socket of host's and
// returns its node side (nobody reads it until the test does) and a
// peer talking to it.
func newTestProcEdge(t *testing.T, host string) (*procEdge, *admission, *rawUDP) {
	t.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := newEdgeMemory()
	if err != nil {
		t.Fatal(err)
	}
	a := newAdmission(Config{}.WithDefaults(), m, mem.st)
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := startEdgeProcess(srv, mem, a, testLogger(t), newOnceEvery(time.Minute))
	if err != nil {
		_ = srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, a, newRawUDP(t, net.JoinHostPort(host, "0"), srv.LocalAddr().String())
}

// readEdge reads the next datagram sipgo would get from p, within d.
func readEdge(t *testing.T, p *procEdge, d time.Duration) (string, net.Addr) {
	t.Helper()
	type read struct {
		msg  string
		addr net.Addr
		err  error
	}
	got := make(chan read, 1)
	go func() {
		b := make([]byte, 1<<16)
		n, addr, err := p.ReadFrom(b)
		got <- read{string(b[:n]), addr, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatalf("ReadFrom: %v", r.err)
		}
		return r.msg, r.addr
	case <-time.After(d):
		t.Fatalf("nothing read within %v", d)
		return "", nil
	}
}

// While the node's reader takes nothing (a garbage collection, a
// scheduler far behind), the edge process refuses new INVITEs on its
// own: the 503 comes without the node running at all. What was passed
// before reaches the node, in order, from its sender's address.
func TestEdgeProcess_RefusesWhileTheNodesReaderTakesNothing(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			p, a, peer := newTestProcEdge(t, host)
			a.maxAge.Store(int64(time.Millisecond))
			options, _ := peer.rawRequest("OPTIONS", "2001")
			peer.send(options) // passed to the node, which does not read
			deadline := time.Now().Add(5 * time.Second)
			var got string
			for !strings.HasPrefix(got, "SIP/2.0 503") {
				if time.Now().After(deadline) {
					t.Fatalf("no 503 within 5s while the node's reader stood still (last %q)", got)
				}
				invite, callID := peer.rawRequest("INVITE", "2001")
				peer.send(invite)
				got = peer.answerOrEmpty(callID, 100*time.Millisecond)
			}
			if header(got, "Retry-After") == "" {
				t.Errorf("the refusal has no Retry-After:\n%s", got)
			}
			r := a.edgeRefused[slices.Index(overloadReasons[:], reasonQueueAge)][0].Load()
			if r == 0 {
				t.Error("the edge process counted no INVITE refused for queue age")
			}
			msg, from := readEdge(t, p, 5*time.Second)
			if msg != options || from.String() != peer.conn.LocalAddr().String() {
				t.Errorf("the node read %q from %v first, want the OPTIONS from %v", msg, from, peer.conn.LocalAddr())
			}
			if a.taken.Load() == 0 {
				t.Error("the node's read is not counted as taken")
			}
		})
	}
}

// answerOrEmpty is the answer for callID within d, "" when none came.
func (r *rawUDP) answerOrEmpty(callID string, d time.Duration) string {
	buf := make([]byte, 65536)
	deadline := time.Now().Add(d)
	for {
		_ = r.conn.SetReadDeadline(deadline)
		n, _, err := r.conn.ReadFrom(buf)
		if err != nil {
			return ""
		}
		if msg := string(buf[:n]); header(msg, "Call-ID") == callID {
			return msg
		}
	}
}

// The edge process is named for an operator's ps and top, not
// "/proc/self/exe".
func TestEdgeProcess_IsNamedInPsAndTop(t *testing.T) {
	p, _, _ := newTestProcEdge(t, "127.0.0.1")
	dir := "/proc/" + strconv.Itoa(p.proc.Pid)
	// The process names itself in its init: poll until it has run.
	eventually(t, 5*time.Second, "the edge process's comm is not "+edgeProcessName, func() bool {
		comm, err := os.ReadFile(dir + "/comm")
		return err == nil && strings.TrimSpace(string(comm)) == edgeProcessName
	})
	cmdline, err := os.ReadFile(dir + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimRight(string(cmdline), "\x00"); got != edgeProcessName {
		t.Errorf("cmdline = %q, want %q", got, edgeProcessName)
	}
}

// An edge process that dies leaves the node reading its socket itself:
// datagrams sent after it died still reach the node.
func TestEdgeProcess_NodeReadsItselfWhenTheProcessDies(t *testing.T) {
	p, _, peer := newTestProcEdge(t, "127.0.0.1")
	if err := p.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	options, _ := peer.rawRequest("OPTIONS", "2001")
	peer.send(options)
	if msg, _ := readEdge(t, p, 5*time.Second); msg != options {
		t.Errorf("the node read %q, want the OPTIONS", msg)
	}
	if !p.inline {
		t.Error("the node did not fall back to its own reads")
	}
	if got := gaugeValue(p.e.a.m.edgeProcess); got != 0 {
		t.Errorf("ucgrid_sip_edge_process = %v after the fallback, want 0", got)
	}
}

// The edge process exits on its own once the node closes its end of the
// pair (a node that ends without Close: its descriptors close).
func TestEdgeProcess_ExitsWhenTheNodeGoes(t *testing.T) {
	p, _, _ := newTestProcEdge(t, "127.0.0.1")
	if err := p.link.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the edge process still runs 5s after the node closed the pair")
	}
	if p.waited != nil {
		t.Errorf("the edge process exited with %v, want success", p.waited)
	}
}

// What the edge process passes the node decodes as it was read: the
// sender's address (IPv4, IPv6 with a zone, none), the arrival to the
// nanosecond, the method of new work, the datagram's bytes.
func TestEdgeProcess_PacketsDecodeAsEncoded(t *testing.T) {
	at := time.Unix(1_796_000_000, 123_456_789)
	sent := []edgePacket{
		{data: []byte("INVITE sip:x SIP/2.0\r\n\r\n"), addr: &net.UDPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5060}, arrived: at, method: sip.INVITE},
		{data: []byte("SIP/2.0 200 OK\r\n\r\n"), addr: &net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 65535, Zone: "eth0"}, arrived: at.Add(time.Nanosecond)},
		{data: nil, arrived: at},
	}
	// One message of the pair carries them all, in order.
	var msg []byte
	for _, p := range sent {
		msg = appendEdgeRecord(msg, p)
	}
	for _, p := range sent {
		got, rest, ok := nextEdgeRecord(msg)
		if !ok || string(got.data) != string(p.data) || !got.arrived.Equal(p.arrived) || got.method != p.method ||
			(p.addr == nil) != (got.addr == nil) || p.addr != nil && got.addr.String() != p.addr.String() {
			t.Errorf("decoded %+v (ok %v), want %+v", got, ok, p)
		}
		msg = rest
	}
	if len(msg) != 0 {
		t.Errorf("%d bytes left after the last record", len(msg))
	}
	if _, ok := decodeEdgePacket([]byte{1, 2, 3}); ok {
		t.Error("a short packet decoded")
	}
	if _, _, ok := nextEdgeRecord([]byte{200, 0, 0, 0, 1}); ok {
		t.Error("a record longer than its message decoded")
	}
}

// The edge process counts refusals by method label index: the labels it
// counts with are the labels the node exports.
func TestEdgeProcess_MethodLabelsAreTheMetricsLabels(t *testing.T) {
	for m, l := range knownMethods {
		if methodLabel(m) != l || !slices.Contains(methodLabels[:], l) {
			t.Errorf("method %s: label %q missing from methodLabels", m, l)
		}
	}
	if len(methodLabels) != len(knownMethods)+1 || methodLabels[len(methodLabels)-1] != "other" {
		t.Errorf("methodLabels %v: want the known methods and other", methodLabels)
	}
}

func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	_ = g.Write(&m) // a gauge always writes
	return m.GetGauge().GetValue()
}

// With an edge process, UDP new work it passed is refused by the
// request guard only past twice the bounds (it was judged on arrival; a
// refusal now would come as late as the node's reader). Over TCP the
// guard keeps the bounds.
func TestEdgeProcess_GuardRefusesPassedWorkOnlyPastTwiceTheBounds(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.EdgeProcess = true; c.MaxCallsSettingUp = 10 })
	if !e.srv.adm.processEdge.Load() {
		t.Fatal("the guard does not know an edge process judges UDP")
	}
	admits := func(transport string, settingUp int64) bool {
		t.Helper()
		e.srv.adm.settingUp.Store(settingUp)
		req := sip.NewRequest(sip.INVITE, sip.Uri{User: "2001", Host: testDomain})
		req.SetTransport(transport)
		_, done, ok := e.srv.admit(req, nil)
		if ok {
			done()
		}
		return ok
	}
	if !admits("UDP", 15) {
		t.Error("UDP, 15 calls setting up, bound 10: refused short of twice the bound")
	}
	if admits("UDP", 20) {
		t.Error("UDP, 20 calls setting up, bound 10: admitted at twice the bound")
	}
	if admits("TCP", 15) {
		t.Error("TCP, 15 calls setting up, bound 10: admitted past the bound")
	}
	e.srv.adm.settingUp.Store(0)
}
