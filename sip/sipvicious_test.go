package sip

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// SIPVicious (Debian package sipvicious 0.3.3: svwar, svcrack) run
// against a node on 127.0.0.1, as an attacker would.

// needSIPVicious returns the path of tool; it skips when SIPVicious is
// not installed and fails instead with UCGRID_REQUIRE_PEERS set (make
// test), like the SIPp and baresip tests.
func needSIPVicious(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("UCGRID_REQUIRE_PEERS") != "" {
			t.Fatalf("%s not installed (make test-deps installs sipvicious)", tool)
		}
		t.Skipf("%s not installed: run make test-deps (Debian package sipvicious)", tool)
	}
	return path
}

// runSIPVicious runs tool with args (its session files in a temporary
// HOME) and returns its combined output.
func runSIPVicious(t *testing.T, tool string, args ...string) string {
	t.Helper()
	bin := needSIPVicious(t, tool)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish: %s", tool, args, out)
	}
	_ = err // the tools exit non-zero when they find nothing
	return string(out)
}

var svwarRow = regexp.MustCompile(`(?m)^\|\s*(\d+)\s*\|\s*([^|]*?)\s*\|`)

// svwarFound are the extensions svwar reported, each with its status.
func svwarFound(out string) map[string]string {
	found := map[string]string{}
	for _, m := range svwarRow.FindAllStringSubmatch(out, -1) {
		found[m[1]] = m[2]
	}
	return found
}

// svwar over a range holding existing and missing lines learns nothing:
// it reports no extension, or every one of the range alike.
func TestSIPVicious_SvwarCannotEnumerateLines(t *testing.T) {
	needSIPVicious(t, "svwar")
	e := newEnv(t)
	for _, n := range []string{"1001", "1003", "1006"} {
		e.user("u"+n, n, "pw-"+n)
	}
	_, port, _ := net.SplitHostPort(e.srv.Addr())
	for _, method := range []string{"REGISTER", "INVITE", "OPTIONS"} {
		out := runSIPVicious(t, "svwar", "--force", "-m", method, "-e", "1000-1009", "-p", port, "127.0.0.1")
		found := svwarFound(out)
		t.Logf("svwar -m %s: %v", method, found)
		if len(found) == 0 {
			continue
		}
		var exts []string
		status := map[string]bool{}
		for ext, st := range found {
			exts = append(exts, ext)
			status[st] = true
		}
		sort.Strings(exts)
		if len(exts) != 10 || len(status) != 1 {
			t.Errorf("svwar -m %s tells lines apart: %v\n%s", method, found, out)
		}
	}
}

// Control for the test above: against a registrar that answers missing
// lines 404 and existing ones 401, svwar names exactly the existing ones
// (so "nothing found" above is our doing, not a tool that cannot scan).
func TestSIPVicious_SvwarFindsLinesOfALeakyRegistrar(t *testing.T) {
	needSIPVicious(t, "svwar")
	conn := listenUDP(t, "127.0.0.1:0")
	go leakyRegistrar(conn, map[string]bool{"1001": true, "1003": true, "1006": true})
	_, port, _ := net.SplitHostPort(conn.LocalAddr().String())
	out := runSIPVicious(t, "svwar", "-m", "REGISTER", "-e", "1000-1009", "-p", port, "127.0.0.1")
	found := svwarFound(out)
	var exts []string
	for ext := range found {
		exts = append(exts, ext)
	}
	sort.Strings(exts)
	if strings.Join(exts, ",") != "1001,1003,1006" {
		t.Fatalf("svwar against a leaky registrar found %v, want 1001,1003,1006:\n%s", found, out)
	}
}

var toUser = regexp.MustCompile(`(?mi)^(?:To|t):[^\r\n]*sip:([^@;>\r\n]+)@`)

// leakyRegistrar answers every request 401 when its To user is in lines,
// else 404: the enumeration leak svwar looks for.
func leakyRegistrar(conn net.PacketConn, lines map[string]bool) {
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		msg := string(buf[:n])
		if strings.HasPrefix(msg, "SIP/2.0") {
			continue
		}
		status := "404 Not Found"
		if m := toUser.FindStringSubmatch(msg); m != nil && lines[m[1]] {
			status = "401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"leaky\", nonce=\"abc\", algorithm=MD5"
		}
		res := "SIP/2.0 " + status + "\r\n"
		for _, line := range strings.Split(msg, "\r\n") {
			name, _, _ := strings.Cut(line, ":")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "via", "v", "from", "f", "call-id", "i", "cseq":
				res += line + "\r\n"
			case "to", "t":
				res += line + ";tag=leaky\r\n"
			}
		}
		res += "Content-Length: 0\r\n\r\n"
		_, _ = conn.WriteTo([]byte(res), from)
	}
}

// svcrack against an existing line with a wordlist holding the real
// password does not get through it: after a few wrong guesses it is
// answered 503. The same run against a server that does not throttle
// finds the password, so the tool does speak our digest.
func TestSIPVicious_SvcrackIsThrottled(t *testing.T) {
	needSIPVicious(t, "svcrack")
	words := []string{"123456", "password", "1001", "letmein", "qwerty", "000000", "111111", "secret", "admin", "welcome"}
	const real = "Tr0ub4dor&3"
	words = append(words, real)
	list := filepath.Join(t.TempDir(), "words.txt")
	if err := os.WriteFile(list, []byte(strings.Join(words, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	crack := func(e *env) string {
		_, port, _ := net.SplitHostPort(e.srv.Addr())
		return runSIPVicious(t, "svcrack", "-u", "1001", "-d", list, "-p", port, "127.0.0.1")
	}

	open := newEnv(t, func(c *Config) { c.AuthFailures, c.LinePairFailures, c.LineFailures = 1000, 1000, 1000 })
	open.user("alice", "1001", real)
	if out := crack(open); !regexp.MustCompile(`1001\s*\|\s*` + regexp.QuoteMeta(real)).MatchString(out) {
		t.Fatalf("control: svcrack against a server without throttling did not find the password:\n%s", out)
	}

	e := newEnv(t)
	e.user("alice", "1001", real)
	out := crack(e)
	if strings.Contains(out, real) {
		t.Fatalf("svcrack found the password despite the throttle:\n%s", out)
	}
	if n := counterValue(t, e.srv.m.authFailures.WithLabelValues("throttled")); n < 1 {
		t.Errorf("no throttled attempt counted (svcrack output:\n%s)", out)
	}
	if n := counterValue(t, e.srv.m.authFailures.WithLabelValues("credentials")); n > 5 {
		t.Errorf("%v wrong passwords checked, want at most LinePairFailures (5)", n)
	}
	// The line's owner, from another address, still registers.
	owner := newPhoneAt(t, e, "127.0.0.2", "1001", real)
	if res := owner.register(300); res.StatusCode != 200 {
		t.Errorf("the owner from another address after the attack: %d, want 200", res.StatusCode)
	}
}
