package sip

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// SIPp (Debian package sip-tester, installed by `make test-deps`) runs
// the scenarios in testdata/sipp against a server on a real directory.

func needSIPp(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("UCGRID_REQUIRE_PEERS") != "" {
			t.Fatal("sipp not installed (make test-deps installs sip-tester)")
		}
		t.Skip("sipp not installed: run make test-deps")
	}
	return path
}

// freeUDPPort returns a port free on 127.0.0.1 for UDP now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// sippRun is one SIPp process running a scenario.
type sippRun struct {
	name  string
	cmd   *exec.Cmd
	out   bytes.Buffer
	done  chan error
	port  int
	ended bool // wait received the exit
}

func startSIPp(t *testing.T, e *env, scenario string, args ...string) *sippRun {
	t.Helper()
	bin := needSIPp(t)
	port := freeUDPPort(t)
	dir := t.TempDir()
	all := append([]string{"-sf", filepath.Join("testdata", "sipp", scenario), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-m", "1", "-nostdin", "-timeout", "20", "-timeout_error", "-key", "domain", testDomain,
		"-trace_err", "-error_file", filepath.Join(dir, "err.log")}, args...)
	r := &sippRun{name: scenario, port: port, done: make(chan error, 1)}
	r.cmd = exec.Command(bin, all...)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	r.cmd.Dir = "."
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if !r.ended {
			_ = r.cmd.Process.Kill() // a scenario that did not finish
			<-r.done
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "err.log")); err == nil {
				t.Logf("%s errors:\n%s", scenario, b)
			}
		}
	})
	return r
}

// wait waits for the scenario to end and fails the test unless it passed.
func (r *sippRun) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case err := <-r.done:
		r.ended = true // read by the clean-up on this goroutine (ProcessState is Wait's)
		if err != nil {
			t.Fatalf("sipp %s: %v", r.name, err)
		}
	case <-time.After(d):
		t.Fatalf("sipp %s did not finish within %v", r.name, d)
	}
}

// member registers a SIPp UAS as the contact of line number.
func (e *env) bindSIPp(number string, r *sippRun) {
	e.t.Helper()
	_, err := e.be.Register(context.Background(), number, actors.RegisterUpdate{Put: []*dirpb.Registration{{
		Line: number, Contact: "sip:" + number + "@127.0.0.1:" + strconv.Itoa(r.port), ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}}})
	if err != nil {
		e.t.Fatal(err)
	}
}

func callerArgs(caller, pw, callee string, e *env) []string {
	return []string{"-au", caller, "-ap", pw, "-key", "caller", caller, "-key", "callee", callee, e.srv.Addr()}
}

func TestSIPp_Register(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	csv := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(csv, []byte("SEQUENTIAL\n1001;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startSIPp(t, e, "register.xml", "-inf", csv, "-au", "1001", "-ap", "a-pw", e.srv.Addr()).wait(t, 30*time.Second)
	bad := startSIPp(t, e, "register.xml", "-inf", csv, "-au", "1001", "-ap", "wrong", e.srv.Addr())
	select {
	case err := <-bad.done:
		bad.ended = true
		if err == nil {
			t.Fatal("register with a wrong password passed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sipp with a wrong password did not end")
	}
}

func TestSIPp_UnauthenticatedInviteRefused(t *testing.T) {
	e := newEnv(t)
	e.user("bob", "2001", "b-pw")
	startSIPp(t, e, "uac_unauth.xml", "-key", "caller", "1001", "-key", "callee", "2001", e.srv.Addr()).wait(t, 30*time.Second)
}

func TestSIPp_RingAllOneAnswersOthersCancelled(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	ids := []string{"m1", "m2", "m3"}
	for i, id := range ids {
		e.user(id, "210"+strconv.Itoa(i+1), "pw")
	}
	e.group("sales", "700", "ring_all", ids, nil)
	answer := startSIPp(t, e, "uas_answer.xml", "-d", "500")
	lose1 := startSIPp(t, e, "uas_completed_elsewhere.xml")
	lose2 := startSIPp(t, e, "uas_completed_elsewhere.xml")
	e.bindSIPp("2101", lose1)
	e.bindSIPp("2102", answer)
	e.bindSIPp("2103", lose2)
	caller := startSIPp(t, e, "uac_call.xml", callerArgs("1001", "a-pw", "700", e)...)
	for _, r := range []*sippRun{caller, answer, lose1, lose2} {
		r.wait(t, 30*time.Second)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}

func TestSIPp_SequentialTimeoutMovesToNextMember(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("m1", "2101", "pw")
	e.user("m2", "2102", "pw")
	e.group("support", "701", "sequential", []string{"m1", "m2"}, func(cg *dirpb.CallGroup) { cg.MemberTimeoutS, cg.RingTimeoutS = 1, 10 })
	first := startSIPp(t, e, "uas_cancelled.xml")
	second := startSIPp(t, e, "uas_answer.xml", "-d", "200")
	e.bindSIPp("2101", first)
	e.bindSIPp("2102", second)
	caller := startSIPp(t, e, "uac_call.xml", callerArgs("1001", "a-pw", "701", e)...)
	for _, r := range []*sippRun{caller, first, second} {
		r.wait(t, 30*time.Second)
	}
}

func TestSIPp_CallerCancel(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	desk, soft := startSIPp(t, e, "uas_cancelled.xml"), startSIPp(t, e, "uas_cancelled.xml")
	e.bindSIPp("2001", desk)
	_, err := e.be.Register(context.Background(), "2001", actors.RegisterUpdate{Put: []*dirpb.Registration{{
		Line: "2001", Contact: "sip:soft@127.0.0.1:" + strconv.Itoa(soft.port), ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}}})
	if err != nil {
		t.Fatal(err)
	}
	caller := startSIPp(t, e, "uac_cancel.xml", callerArgs("1001", "a-pw", "2001", e)...)
	for _, r := range []*sippRun{caller, desk, soft} {
		r.wait(t, 30*time.Second)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}
