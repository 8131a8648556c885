//go:build !race

// Built without -race: see server_test.go.

package node

import (
	"net/http"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
)

// A call reported to a line grain ends up in the owner's journal, read
// over HTTP by the owner and by a system role, refused to a colleague
// without a journal option, until the group shows journals to members;
// a call on the private line is in nobody's journal.
func TestServer_CallsReachTheJournalAsTheRulesAllow(t *testing.T) {
	s, admin, anna, ben, _ := liveFixture(t)
	admin.must(http.StatusCreated, "PUT", "/v1/lines/201", map[string]any{"owner": "anna", "kind": "primary"}, "")
	admin.must(http.StatusCreated, "PUT", "/v1/lines/299", map[string]any{"owner": "anna", "kind": "secondary", "private": true}, "")
	at := time.Date(2027, 5, 3, 10, 0, 0, 0, time.UTC).UnixMilli()
	for _, line := range []string{"201", "299"} {
		lineCall(t, s, line, &actorspb.LineCall{CallId: "call-" + line, Phase: "ringing", Remote: "+4930777", AtUnixMs: at})
		lineCall(t, s, line, &actorspb.LineCall{CallId: "call-" + line, Phase: "answered", Remote: "+4930777", AtUnixMs: at + 4_000})
		lineCall(t, s, line, &actorspb.LineCall{CallId: "call-" + line, Phase: "ended", Remote: "+4930777", AtUnixMs: at + 94_000})
	}
	code, page := anna.getValid("/v1/users/anna/journal", "")
	if code != http.StatusOK {
		t.Fatalf("anna reads her journal: %d %s", code, page)
	}
	// The line grain commits the entry after it has answered the end.
	var out map[string]any
	var items []any
	for deadline := time.Now().Add(5 * time.Second); len(items) == 0 && time.Now().Before(deadline); {
		out, _ = anna.must(http.StatusOK, "GET", "/v1/users/anna/journal", nil, "")
		if items, _ = out["items"].([]any); len(items) == 0 {
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	if len(items) != 1 {
		t.Fatalf("anna's journal %v: want the one call on 201 (299 is private)", out)
	}
	e := items[0].(map[string]any)
	if e["line"] != "201" || e["outcome"] != "answered" || e["ring_s"] != 4.0 || e["talk_s"] != 90.0 ||
		e["start"] != "2027-05-03T10:00:00Z" || e["remote_number"] != "+4930777" || e["direction"] != "in" {
		t.Errorf("entry %v", e)
	}
	admin.must(http.StatusOK, "GET", "/v1/users/anna/journal", nil, "")
	ben.must(http.StatusForbidden, "GET", "/v1/users/anna/journal", nil, "")
	_, idx := admin.must(http.StatusOK, "PUT", "/v1/groups/sales", map[string]any{"name": "Sales", "active": true,
		"journal_group_visible": true, "members": []map[string]string{{"user": "anna", "role": "user"}, {"user": "ben", "role": "user"}, {"user": "carl", "role": "user"}}}, "")
	out, _ = ben.must(http.StatusOK, "GET", "/v1/users/anna/journal", nil, idx)
	if items, _ := out["items"].([]any); len(items) != 1 {
		t.Errorf("ben reads %v", out)
	}
	ben.must(http.StatusForbidden, "PATCH", "/v1/journal/"+e["id"].(string), map[string]any{"note": "x"}, "")
}
