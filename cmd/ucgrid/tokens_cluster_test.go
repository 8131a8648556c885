package main

import (
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// issueToken signs in on cn with Basic credentials, after cn has applied
// index ("" = no wait), and returns a bearer token and the consistency
// token of its write.
func issueToken(t *testing.T, cn *clusterNode, user, pw, index string) (string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+cn.http+"/v1/tokens", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pw)
	if index != "" {
		req.Header.Set("X-Ucgrid-Index", index)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST /v1/tokens on %s: %v", cn.name, err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /v1/tokens on %s as %s: %d %v", cn.name, user, resp.StatusCode, err)
	}
	index = resp.Header.Get("X-Ucgrid-Index")
	if index == "" {
		t.Fatalf("POST /v1/tokens on %s answered no X-Ucgrid-Index", cn.name)
	}
	return tok.Token, index
}

// wantOnEvery sends GET path with tok and index to every node, once each
// (no retry: the index makes the answer immediate), and wants status.
func wantOnEvery(t *testing.T, c *testCluster, path, tok, index string, status int, what string) {
	t.Helper()
	for _, cn := range c.nodes {
		if code, body, _ := bearerCall(http.MethodGet, cn.http, path, tok, index, nil); code != status {
			t.Errorf("%s: GET %s on %s at index %s: %d %s, want %d", what, path, cn.name, index, code, body, status)
		}
	}
}

// TestCluster_TokenWorksOnEveryNodeAndRevocationEndsItEverywhere: a token
// issued on n1 works on n2 and n3 at once when the request carries the
// issue's index; revoked on n2, it fails on all three; a password change
// on n1 ends another user's token taken on n3, everywhere.
func TestCluster_TokenWorksOnEveryNodeAndRevocationEndsItEverywhere(t *testing.T) {
	c := startCluster(t, 3)
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]

	tok, index := issueToken(t, n1, "admin", testAdminPW, "")
	wantOnEvery(t, c, "/v1/users/admin", tok, index, http.StatusOK, "token issued on n1")

	code, body, revoked := bearerCall(http.MethodDelete, n2.http, "/v1/tokens/current", tok, "", nil)
	if code != http.StatusNoContent || revoked == "" {
		t.Fatalf("DELETE /v1/tokens/current on n2: %d %s (index %q)", code, body, revoked)
	}
	wantOnEvery(t, c, "/v1/users/admin", tok, revoked, http.StatusUnauthorized, "token revoked on n2")

	code, body, created := apiCall(t, http.MethodPut, n1.http, "/v1/users/tess", map[string]any{"display_name": "Tess", "password": "tess-first-pw"})
	if code != http.StatusCreated {
		t.Fatalf("PUT /v1/users/tess: %d %s", code, body)
	}
	tessTok, index := issueToken(t, n3, "tess", "tess-first-pw", created)
	wantOnEvery(t, c, "/v1/users/tess", tessTok, index, http.StatusOK, "tess's token issued on n3")
	code, body, changed := apiCall(t, http.MethodPut, n1.http, "/v1/users/tess", map[string]any{"display_name": "Tess", "password": "tess-second-pw"})
	if code != http.StatusOK {
		t.Fatalf("password change: %d %s", code, body)
	}
	wantOnEvery(t, c, "/v1/users/tess", tessTok, changed, http.StatusUnauthorized, "tess's token after her password changed")
}

// TestCluster_TokenSurvivesNodeRestart: a token is in the directory, not in
// the process: after the node is killed and started again on its data,
// the token still works.
func TestCluster_TokenSurvivesNodeRestart(t *testing.T) {
	c := startCluster(t, 1)
	cn := c.nodes[0]
	tok, index := issueToken(t, cn, "admin", testAdminPW, "")
	wantOnEvery(t, c, "/v1/users/admin", tok, index, http.StatusOK, "before the restart")
	if err := cn.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cn.proc.wait(drainLimit)
	c.start(cn)
	cn.proc.waitServing(clusterStart)
	wantOnEvery(t, c, "/v1/users/admin", tok, "", http.StatusOK, "after the restart")
}
