package api

import (
	"net/http"
	"strconv"
	"testing"
)

func TestTokens_IssueAndRevokeAnswerTheIndex(t *testing.T) {
	e := newEnv(t)
	e.seedUser("bob", "")
	var tok tokenJSON
	r := e.must(http.StatusCreated, as("bob"), "POST", "/v1/tokens", nil)
	r.json(t, &tok)
	issued, err := strconv.ParseUint(r.header.Get(IndexHeader), 10, 64)
	if err != nil || issued == 0 {
		t.Fatalf("POST /v1/tokens answered %s %q", IndexHeader, r.header.Get(IndexHeader))
	}
	// The token with its index: what another node would be sent.
	e.must(http.StatusOK, bearer(tok.Token), "GET", "/v1/users/bob", nil, IndexHeader, strconv.FormatUint(issued, 10))
	r = e.must(http.StatusNoContent, bearer(tok.Token), "DELETE", "/v1/tokens/current", nil)
	if revoked, err := strconv.ParseUint(r.header.Get(IndexHeader), 10, 64); err != nil || revoked <= issued {
		t.Errorf("revocation answered %s %q, want an index after %d", IndexHeader, r.header.Get(IndexHeader), issued)
	}
	e.must(http.StatusUnauthorized, bearer(tok.Token), "GET", "/v1/users/bob", nil)
}

func TestTokens_SignOutEverywhere(t *testing.T) {
	e := newEnv(t)
	e.seedUser("bob", "")
	e.seedUser("amy", "")
	var b1, b2, a1 tokenJSON
	e.must(http.StatusCreated, as("bob"), "POST", "/v1/tokens", nil).json(t, &b1)
	e.must(http.StatusCreated, as("bob"), "POST", "/v1/tokens", nil).json(t, &b2)
	e.must(http.StatusCreated, as("amy"), "POST", "/v1/tokens", nil).json(t, &a1)
	e.must(http.StatusNoContent, bearer(b1.Token), "DELETE", "/v1/tokens/all", nil)
	e.must(http.StatusUnauthorized, bearer(b1.Token), "GET", "/v1/users/bob", nil)
	e.must(http.StatusUnauthorized, bearer(b2.Token), "GET", "/v1/users/bob", nil)
	e.must(http.StatusOK, bearer(a1.Token), "GET", "/v1/users/amy", nil)
	// With Basic credentials too, and with no token left.
	e.must(http.StatusNoContent, as("bob"), "DELETE", "/v1/tokens/all", nil)
}

func TestTokens_DeletedUserIsSignedOut(t *testing.T) {
	e := newEnv(t)
	e.seedUser("bob", "")
	var tok tokenJSON
	e.must(http.StatusCreated, as("bob"), "POST", "/v1/tokens", nil).json(t, &tok)
	e.must(http.StatusNoContent, as("admin"), "DELETE", "/v1/users/bob", nil)
	e.must(http.StatusUnauthorized, bearer(tok.Token), "GET", "/v1/global", nil)
	// A user of the same id created later does not inherit the token.
	e.seedUser("bob", "")
	e.must(http.StatusUnauthorized, bearer(tok.Token), "GET", "/v1/global", nil)
}
