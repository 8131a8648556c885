//go:build !race

// Built without -race: see server_test.go.

package node

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// nextChat skips to the next chat event.
func (s *sse) nextChat() map[string]any {
	s.t.Helper()
	for {
		ev := s.next()
		if ev.event != "chat" {
			continue
		}
		checkSchema(s.t, "ChatMessage", ev.data)
		var m map[string]any
		if err := json.Unmarshal(ev.data, &m); err != nil {
			s.t.Fatal(err)
		}
		return m
	}
}

// A chat message is pushed on the event streams of its recipient and its
// sender, as stored; nobody else's stream sees it.
func TestServer_ChatDeliveredLiveToBothUsers(t *testing.T) {
	_, admin, anna, ben, carl := liveFixture(t)
	admin.must(http.StatusOK, "PUT", "/v1/global", map[string]any{"level": "blocked", "services": []string{"chat"}}, "")
	streams := map[string]*sse{}
	for name, c := range map[string]client{"anna": anna, "ben": ben, "carl": carl} {
		st, code, body := c.openEvents("?monitor=false")
		if code != http.StatusOK {
			t.Fatalf("%s open: %d %s", name, code, body)
		}
		st.snapshot()
		streams[name] = st
	}
	sent, _ := anna.must(http.StatusCreated, "POST", "/v1/chat/ben", map[string]any{"text": "lunch?"}, "")
	for _, who := range []string{"ben", "anna"} {
		m := streams[who].nextChat()
		if m["id"] != sent["id"] || m["from"] != "anna" || m["to"] != "ben" || m["text"] != "lunch?" || m["sent"] != sent["sent"] {
			t.Errorf("%s got %v, want %v", who, m, sent)
		}
	}
	// carl's stream: the next thing it shows is his own presence change,
	// not the chat.
	carl.must(http.StatusOK, "PUT", "/v1/users/carl/presence", map[string]any{"state": "busy"}, "")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		ev := streams["carl"].next()
		if ev.event == "chat" {
			t.Fatalf("carl got %s", ev.data)
		}
		if ev.event == "presence" {
			break
		}
	}
	page, _ := ben.must(http.StatusOK, "GET", "/v1/chat/anna", nil, "")
	if items, _ := page["items"].([]any); len(items) != 1 {
		t.Errorf("ben's history with anna: %v", page)
	}
}
