package sip

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testlog"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// needKamailio skips the test when kamailio is not installed, and fails it
// instead under UCGRID_REQUIRE_PEERS.
func needKamailio(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kamailio")
	if err != nil {
		if os.Getenv("UCGRID_REQUIRE_PEERS") != "" {
			t.Fatal("kamailio not installed (make test-deps installs it)")
		}
		t.Skip("kamailio not installed: run make test-deps")
	}
	return path
}

// startKamailioCarrier runs testdata/kamailio/carrier.cfg on a free
// 127.0.0.1 port: a carrier that challenges INVITEs with 407 for user and
// password and passes authorised calls to the phone at uasPort. It
// returns the port and kamailio's log, once it answers.
func startKamailioCarrier(t *testing.T, uasPort int, user, password string) (int, *testlog.Buffer) {
	t.Helper()
	bin := needKamailio(t)
	tmpl, err := os.ReadFile(filepath.Join("testdata", "kamailio", "carrier.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	port := freeUDPPort(t)
	cfg := strings.NewReplacer("%PORT%", strconv.Itoa(port), "%UAS_PORT%", strconv.Itoa(uasPort),
		"%USER%", user, "%PASSWORD%", password).Replace(string(tmpl))
	dir := t.TempDir()
	path := filepath.Join(dir, "carrier.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	log := &testlog.Buffer{}
	cmd := exec.Command(bin, "-f", path, "-P", filepath.Join(dir, "kamailio.pid"), "-Y", dir, "-m", "32", "-M", "8", "-DD", "-E")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // it may have exited: done says
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill() // did not stop on SIGTERM
			<-done
		}
		if t.Failed() {
			t.Logf("kamailio carrier:\n%s", log.String())
		}
	})
	eventually(t, 10*time.Second, "the kamailio carrier answers", func() bool { return udpAnswers(port) })
	return port, log
}

// udpAnswers reports whether something on 127.0.0.1:port answers an
// OPTIONS within 200 ms (any SIP response).
func udpAnswers(port int) bool {
	c, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	defer c.Close()
	local := c.LocalAddr().String()
	msg := "OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bKprobe" + strconv.FormatInt(time.Now().UnixNano(), 36) +
		"\r\nMax-Forwards: 70\r\nFrom: <sip:probe@" + local + ">;tag=p\r\nTo: <sip:probe@127.0.0.1>\r\nCall-ID: probe-" + local +
		"\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)) // a conn of our own: cannot fail
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 ")
}

// A carrier that asks for credentials with 407 Proxy-Authenticate (a
// real Kamailio checking the digest): the call out answers the challenge
// with Proxy-Authorization and goes through, record-routed both ways, and
// the caller's BYE reaches the phone behind the carrier. With a wrong
// password the carrier challenges again and the caller gets 502, once.
func TestOutbound_KamailioCarrierChallengesWith407(t *testing.T) {
	e := newEnv(t)
	phone := startSIPp(t, e, "uas_answer.xml", "-d", "200")
	port, log := startKamailioCarrier(t, phone.port, carrierUser, carrierSecret)
	outboundSetup(e, port, nil)
	alice := registered(t, e, "1001", "a-pw")

	c := alice.call("089555123")
	c.wait(200, 15*time.Second)
	c.ackAndBye(true)
	phone.wait(t, 15*time.Second)
	out := log.String()
	if !strings.Contains(out, "carrier: challenge INVITE sip:+4989555123@carrier.example") {
		t.Errorf("the carrier did not challenge the INVITE:\n%s", out)
	}
	if !strings.Contains(out, "carrier: authorised INVITE sip:+4989555123@carrier.example from sip:+4989123100@carrier.example") {
		t.Errorf("the carrier did not authorise the retried INVITE with alice's public number:\n%s", out)
	}
	if strings.Contains(out, carrierSecret) {
		t.Error("the password crossed the wire")
	}

	e.apply(&dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier",
		Outbound: &dirpb.TrunkOutbound{Host: "127.0.0.1", Port: int32(port), Username: carrierUser, Password: "not-the-secret",
			MainNumber: "+4989123000", Domain: "carrier.example"}}}}})
	before := strings.Count(log.String(), "carrier: challenge")
	bad := alice.call("089555124")
	if res := bad.wait(502, 15*time.Second); res.Reason != "Trunk Authentication Failed" {
		t.Errorf("refused credentials: %d %q, want 502 Trunk Authentication Failed", res.StatusCode, res.Reason)
	}
	if n := strings.Count(log.String(), "carrier: challenge") - before; n != 2 {
		t.Errorf("the carrier challenged %d times, want 2 (the INVITE and the one retry)", n)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}
