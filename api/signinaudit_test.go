package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testlog"
)

// logLines is a slog JSON sink the test can read back.
type logLines struct{ testlog.Buffer }

// records returns the logged records with message msg.
func (l *logLines) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		var rec map[string]any
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// A security officer sees who is guessing: a burst of failed sign-ins
// from one client (behind a trusted proxy) gives one WARN line naming
// the claimed user and the forwarded address, then nothing for a minute;
// the next line counts what was left out. No password is ever logged.
func TestSigninAudit_OneLinePerAddressPerMinuteWithForwardedAddress(t *testing.T) {
	logs := &logLines{}
	e := throttledEnv(t, func(c *HandlerConfig) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	e.seedUser("bob", "")
	const guess = "guess-Secret-1234"
	for range 10 { // 3 wrong passwords, then the pair throttle refuses
		r := e.do(basic("bob", guess), "GET", "/v1/global", nil, from("203.0.113.66")...)
		if r.status != http.StatusUnauthorized && r.status != http.StatusTooManyRequests {
			t.Fatalf("guess: %s", r)
		}
	}
	long := strings.Repeat("x", 200)
	e.must(http.StatusUnauthorized, basic(long, guess), "GET", "/v1/global", nil, from("198.51.100.7")...)
	e.must(http.StatusOK, as("bob"), "GET", "/v1/global", nil, from("198.51.100.10")...)

	recs := logs.records(t, "sign-in failed")
	if len(recs) != 2 {
		t.Fatalf("%d sign-in failure lines, want 2 (one per address):\n%s", len(recs), logs)
	}
	first := recs[0]
	if first["level"] != "WARN" || first["user"] != "bob" || first["addr"] != "203.0.113.66" ||
		first["reason"] != auditBadCredentials || first["suppressed"] != 0.0 {
		t.Errorf("first line %v, want WARN bob from the forwarded 203.0.113.66, bad_credentials, 0 suppressed", first)
	}
	if u := recs[1]["user"].(string); u != strings.Repeat("x", maxEcho)+"…" || recs[1]["addr"] != "198.51.100.7" {
		t.Errorf("second line %v, want the user id clipped to %d characters", recs[1], maxEcho)
	}

	// A minute later the next failure from the guesser is logged with the
	// count of the 9 failures (wrong passwords and throttled) left out.
	e.clock.Advance(61 * time.Second)
	e.must(http.StatusUnauthorized, basic("bob", guess), "GET", "/v1/global", nil, from("203.0.113.66")...)
	recs = logs.records(t, "sign-in failed")
	if len(recs) != 3 || recs[2]["addr"] != "203.0.113.66" || recs[2]["suppressed"] != 9.0 {
		t.Fatalf("after a minute: %v, want a third line for 203.0.113.66 with 9 suppressed", recs)
	}
	if s := logs.String(); strings.Contains(s, guess) || strings.Contains(s, testPassword) {
		t.Errorf("a password reached the log:\n%s", s)
	}
}

// Past maxAddrs, new addresses share one overflow line per window, and
// forgotten addresses still report their suppressed failures.
func TestSigninAudit_BoundedAddresses(t *testing.T) {
	logs := &logLines{}
	a := newSigninAudit(slog.New(slog.NewJSONHandler(logs, nil)), time.Minute, 2)
	now := time.Unix(1000, 0)
	a.failed("u", "192.0.2.1", auditBadCredentials, now)
	a.failed("u", "192.0.2.1", auditBadCredentials, now) // suppressed
	a.failed("u", "192.0.2.2", auditBadCredentials, now)
	for i := range 50 {
		a.failed("u", "192.0.2."+itoa(10+i), auditBadCredentials, now.Add(time.Second))
	}
	recs := logs.records(t, "sign-in failed")
	if len(recs) != 3 || recs[2]["addr"] != auditOverflow {
		t.Fatalf("lines %v, want two addresses and one overflow line", recs)
	}
	// A window later, the full map is pruned: the left-out failures of
	// 192.0.2.1 and of the overflow are reported, and a new address gets
	// its own line.
	a.failed("u", "192.0.2.99", auditBadCredentials, now.Add(2*time.Minute))
	got := map[any]any{}
	for _, f := range logs.records(t, "sign-in failures not logged") {
		got[f["addr"]] = f["suppressed"]
	}
	if len(got) != 2 || got["192.0.2.1"] != 1.0 || got[auditOverflow] != 49.0 {
		t.Errorf("forgotten: %v, want 192.0.2.1 with 1 suppressed and the overflow with 49", got)
	}
	if recs := logs.records(t, "sign-in failed"); recs[len(recs)-1]["addr"] != "192.0.2.99" {
		t.Errorf("after pruning: %v, want a line for 192.0.2.99", recs)
	}
	if a.tracked() > 2 {
		t.Errorf("%d addresses tracked, want at most 2", a.tracked())
	}
}
