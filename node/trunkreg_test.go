//go:build !race

// Built without -race only: see server_test.go.

package node

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// The node that leads Raft keeps the trunks' registrations, and
// GET /v1/trunks/{id} shows them: a one-node cluster (its own leader)
// registers at a SIPp registrar that challenges with digest.
func TestServer_LeaderRegistersTrunkAndShowsIt(t *testing.T) {
	bin, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("UCGRID_REQUIRE_PEERS") != "" {
			t.Fatal("sipp not installed (make test-deps installs sip-tester)")
		}
		t.Skip("sipp not installed: run make test-deps")
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, "-sf", "../sip/testdata/sipp/uas_registrar.xml", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
		"-m", "1", "-nostdin", "-timeout", "30", "-key", "user", "4989123", "-key", "secret", "reg-s3cret")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // the registrar waits for a removal the test does not ask for
		_ = cmd.Wait()         // killed: its exit status says so
	})
	s := startSIPNode(t)
	admin := client{t, "http://" + s.HTTPAddr(), AdminID, "admin-secret"}
	admin.must(http.StatusCreated, "PUT", "/v1/trunks/carrier", map[string]any{"outbound": map[string]any{
		"host": "127.0.0.1", "port": port, "register": true, "username": "4989123", "password": "reg-s3cret"}}, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := admin.must(http.StatusOK, "GET", "/v1/trunks/carrier", nil, "")
		reg, _ := got["registration"].(map[string]any)
		if reg["state"] == "registered" {
			if ob, _ := got["outbound"].(map[string]any); ob["password"] != nil || ob["password_set"] != true {
				t.Fatalf("outbound %v", ob)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("trunk %v not registered; registrar:\n%s", got, out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}
