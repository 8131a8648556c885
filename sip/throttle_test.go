package sip

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Failures are counted per (line, source) hard and per line softly: a
// guesser is stopped on the line from its address, guessing spread over
// addresses guards the line against new addresses only, and the owner's
// phone, which authenticated from its address before, keeps working.
// Other lines are not affected.
func TestAuth_LineGuardStopsGuessersNotTheOwner(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AuthFailures = 100; c.LinePairFailures = 3; c.LineFailures = 4 })
	e.user("alice", "1001", "secret")
	e.user("bob", "2001", "b-pw")
	owner := newPhone(t, e, "1001", "secret")
	if res := owner.register(300); res.StatusCode != 200 {
		t.Fatalf("owner: %d", res.StatusCode)
	}
	guesser := newPhoneAt(t, e, "127.0.0.2", "1001", "secret")
	for i := range 3 {
		if res, _ := guesser.tryRegister("guess", 300); res == nil || res.StatusCode != 403 {
			t.Fatalf("guess %d: %v, want 403", i, res)
		}
	}
	for _, pw := range []string{"guess", "secret"} {
		if res, _ := guesser.tryRegister(pw, 300); res == nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
			t.Fatalf("the guesser after 3 failures, password %q: %v, want 503 with Retry-After", pw, res)
		}
	}
	other := newPhoneAt(t, e, "127.0.0.3", "1001", "secret")
	if res, _ := other.tryRegister("guess", 300); res == nil || res.StatusCode != 403 {
		t.Fatalf("a second guesser's first try: %v, want 403", res)
	}
	// Four failures on the line: it is guarded against new addresses.
	newcomer := newPhoneAt(t, e, "127.0.0.4", "1001", "secret")
	if res, _ := newcomer.tryRegister("secret", 300); res == nil || res.StatusCode != 503 {
		t.Fatalf("a new address with the right password while the line is guarded: %v, want 503", res)
	}
	if res := owner.register(300); res.StatusCode != 200 {
		t.Fatalf("the owner's phone while the line is guarded: %d, want 200", res.StatusCode)
	}
	bob := newPhoneAt(t, e, "127.0.0.2", "2001", "b-pw")
	if res := bob.register(300); res.StatusCode != 200 {
		t.Fatalf("another line from the guesser's address: %d, want 200", res.StatusCode)
	}
	if n := counterValue(t, e.srv.m.authFailures.WithLabelValues("line_guarded")); n != 1 {
		t.Errorf("auth failures line_guarded = %v, want 1", n)
	}
}

// One nonce and nc authenticate one request: of many sent at once with
// the same credentials exactly one is accepted (check and use are one
// step), the others are challenged as stale.
func TestAuth_NonceReplayedConcurrentlyAcceptedOnce(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "secret")
	p := newPhone(t, e, "1001", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := registerRequest(p, 300)
	res, err := p.cli.Do(ctx, first)
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("challenge: %v %v", res, err)
	}
	chal, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	cred, _ := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: first.Recipient.Addr(), Username: "1001", Password: "secret", Cnonce: "c1", Count: 1})
	const n = 48
	var wg sync.WaitGroup
	codes := make(chan int, n)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := registerRequest(p, 300)
			r.AppendHeader(sip.NewHeader("Authorization", cred.String()))
			<-start
			res, err := p.cli.Do(ctx, r)
			if err != nil {
				codes <- 0
				return
			}
			codes <- res.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		switch c {
		case 200:
			ok++
		case 401:
		default:
			t.Errorf("a replay answered %d, want 401", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d requests with one nonce and nc accepted, want 1", ok, n)
	}
}

// The guard's buckets lapse after AuthWindow: a pair blocked for its
// failures, and a line guarded against new addresses, are admitted again
// once the window has passed; the owner's known address is never held.
func TestLineGuard_LapsesAfterAuthWindow(t *testing.T) {
	g, err := newLineGuard(Config{LinePairFailures: 3, LineFailures: 4, AuthWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	g.succeeded("1001", "owner", now)
	for range 3 {
		g.fail("1001", "guesser", now)
	}
	if wait, reason, ok := g.blocked("1001", "guesser", now); !ok || reason != "throttled" || wait != time.Minute {
		t.Fatalf("the guesser after 3 failures: %v %q %v, want blocked (throttled) for 1m", wait, reason, ok)
	}
	g.fail("1001", "second", now)
	if _, reason, ok := g.blocked("1001", "newcomer", now); !ok || reason != "line_guarded" {
		t.Fatalf("a new address on a line with 4 failures: %q %v, want line_guarded", reason, ok)
	}
	if _, _, ok := g.blocked("1001", "owner", now); ok {
		t.Fatal("the owner's address is held by the guard")
	}
	now = now.Add(time.Minute)
	for _, src := range []string{"guesser", "newcomer"} {
		if wait, reason, ok := g.blocked("1001", src, now); ok {
			t.Fatalf("%s after AuthWindow: blocked %v (%s)", src, wait, reason)
		}
	}
}

func TestFailureThrottle_NamesTheField(t *testing.T) {
	for _, c := range []struct {
		limit  int
		window time.Duration
	}{{0, time.Minute}, {-1, time.Minute}, {10, 5}} {
		_, err := failureThrottle("AuthFailures", c.limit, c.window)
		if err == nil || !strings.Contains(err.Error(), "AuthFailures") {
			t.Errorf("limit %d window %v: %v, want an error naming AuthFailures", c.limit, c.window, err)
		}
	}
}
