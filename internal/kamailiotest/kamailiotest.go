// Package kamailiotest runs Kamailio (Debian package kamailio, installed
// by `make test-deps`; the package does not start it) as a real SIP peer
// in tests — a carrier or registrar upstream of a node — from a config
// template with %NAME% placeholders, on UDP, stopped when the test ends.
package kamailiotest

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
)

// Need returns kamailio's path, or skips the test when it is not
// installed (fails instead with UCGRID_REQUIRE_PEERS set, as in `make
// test`).
func Need(t testing.TB) string {
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

// Start runs the config template at path with every %NAME% replaced by
// vars[NAME], listening on UDP 127.0.0.1:port (the template's %PORT%,
// which Start fills in), and returns its log once it answers SIP there.
func Start(t testing.TB, path string, port int, vars map[string]string) *testlog.Buffer {
	t.Helper()
	bin := Need(t)
	tmpl, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pairs := []string{"%PORT%", strconv.Itoa(port)}
	for k, v := range vars {
		pairs = append(pairs, "%"+k+"%", v)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(cfg, []byte(strings.NewReplacer(pairs...).Replace(string(tmpl))), 0o600); err != nil {
		t.Fatal(err)
	}
	log := &testlog.Buffer{}
	cmd := exec.Command(bin, "-f", cfg, "-P", filepath.Join(dir, "kamailio.pid"), "-Y", dir, "-m", "32", "-M", "8", "-DD", "-E")
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
			t.Logf("kamailio (%s):\n%s", filepath.Base(path), log.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !answers(port) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("kamailio exited: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio did not answer on 127.0.0.1:%d within 10s\n%s", port, log.String())
		}
	}
	return log
}

// answers reports whether something on 127.0.0.1:port answers an OPTIONS
// within 200 ms with a SIP response.
func answers(port int) bool {
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
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)) // a socket of our own: cannot fail
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 ")
}
