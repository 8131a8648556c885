package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/sip/siptest"
)

var (
	demoSignIn = regexp.MustCompile(`(?m)^ucgrid: demo:   (\S+)\s+password (\S+)  `)
	demoLine   = regexp.MustCompile(`(?m)^ucgrid: demo:   line (\d+)  SIP password (\S+)  \((\S+)\)$`)
	demoSIP    = regexp.MustCompile(`(?m)^ucgrid: demo: their desk phones register at (\S+) as sip:NUMBER@(\S+) `)
)

// TestServe_DemoFillsAFreshNodeAndIsRefusedOnceFilled: `serve --demo` on
// a new data directory prints three people's passwords and SIP passwords;
// each signs in (POST /v1/tokens), the plain user sees what the demo's
// grants say, the call groups are there, a printed SIP password
// registers its line; a second start with --demo on the same directory
// is refused with one line and exit code 1.
func TestServe_DemoFillsAFreshNodeAndIsRefusedOnceFilled(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	n := startNode(t, "--data", data, "--demo")
	_, addr := n.waitServing(60 * time.Second)
	out := n.out()
	signIns := demoSignIn.FindAllStringSubmatch(out, -1)
	if len(signIns) != 3 {
		t.Fatalf("want 3 printed sign-ins, got %d:\n%s", len(signIns), out)
	}
	pw := map[string]string{}
	for _, m := range signIns {
		pw[m[1]] = m[2]
		if code, body, _ := call(http.MethodPost, addr, "/v1/tokens", basicAuth(m[1], m[2]), "", nil); code != http.StatusCreated {
			t.Errorf("POST /v1/tokens as %s = %d %s", m[1], code, body)
		}
	}
	plain := basicAuth("liam.novak", pw["liam.novak"])
	// The engineer who blocked him hides her presence; the friend who
	// granted personal shows it, and his private phone.
	if code, _, _ := call(http.MethodGet, addr, "/v1/users/ethan.brooks/presence", plain, "", nil); code != http.StatusForbidden {
		t.Errorf("presence of the colleague who blocked = %d, want 403", code)
	}
	if code, body, _ := call(http.MethodGet, addr, "/v1/users/zoe.walker/presence", plain, "", nil); code != http.StatusOK {
		t.Errorf("presence of the friend who granted personal = %d %s, want 200", code, body)
	}
	if code, body, _ := call(http.MethodGet, addr, "/v1/users/zoe.walker/card", plain, "", nil); code != http.StatusOK || !strings.Contains(body, "private_phone") {
		t.Errorf("card of the friend = %d %s, want the private phone", code, body)
	}
	admin := basicAuth("mia.keller", pw["mia.keller"])
	for id, strategy := range map[string]string{"reception": "ring_all", "support": "sequential"} {
		code, body, _ := call(http.MethodGet, addr, "/v1/groups/"+id, admin, "", nil)
		var g struct {
			OfficeHours json.RawMessage           `json:"office_hours"`
			CallGroup   struct{ Strategy string } `json:"call_group"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &g) != nil || g.CallGroup.Strategy != strategy || len(g.OfficeHours) < 10 {
			t.Errorf("group %s = %d %s, want a %s call group with office hours", id, code, body, strategy)
		}
	}
	registerPrintedLine(t, out)

	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := n.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	again := startNode(t, "--data", data, "--demo")
	if code := again.wait(60 * time.Second); code != 1 {
		t.Errorf("second --demo start: exit code %d, want 1", code)
	}
	var refusal []string
	for _, l := range strings.Split(again.errText(), "\n") {
		if strings.HasPrefix(l, "ucgrid serve:") {
			refusal = append(refusal, l)
		}
	}
	if len(refusal) != 1 || !strings.Contains(refusal[0], "--demo") || !strings.Contains(refusal[0], "not empty") {
		t.Errorf("second --demo start said %q, want one line naming --demo and the non-empty directory", refusal)
	}
	if strings.Contains(again.out(), "password") {
		t.Errorf("refused start printed credentials:\n%s", again.out())
	}
}

// registerPrintedLine registers the first printed line with its printed
// SIP password (digest) at the printed address.
func registerPrintedLine(t *testing.T, out string) {
	t.Helper()
	sipAt := demoSIP.FindStringSubmatch(out)
	line := demoLine.FindStringSubmatch(out)
	if sipAt == nil || line == nil {
		t.Fatalf("no SIP address or line printed:\n%s", out)
	}
	ua := siptest.NewUA(t, sipAt[1], sipAt[2], line[1], line[2])
	if res := ua.Register(60); res.StatusCode != 200 {
		t.Errorf("REGISTER of line %s with its printed SIP password = %d, want 200", line[1], res.StatusCode)
	}
	wrong := siptest.NewUA(t, sipAt[1], sipAt[2], line[1], line[2]+"x")
	if res := wrong.Register(60); res.StatusCode == 200 {
		t.Errorf("REGISTER of line %s with a wrong SIP password = 200", line[1])
	}
}

func TestServe_DemoWithJoinIsAUsageError(t *testing.T) {
	n := startNode(t, "--data", t.TempDir(), "--demo", "--join", "127.0.0.1:1", "--cluster-secret", strings.Repeat("s", 16))
	if code := n.wait(30 * time.Second); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if !strings.Contains(n.errText(), "--demo") || !strings.Contains(n.errText(), "--join") {
		t.Errorf("stderr %q does not name --demo and --join", n.errText())
	}
}
