package api

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/throttle"
)

// TestHardening_UnauthenticatedRequestsDoNotWaitForAnIndex: naming an
// index far ahead costs a caller without credentials nothing but a 401, at
// once (it used to be held ReadWait before authentication); credentials
// not valid here (yet) wait only while one of MaxPendingTokenWaits slots
// is free, and are answered 401, not 503, when the wait runs out.
func TestHardening_UnauthenticatedRequestsDoNotWaitForAnIndex(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) { c.ReadWait = 2 * time.Second; c.MaxPendingTokenWaits = 1 })
	quick := func(c cred, what string) {
		t.Helper()
		start := time.Now()
		e.must(http.StatusUnauthorized, c, "GET", "/v1/global", nil, IndexHeader, "999999999")
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: answered after %v: it waited for the index", what, took)
		}
	}
	quick(anonymous, "anonymous")
	quick(func(r *http.Request) { r.Header.Set("Authorization", "Negotiate abc") }, "unknown scheme")

	// One unknown token takes the only slot and waits ...
	done := make(chan resp, 1)
	go func() { done <- e.do(bearer("made-up-token"), "GET", "/v1/global", nil, IndexHeader, "999999999") }()
	deadline := time.Now().Add(2 * time.Second)
	for len(e.h.tokenWaits) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling the slot, with a deadline
	}
	if len(e.h.tokenWaits) == 0 {
		t.Fatal("the first unknown token never waited")
	}
	// ... the next ones get their 401 at once.
	quick(bearer("another-made-up-token"), "second unknown token")
	quick(basic("admin", "wrong wrong"), "wrong password")
	if r := <-done; r.status != http.StatusUnauthorized {
		t.Errorf("unknown token after the wait: %s, want 401", r)
	}
	// Authenticated, the wait happens and ends as before.
	start := time.Now()
	r := e.must(http.StatusServiceUnavailable, as("admin"), "GET", "/v1/global", nil, IndexHeader, "999999999")
	if r.errCode() != codeIndexNotYet || time.Since(start) < 1500*time.Millisecond {
		t.Errorf("authenticated wait: %s after %v", r, time.Since(start))
	}
}

func TestHardening_OnlyABearerChallenge(t *testing.T) {
	e := newEnv(t)
	for _, c := range []cred{anonymous, basic("admin", "wrong wrong")} {
		r := e.must(http.StatusUnauthorized, c, "GET", "/v1/global", nil)
		if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != `Bearer realm="ucgrid"` {
			t.Errorf("WWW-Authenticate = %q, want only the Bearer challenge", got)
		}
	}
	e.must(http.StatusOK, as("admin"), "GET", "/v1/global", nil) // Basic still works
}

func TestHardening_BodiesMustBeJSON(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		ct   string
		want int
	}{
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"application/json; charset=UTF-8", 200},
		{"", 415},
		{"text/plain", 415},
		{"application/x-www-form-urlencoded", 415},
		{"application/json; charset=latin1", 415},
		{"application/merge-patch+json", 415},
		{"application/json; boundary=x", 415},
	} {
		r := e.do(as("admin"), "PUT", "/v1/global", `{"level":"business"}`, "Content-Type", tc.ct)
		if r.status != tc.want || (tc.want == 415 && (r.errCode() != codeUnsupportedMTy || !strings.Contains(string(r.body), "Content-Type"))) {
			t.Errorf("Content-Type %q: got %s, want %d naming Content-Type", tc.ct, r, tc.want)
		}
	}
}

// TestHardening_ErrorsEchoAtMost64Characters sends long input wherever
// an error quotes it back.
func TestHardening_ErrorsEchoAtMost64Characters(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("A", 300)
	cases := []struct {
		method, path string
		body         any
	}{
		{"PUT", "/v1/users/x", map[string]any{"language": long}},
		{"PUT", "/v1/users/x", map[string]any{"timezone": long}},
		{"PUT", "/v1/users/x", map[string]any{"system_role": long}},
		{"PUT", "/v1/users/x", `{"` + long + `":1}`},
		{"PUT", "/v1/users/" + long, map[string]any{}},
		{"GET", "/v1/users/" + strings.Repeat("a", 128), nil},
		{"GET", "/v1/global?index=" + long, nil},
		{"GET", "/v1/users?after=x&limit=" + long, nil},
		{"PUT", "/v1/groups/g", map[string]any{"call_group": map[string]any{"mode": long}}},
		{"PUT", "/v1/trunks/t", map[string]any{"addresses": []string{long}}},
		{"PUT", "/v1/lines/100", map[string]any{"owner": strings.Repeat("b", 128)}},
		{"GET", "/v1/" + long, nil},
	}
	for _, tc := range cases {
		r := e.do(as("admin"), tc.method, tc.path, tc.body)
		if r.status < 400 {
			t.Errorf("%s %.40s: %s, want an error", tc.method, tc.path, r)
			continue
		}
		for _, run := range []string{strings.Repeat("A", 65), strings.Repeat("a", 65), strings.Repeat("b", 65)} {
			if strings.Contains(string(r.body), run) {
				t.Errorf("%s %.40s: the error echoes more than 64 characters: %s", tc.method, tc.path, r)
			}
		}
	}
	if got := clip(strings.Repeat("é", 100)); got != strings.Repeat("é", 64)+"…" {
		t.Errorf("clip cuts inside characters: %q", got)
	}
	if got := clipQuoted(`user "` + long + `" and "short"`); got != `user "`+strings.Repeat("A", 64)+`…" and "short"` {
		t.Errorf("clipQuoted = %q", got)
	}
}

func TestHardening_ClientAddrTrustsOnlyConfiguredProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	cases := []struct {
		name, peer string
		xff        []string
		proxies    []netip.Prefix
		want       string
	}{
		{"no proxies: the peer", "203.0.113.9:5000", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"untrusted peer spoofs", "203.0.113.9:5000", []string{"198.51.100.1"}, trusted, "203.0.113.9"},
		{"trusted peer, one hop", "10.1.1.1:5000", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"client prepends a forged hop", "10.1.1.1:5000", []string{"1.2.3.4, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"two trusted proxies", "10.1.1.1:5000", []string{"198.51.100.1, 10.2.2.2"}, trusted, "198.51.100.1"},
		{"header split over lines", "10.1.1.1:5000", []string{"1.2.3.4", "198.51.100.1"}, trusted, "198.51.100.1"},
		{"garbage hop stops the walk", "10.1.1.1:5000", []string{"198.51.100.1, junk, 10.2.2.2"}, trusted, "10.2.2.2"},
		{"no header from a proxy", "10.1.1.1:5000", nil, trusted, "10.1.1.1"},
		{"IPv6 proxy", "[2001:db8::1]:5000", []string{"2001:db8:ffff::1, 192.0.2.44"}, trusted, "192.0.2.44"},
		{"mapped IPv4 peer", "[::ffff:10.1.1.1]:5000", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/global", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add(ForwardedForHeader, v)
			}
			cfg := HandlerConfig{TrustedProxies: tc.proxies}
			if got := cfg.clientAddr(r); got != tc.want {
				t.Errorf("clientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHardening_ParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,")
	if err != nil || len(got) != 3 || got[1].String() != "192.0.2.7/32" {
		t.Fatalf("ParseTrustedProxies = %v, %v", got, err)
	}
	if _, err := ParseTrustedProxies("10.0.0.0/8,nonsense"); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("error does not name the item: %v", err)
	}
}

// throttledEnv trusts the loopback test client as a proxy, so that
// X-Forwarded-For gives each request the source address the test wants.
func throttledEnv(t *testing.T, tweak func(*HandlerConfig)) *env {
	return newEnv(t, func(c *HandlerConfig) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		c.PairThrottle = throttle.Config{Burst: 3, Every: 30 * time.Second, MaxKeys: 100}
		c.UserThrottle = throttle.Config{Burst: 8, Every: 10 * time.Second, MaxKeys: 100}
		c.AddressThrottle = throttle.Config{Burst: 50, Every: time.Second, MaxKeys: 100}
		if tweak != nil {
			tweak(c)
		}
	})
}

func from(addr string) []string { return []string{ForwardedForHeader, addr} }

// TestHardening_ThrottleBacksOffTheGuesserNotTheUser: guesses from one
// address lock out that (user, address) pair; the user signs in from
// elsewhere.
func TestHardening_ThrottleBacksOffTheGuesserNotTheUser(t *testing.T) {
	e := throttledEnv(t, nil)
	e.seedUser("bob", "")
	for range 3 {
		e.must(http.StatusUnauthorized, basic("bob", "guess-guess"), "GET", "/v1/global", nil, from("203.0.113.66")...)
	}
	e.must(http.StatusTooManyRequests, as("bob"), "GET", "/v1/global", nil, from("203.0.113.66")...)
	e.must(http.StatusOK, as("bob"), "GET", "/v1/global", nil, from("198.51.100.10")...)
	// The guesser's address may still sign in as someone else.
	e.must(http.StatusOK, as("admin"), "GET", "/v1/global", nil, from("203.0.113.66")...)
}

// TestHardening_PerUserCeilingSparesKnownAddresses: guesses spread over
// many addresses hit the per-user ceiling, which holds new addresses but
// not one the user signed in from before.
func TestHardening_PerUserCeilingSparesKnownAddresses(t *testing.T) {
	e := throttledEnv(t, nil)
	e.seedUser("bob", "")
	e.must(http.StatusOK, as("bob"), "GET", "/v1/global", nil, from("198.51.100.10")...)
	for i := range 8 {
		addr := "203.0.113." + itoa(i+1)
		e.must(http.StatusUnauthorized, basic("bob", "guess-guess"), "GET", "/v1/global", nil, from(addr)...)
	}
	e.must(http.StatusTooManyRequests, as("bob"), "GET", "/v1/global", nil, from("203.0.113.200")...)
	e.must(http.StatusOK, as("bob"), "GET", "/v1/global", nil, from("198.51.100.10")...)
}

// TestHardening_SpoofedForwardedForFromUntrustedPeer: without trusted
// proxies, a client that changes X-Forwarded-For on every guess is
// still one address.
func TestHardening_SpoofedForwardedForFromUntrustedPeer(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) {
		c.PairThrottle = throttle.Config{Burst: 3, Every: 30 * time.Second, MaxKeys: 100}
	})
	e.seedUser("bob", "")
	for i := range 3 {
		e.must(http.StatusUnauthorized, basic("bob", "guess-guess"), "GET", "/v1/global", nil, from("203.0.113."+itoa(i+1))...)
	}
	e.must(http.StatusTooManyRequests, as("bob"), "GET", "/v1/global", nil, from("198.51.100.99")...)
}

func TestHardening_TrunksRejectWideRanges(t *testing.T) {
	e := newEnv(t)
	for i, a := range []string{"0.0.0.0/0", "10.0.0.0/8", "::/0", "2001:db8::/32", "::ffff:0.0.0.0/96"} {
		r := e.must(http.StatusBadRequest, as("admin"), "PUT", "/v1/trunks/wide", map[string]any{"addresses": []string{"192.0.2.0/24", a}})
		if r.errCode() != codeInvalid || !strings.Contains(string(r.body), "addresses[1]") {
			t.Errorf("%d %s: %s, want 400 naming addresses[1]", i, a, r)
		}
	}
	e.must(http.StatusNotFound, as("admin"), "GET", "/v1/trunks/wide", nil)
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/trunks/narrow", map[string]any{"addresses": []string{"198.51.100.0/16", "2001:db8:1::/48"}})

	wide := newEnv(t, func(c *HandlerConfig) { c.AllowWideTrunks = true })
	wide.must(http.StatusCreated, as("admin"), "PUT", "/v1/trunks/wide", map[string]any{"addresses": []string{"0.0.0.0/0"}})
}
