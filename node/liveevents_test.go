//go:build !race

// Built without -race: see server_test.go.

package node

import (
	"net/http"
	"testing"
)

// One change reaches several streams through one hub batch, whose equal
// views share one encoding: each viewer still gets the change exactly as
// their own rights show it (team sees the note, public does not), and
// two streams of the same viewer get the same.
func TestServer_EventsSharedPerViewKeepEachViewersRights(t *testing.T) {
	_, _, anna, ben, carl := liveFixture(t)
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/grants/carl", map[string]any{"level": "public"}, "")
	var streams []*sse
	for _, c := range []client{ben, ben, carl} {
		st, code, body := c.openEvents("?monitor=false&user=anna")
		if code != http.StatusOK {
			t.Fatalf("open: %d %s", code, body)
		}
		st.snapshot()
		streams = append(streams, st)
	}
	steps := []struct {
		state, note string
		carl        bool // the change shows to carl (public: no see_note)
	}{
		{"away", "lunch", true},
		{"away", "meeting", false},
		{"busy", "meeting", true},
	}
	for _, step := range steps {
		anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": step.state, "note": step.note}, "")
		for i, st := range streams {
			want := presenceEvent{User: "anna", Visible: true, State: step.state, Note: step.note}
			if i == 2 {
				if !step.carl {
					continue
				}
				want.Note = ""
			}
			// carl's next event is this one: he was sent nothing for
			// the note he may not see.
			if p := st.nextPresence(); p != want {
				t.Errorf("%s/%s, stream %d: %+v, want %+v", step.state, step.note, i, p, want)
			}
		}
	}
}
