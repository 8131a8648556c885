//go:build !race

package node

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestServer_ClusterStatusShowsTheSite: GET /v1/cluster, checked against
// openapi.yaml, names the node's --site on its member and in the sites
// list, with the node as the site's voter.
func TestServer_ClusterStatusShowsTheSite(t *testing.T) {
	s := startServerWith(t, func(c *Config) { c.Site = "munich" })
	admin := client{t, "http://" + s.HTTPAddr(), AdminID, "admin-secret"}
	var st struct {
		Members []struct{ Node, Site string }
		Sites   []struct {
			Site    string
			Members []string
			Voters  []string
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := admin.getValid("/v1/cluster", "")
		if code != http.StatusOK {
			t.Fatalf("GET /v1/cluster: %d %s", code, body)
		}
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Members) == 1 && len(st.Sites) == 1 && len(st.Sites[0].Voters) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no member and voter in the status after 10s: %s", body)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	if st.Members[0].Site != "munich" || st.Sites[0].Site != "munich" || st.Sites[0].Members[0] != st.Members[0].Node ||
		st.Sites[0].Voters[0] != st.Members[0].Node {
		t.Errorf("status %+v", st)
	}
}
