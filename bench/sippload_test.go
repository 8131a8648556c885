package bench

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// SIPp's statistics and response-time files become a metric: samples from
// the rtt file, failures from the periodic rows plus what the final row
// adds, kinds from the Failed…(C) columns, and a window that ends at the
// start of the last timed call.
func TestSIPpRun_ReadsStatisticsAndResponseTimes(t *testing.T) {
	dir := t.TempDir()
	stat := "CurrentTime;OutgoingCall(C);SuccessfulCall(C);FailedCall(P);FailedCall(C);FailedMaxUDPRetrans(C);FailedUnexpectedMessage(C)\n" +
		"t;10;9;1;1;1;0\n" + "t;20;17;1;2;2;0\n" + "t;20;17;1;3;3;0\n"
	rtt := "Date_ms;response_time_ms;rtd_no\n100.0;4;ring\n1500.0;300;answer\n1900.0;4;ring\n"
	for name, text := range map[string]string{"stat.csv": stat, "uac_1_rtt.csv": rtt} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &sippRun{start: time.Now(), wall: 3 * time.Second}
	if err := r.read(dir); err != nil {
		t.Fatal(err)
	}
	m := r.recorder("INVITE→200 (call)", "answer", true).Metric(2 * time.Second)
	if m.Count != 1 || m.Errors != 3 || m.ErrorKinds["MaxUDPRetrans"] != 3 {
		t.Errorf("metric: count %d, errors %d, kinds %v; want 1, 3, MaxUDPRetrans 3", m.Count, m.Errors, m.ErrorKinds)
	}
	if got, want := r.seconds(10), 1896*time.Millisecond+100*time.Millisecond; got != want {
		t.Errorf("window %v, want %v", got, want)
	}
	figs := map[string]float64{}
	for _, f := range r.figures("calls", 2*time.Second) {
		figs[f.Name] = f.Value
	}
	if figs["calls attempted"] != 20 || figs["calls completed"] != 17 || figs["calls failed"] != 3 || figs["calls/s completed"] != 8.5 {
		t.Errorf("figures %v", figs)
	}
}

// uac_call.xml against a server that refuses every other call with 503:
// SIPp acknowledges the 503 (the server stops retransmitting it) and
// the bench counts those calls refused, with their INVITE→503 latency,
// the others completed.
func TestSIPpHunt_CountsRefusedCalls(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatal("sipp is not installed (apt-get install sip-tester)")
	}
	up := startRefusingUAS(t)
	e := &sippEnv{target: up.addr, dir: t.TempDir()}
	sf, err := e.scenario("uac_call.xml", "HOLD_MS", "10")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run, err := e.runLoad(ctx, LoadConfig{Rate: 20, Duration: time.Second}, sf, "-s", "1001", "-recv_timeout", "5000ms")
	if err != nil {
		t.Fatal(err)
	}
	window := run.seconds(20)
	answered, refused := run.callRecorders()
	am, rm := answered.Metric(window), refused.Metric(window)
	if am.Count != 10 || rm.Count != 10 || am.Errors != 10 {
		t.Errorf("answered %d (errors %d), refused %d; want 10, 10, 10", am.Count, am.Errors, rm.Count)
	}
	if g := newGoodput(am, rm, window); g == nil || g.RefusedPerS <= 0 || g.FailedPerS != 0 { // SIPp times in ms: a loopback 503 may take 0
		t.Errorf("goodput %+v", g)
	}
	figs := map[string]float64{}
	for _, f := range run.figures("calls", window) {
		figs[f.Name] = f.Value
	}
	if figs["calls completed"] != 10 || figs["calls refused (503)"] != 10 || figs["calls failed"] != 0 {
		t.Errorf("figures %v", figs)
	}
	if n := up.acks503.Load(); n != 10 {
		t.Errorf("the server got %d ACKs of its 503s, want 10", n)
	}
}

// refusingUAS answers odd INVITEs 503 and even ones 200.
type refusingUAS struct {
	addr    string
	invites atomic.Int64
	acks503 atomic.Int64
}

func startRefusingUAS(t *testing.T) *refusingUAS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	u := &refusingUAS{addr: pc.LocalAddr().String()}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		n := u.invites.Add(1)
		if n%2 == 1 {
			res := sip.NewResponseFromRequest(req, 503, "Overloaded", nil)
			res.AppendHeader(sip.NewHeader("Retry-After", "1"))
			_ = tx.Respond(res)
			select {
			case <-tx.Acks():
				u.acks503.Add(1)
			case <-time.After(5 * time.Second):
			}
			return
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.To().Params.Add("tag", "uas"+strconv.FormatInt(n, 10))
		res.AppendHeader(sip.NewHeader("Contact", "<sip:uas@"+u.addr+">"))
		_ = tx.Respond(res)
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() { _ = srv.ServeUDP(pc) }()
	t.Cleanup(func() { _ = ua.Close() })
	return u
}
