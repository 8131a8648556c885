package actors

import (
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// A chat message reaches every session of its recipient and of its
// sender, and nobody else's.
func TestHub_DeliverChatToBothUsersOnly(t *testing.T) {
	h, _ := startPlainHub(t)
	ann1, ann2, bob, cid := h.Open("ann", 4), h.Open("ann", 4), h.Open("bob", 4), h.Open("cid", 4)
	m := &dirpb.ChatMessage{Id: "m1", From: "ann", To: "bob", Text: "hi"}
	h.DeliverChat(m)
	for _, tc := range []struct {
		s      *Session
		target string
	}{{bob, "ann"}, {ann1, "bob"}, {ann2, "bob"}} {
		select {
		case ev := <-tc.s.Events:
			if ev.Chat != m || ev.Target != tc.target {
				t.Errorf("%s got %+v", tc.s.Viewer, ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s got no chat event", tc.s.Viewer)
		}
	}
	select {
	case ev := <-cid.Events:
		t.Errorf("cid got %+v", ev)
	default:
	}
}
