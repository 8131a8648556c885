package api

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/api/tokens"
	"github.com/ucgrid/ucgrid/internal/throttle"
)

func TestAuth_RequiresCredentials(t *testing.T) {
	e := newEnv(t)
	r := e.must(http.StatusUnauthorized, anonymous, "GET", "/v1/global", nil)
	if r.header.Get("WWW-Authenticate") == "" || r.errCode() != codeUnauthorized {
		t.Errorf("401 without challenge: %s %v", r, r.header)
	}
	e.must(http.StatusUnauthorized, func(r *http.Request) { r.Header.Set("Authorization", "Digest x") }, "GET", "/v1/global", nil)
}

func TestAuth_NoUserEnumeration(t *testing.T) {
	e := newEnv(t)
	unknown := e.must(http.StatusUnauthorized, basic("nobody", "whatever-pw"), "GET", "/v1/global", nil)
	wrong := e.must(http.StatusUnauthorized, basic("admin", "whatever-pw"), "GET", "/v1/global", nil)
	if string(unknown.body) != string(wrong.body) {
		t.Errorf("unknown user answers %s, wrong password %s", unknown.body, wrong.body)
	}
}

func TestAuth_DisabledUserCannotSignIn(t *testing.T) {
	e := newEnv(t)
	e.seedUser("bob", "")
	var tok tokenJSON
	e.must(http.StatusCreated, as("bob"), "POST", "/v1/tokens", nil).json(t, &tok)
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bob", "disabled": true})
	wrong := e.must(http.StatusUnauthorized, basic("bob", "not-his-pw"), "GET", "/v1/global", nil)
	disabled := e.must(http.StatusUnauthorized, as("bob"), "GET", "/v1/global", nil)
	if string(wrong.body) != string(disabled.body) {
		t.Errorf("disabled user is told apart: %s vs %s", disabled.body, wrong.body)
	}
	e.must(http.StatusUnauthorized, bearer(tok.Token), "GET", "/v1/global", nil)
}

func TestAuth_TokensExpireAndRevoke(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) { c.Tokens = tokens.Config{TTL: time.Hour, MaxPerUser: 10} })
	e.seedUser("bob", "")
	var tok, tok2 tokenJSON
	e.must(http.StatusCreated, as("bob"), "POST", "/v1/tokens", nil).json(t, &tok)
	if !tok.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("expires_at = %v", tok.ExpiresAt)
	}
	e.must(http.StatusOK, bearer(tok.Token), "GET", "/v1/users/bob", nil)
	e.must(http.StatusCreated, bearer(tok.Token), "POST", "/v1/tokens", nil).json(t, &tok2)
	// Someone else's token is not yours to revoke (and looks unknown).
	e.seedUser("eve", "")
	e.must(http.StatusNotFound, as("eve"), "DELETE", "/v1/tokens/"+tok2.Token, nil)
	e.must(http.StatusNoContent, bearer(tok.Token), "DELETE", "/v1/tokens/current", nil)
	e.must(http.StatusUnauthorized, bearer(tok.Token), "GET", "/v1/users/bob", nil)
	e.must(http.StatusBadRequest, as("bob"), "DELETE", "/v1/tokens/current", nil)
	e.must(http.StatusNoContent, as("bob"), "DELETE", "/v1/tokens/"+tok2.Token, nil)
	e.must(http.StatusNotFound, as("bob"), "DELETE", "/v1/tokens/"+tok2.Token, nil)
	// Expiry.
	e.must(http.StatusCreated, as("bob"), "POST", "/v1/tokens", nil).json(t, &tok)
	e.clock.Advance(time.Hour)
	e.must(http.StatusUnauthorized, bearer(tok.Token), "GET", "/v1/users/bob", nil)
}

func TestAuth_FailedSignInsAreThrottledPerUserAndAddress(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) {
		c.UserThrottle = throttle.Config{Burst: 3, Every: 10 * time.Second, MaxKeys: 100}
		c.AddressThrottle = throttle.Config{Burst: 5, Every: time.Second, MaxKeys: 100}
	})
	e.seedUser("bob", "")
	for range 3 {
		e.must(http.StatusUnauthorized, basic("bob", "guess-guess"), "GET", "/v1/global", nil)
	}
	r := e.must(http.StatusTooManyRequests, as("bob"), "GET", "/v1/global", nil)
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs != 10 {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	// An unknown user is throttled the same way (no enumeration by 429).
	for range 2 {
		e.must(http.StatusUnauthorized, basic("ghost", "guess-guess"), "GET", "/v1/global", nil)
	}
	// The address has now failed 5 times: everyone from it waits.
	e.must(http.StatusTooManyRequests, as("admin"), "GET", "/v1/global", nil)
	e.clock.Advance(time.Second)
	e.must(http.StatusOK, as("admin"), "GET", "/v1/global", nil)
	e.clock.Advance(10 * time.Second)
	e.must(http.StatusOK, as("bob"), "GET", "/v1/global", nil)
}
