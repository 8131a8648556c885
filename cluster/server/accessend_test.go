//go:build !race

// Built without -race only: see server_test.go.

package server

import (
	"net/http"
	"testing"
	"time"
)

// TestSIPSubscribe_EndsWhenTheSubscribersAccessEnds: a subscription made
// from a line ends with a terminating NOTIFY (reason=rejected) when its
// owner's password or group role changes or the line is deleted; a
// profile edit ends nothing. (Disabling, across three nodes, is
// TestCluster_StreamsAndSubscriptionsEndOnEveryNodeWhenAccessEnds in
// cmd/ucgrid.)
func TestSIPSubscribe_EndsWhenTheSubscribersAccessEnds(t *testing.T) {
	s, admin, _, phone := subFixture(t)
	cases := []struct {
		name  string
		line  string
		cause func()
	}{
		{"password changed", "101", func() {
			admin.must(http.StatusOK, "PUT", "/v1/users/ben", map[string]any{"display_name": "ben", "password": "ben-new-password"}, "")
		}},
		{"group role given", "102", func() {
			admin.must(http.StatusCreated, "PUT", "/v1/groups/ops", map[string]any{"name": "Ops", "active": true,
				"members": []map[string]string{{"user": "carl", "role": "manager"}}}, "")
		}},
		{"line deleted", "103", func() { admin.must(http.StatusNoContent, "DELETE", "/v1/lines/103", nil, "") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Everyone may see their own presence.
			owner := map[string]string{"101": "ben", "102": "carl", "103": "dave"}[tc.line]
			sub, res := phone(tc.line).Subscribe(owner, "presence", 600)
			if res.StatusCode != 200 {
				t.Fatalf("SUBSCRIBE: %v", res)
			}
			if n := sub.Next(subWait); n.State != "active" {
				t.Fatalf("first NOTIFY %s", n.State)
			}
			if tc.name == "password changed" {
				// A profile edit first: nothing ends.
				admin.must(http.StatusOK, "PUT", "/v1/users/ben", map[string]any{"display_name": "Ben B."}, "")
				sub.Quiet(300 * time.Millisecond)
			}
			start := time.Now()
			tc.cause()
			for {
				n := sub.Next(3 * time.Second)
				if n.State == "terminated" {
					if n.Reason != "rejected" {
						t.Errorf("reason %q, want rejected", n.Reason)
					}
					t.Logf("terminated %v after the change was sent", time.Since(start))
					break
				}
			}
		})
	}
	waitSubs(t, s, 0)
}
