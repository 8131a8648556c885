//go:build !race

// Built without -race only: see server_test.go.

package node

import (
	"encoding/json"
	"net/http"
	"testing"
)

// Who may see me, and whom may I see, answered by the user grains over
// HTTP: for the user and for those who may preset their rights, refused to
// others, with bad rights named.
func TestServer_AudienceAndReach(t *testing.T) {
	s := startServer(t)
	base := "http://" + s.HTTPAddr()
	admin := client{t, base, AdminID, "admin-secret"}
	admin.must(http.StatusOK, "PUT", "/v1/global", map[string]any{"level": "blocked"}, "")
	for _, u := range []string{"anna", "ben", "carl"} {
		admin.must(http.StatusCreated, "PUT", "/v1/users/"+u, map[string]any{"display_name": u, "password": u + "-password"}, "")
	}
	anna := client{t, base, "anna", "anna-password"}
	ben := client{t, base, "ben", "ben-password"}
	_, idx := anna.must(http.StatusOK, "PUT", "/v1/users/anna/grants/ben", map[string]any{"level": "business"}, "")

	get := func(c client, path string, want int) usersWithRight {
		t.Helper()
		code, body := c.getValid(path, idx)
		if code != want {
			t.Fatalf("GET %s as %s: %d %s, want %d", path, c.user, code, body, want)
		}
		var out usersWithRight
		if code == http.StatusOK {
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	if got := get(anna, "/v1/users/anna/audience", http.StatusOK); got.Everyone || len(got.Users) != 2 || got.Users[0] != "anna" || got.Users[1] != "ben" || got.Right != "see_presence" {
		t.Errorf("anna's audience %+v, want [anna ben]", got)
	}
	if got := get(ben, "/v1/users/ben/reach?right=see_line_state", http.StatusOK); len(got.Users) != 2 || got.Users[0] != "anna" {
		t.Errorf("ben's reach over line state %+v, want [anna ben]", got)
	}
	if got := get(admin, "/v1/users/ben/reach?right=line1_pickup", http.StatusOK); len(got.Users) != 1 || got.Users[0] != "ben" {
		t.Errorf("ben's reach for pickup (business has none) %+v, want only himself", got)
	}
	get(ben, "/v1/users/anna/audience", http.StatusForbidden)
	get(anna, "/v1/users/anna/audience?right=see_everything", http.StatusBadRequest)
	get(admin, "/v1/users/nobody/reach", http.StatusNotFound)
	_, idx = admin.must(http.StatusOK, "PUT", "/v1/global", map[string]any{"level": "public"}, "")
	if got := get(anna, "/v1/users/anna/audience", http.StatusOK); !got.Everyone || len(got.Users) != 0 {
		t.Errorf("with a public global layer anna's audience is %+v, want everyone", got)
	}
}

type usersWithRight struct {
	Right    string   `json:"right"`
	Everyone bool     `json:"everyone"`
	Users    []string `json:"users"`
}
