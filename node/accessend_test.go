//go:build !race

// Built without -race only: see server_test.go.

package node

import (
	"net/http"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/sip/siptest"
)

// TestSIPSubscribe_EndsWhenTheSubscribersAccessEnds: a subscription made
// from a line ends with a terminating NOTIFY (reason=rejected) when its
// owner's password or group role changes, the line is deleted, gets a
// new SIP password or another owner; a profile edit of the user or of
// the line ends nothing. (Disabling, across three nodes, is
// TestCluster_StreamsAndSubscriptionsEndOnEveryNodeWhenAccessEnds in
// cmd/ucgrid.)
func TestSIPSubscribe_EndsWhenTheSubscribersAccessEnds(t *testing.T) {
	s, admin, _, phone := subFixture(t)
	// Secondary lines of ben's that only these cases change.
	for _, n := range []string{"104", "105"} {
		admin.must(http.StatusCreated, "PUT", "/v1/lines/"+n, map[string]any{"owner": "ben", "kind": "secondary",
			"sip_password": "ben-sip-" + n}, "")
	}
	cases := []struct {
		name   string
		line   string
		before func() // a change that ends nothing
		cause  func()
	}{
		{"password changed", "101", func() {
			admin.must(http.StatusOK, "PUT", "/v1/users/ben", map[string]any{"display_name": "Ben B."}, "")
		}, func() {
			admin.must(http.StatusOK, "PUT", "/v1/users/ben", map[string]any{"display_name": "ben", "password": "ben-new-password"}, "")
		}},
		{"group role given", "102", nil, func() {
			admin.must(http.StatusCreated, "PUT", "/v1/groups/ops", map[string]any{"name": "Ops", "active": true,
				"members": []map[string]string{{"user": "carl", "role": "manager"}}}, "")
		}},
		{"line deleted", "103", nil, func() { admin.must(http.StatusNoContent, "DELETE", "/v1/lines/103", nil, "") }},
		{"line's SIP password changed", "104", func() {
			admin.must(http.StatusOK, "PUT", "/v1/lines/104", map[string]any{"owner": "ben", "kind": "secondary", "label": "desk"}, "")
		}, func() {
			admin.must(http.StatusOK, "PUT", "/v1/lines/104", map[string]any{"owner": "ben", "kind": "secondary",
				"sip_password": "ben-sip-104-new"}, "")
		}},
		{"line moved to another owner", "105", nil, func() {
			admin.must(http.StatusOK, "PUT", "/v1/lines/105", map[string]any{"owner": "dave", "kind": "secondary"}, "")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Everyone may see their own presence.
			owner := map[string]string{"101": "ben", "102": "carl", "103": "dave", "104": "ben", "105": "ben"}[tc.line]
			ua := phone(tc.line)
			if tc.line >= "104" {
				ua = siptest.NewUA(t, s.SIPAddr(), defaultSIPDomain, tc.line, "ben-sip-"+tc.line)
			}
			sub, res := ua.Subscribe(owner, "presence", 600)
			if res.StatusCode != 200 {
				t.Fatalf("SUBSCRIBE: %v", res)
			}
			if n := sub.Next(subWait); n.State != "active" {
				t.Fatalf("first NOTIFY %s", n.State)
			}
			if tc.before != nil {
				tc.before()
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
