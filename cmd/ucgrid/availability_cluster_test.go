package main

import (
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
)

// TestCluster_MemberLogoutAndForwardingSurviveRestart: a member's logout
// and a line's busy forwarding are in the directory, not in the process:
// after the node is killed and started again on its data, the group
// still shows the member logged out and the line still forwards.
func TestCluster_MemberLogoutAndForwardingSurviveRestart(t *testing.T) {
	c := startCluster(t, 1)
	cn := c.nodes[0]
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPut, "/v1/users/anna", map[string]any{"display_name": "Anna"}},
		{http.MethodPut, "/v1/lines/201", map[string]any{"owner": "anna"}},
		{http.MethodPut, "/v1/groups/sales", map[string]any{"name": "Sales", "active": true,
			"members":    []map[string]any{{"user": "anna", "role": "user"}},
			"call_group": map[string]any{"mode": "sip", "number": "700"}}},
		{http.MethodPut, "/v1/groups/sales/members/anna/availability", map[string]any{"logged_in": false}},
		{http.MethodPut, "/v1/lines/201/forwarding", map[string]any{"busy": "700"}},
	} {
		if code, body, _ := apiCall(t, req.method, cn.http, req.path, req.body); code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("%s %s: %d %s", req.method, req.path, code, body)
		}
	}
	if err := cn.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cn.proc.wait(drainLimit)
	c.start(cn)
	cn.proc.waitServing(clusterStart)

	var g struct {
		Members []struct {
			User      string `json:"user"`
			LoggedOut bool   `json:"logged_out"`
		} `json:"members"`
	}
	code, body, _ := apiCall(t, http.MethodGet, cn.http, "/v1/groups/sales", nil)
	if err := json.Unmarshal([]byte(body), &g); code != http.StatusOK || err != nil || len(g.Members) != 1 || !g.Members[0].LoggedOut {
		t.Errorf("group after restart: %d %s, want anna logged out", code, body)
	}
	var f struct {
		Busy string `json:"busy"`
	}
	code, body, _ = apiCall(t, http.MethodGet, cn.http, "/v1/lines/201/forwarding", nil)
	if err := json.Unmarshal([]byte(body), &f); code != http.StatusOK || err != nil || f.Busy != "700" {
		t.Errorf("forwarding after restart: %d %s, want busy 700", code, body)
	}
}
