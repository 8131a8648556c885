package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// chatFixture: ann has chat as her own service, bob through the active
// group team, cid has none; dan would through the inactive group old.
func chatFixture(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	hash, err := password.Hash(testPassword, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	e.applyCmd(putUser(&dirpb.User{Id: "ann", DisplayName: "Ann", PasswordHash: hash, Services: []string{"chat"}}))
	for _, id := range []string{"bob", "cid", "dan"} {
		e.applyCmd(putUser(&dirpb.User{Id: id, DisplayName: id, PasswordHash: hash}))
	}
	cg := &dirpb.CallGroup{Mode: "disabled", Strategy: "ring_all"}
	e.applyCmd(putGroup(&dirpb.Group{Id: "team", Name: "Team", Active: true, Services: []string{"chat"}, CallGroup: cg,
		Members: []*dirpb.Member{{User: "bob", Role: "user"}}}))
	e.applyCmd(putGroup(&dirpb.Group{Id: "old", Name: "Old", Active: false, Services: []string{"chat"}, CallGroup: cg,
		Members: []*dirpb.Member{{User: "dan", Role: "user"}}}))
	return e
}

type chatPage struct {
	Items []chatMessageJSON `json:"items"`
	Next  string            `json:"next"`
}

func chatTexts(ms []chatMessageJSON) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.From+":"+m.Text)
	}
	return strings.Join(out, ",")
}

// Two users holding chat write each other; both read the same history,
// newest first, paged; the message carries the server's time.
func TestChat_SendAndReadHistory(t *testing.T) {
	e := chatFixture(t)
	r := e.must(http.StatusCreated, as("ann"), "POST", "/v1/chat/bob", map[string]any{"text": "hello\nbob"})
	var m chatMessageJSON
	r.json(t, &m)
	if m.From != "ann" || m.To != "bob" || m.Text != "hello\nbob" || m.ID == "" || r.header.Get(IndexHeader) == "" {
		t.Errorf("sent = %+v", m)
	}
	if sent, err := time.Parse(time.RFC3339Nano, m.Sent); err != nil || !sent.Equal(e.clock.Now()) {
		t.Errorf("sent at %q, want the server's clock %v", m.Sent, e.clock.Now())
	}
	e.clock.Advance(time.Second)
	e.must(http.StatusCreated, as("bob"), "POST", "/v1/chat/ann", map[string]any{"text": "hi"})
	e.must(http.StatusCreated, as("ann"), "POST", "/v1/chat/bob", map[string]any{"text": "how are you?"})

	var a, b chatPage
	e.must(http.StatusOK, as("ann"), "GET", "/v1/chat/bob", nil).json(t, &a)
	e.must(http.StatusOK, as("bob"), "GET", "/v1/chat/ann", nil).json(t, &b)
	want := "ann:how are you?,bob:hi,ann:hello\nbob"
	if chatTexts(a.Items) != want || chatTexts(b.Items) != want {
		t.Errorf("ann sees %q, bob sees %q, want %q", chatTexts(a.Items), chatTexts(b.Items), want)
	}
	var p1, p2 chatPage
	e.must(http.StatusOK, as("ann"), "GET", "/v1/chat/bob?limit=2", nil).json(t, &p1)
	e.must(http.StatusOK, as("ann"), "GET", "/v1/chat/bob?limit=2&after="+url.QueryEscape(p1.Next), nil).json(t, &p2)
	if chatTexts(p1.Items) != "ann:how are you?,bob:hi" || chatTexts(p2.Items) != "ann:hello\nbob" || p2.Next != "" {
		t.Errorf("pages %q | %q (next %q)", chatTexts(p1.Items), chatTexts(p2.Items), p2.Next)
	}
	// cid is in neither conversation: its own with ann is empty.
	var c chatPage
	e.must(http.StatusOK, as("cid"), "GET", "/v1/chat/ann", nil).json(t, &c)
	if len(c.Items) != 0 {
		t.Errorf("cid reads %q", chatTexts(c.Items))
	}
}

// Only holders of the chat service send and receive; an inactive group
// gives nothing. Bad input is 400 naming the field, nothing is stored.
func TestChat_ServiceRequiredAndBadInput(t *testing.T) {
	e := chatFixture(t)
	for _, tc := range []struct{ from, to string }{{"cid", "ann"}, {"ann", "cid"}, {"dan", "ann"}, {"ann", "dan"}} {
		r := e.must(http.StatusForbidden, as(tc.from), "POST", "/v1/chat/"+tc.to, map[string]any{"text": "x"})
		if !strings.Contains(errMessage(t, r), "chat service") {
			t.Errorf("%s → %s: %s", tc.from, tc.to, r)
		}
	}
	for _, tc := range []struct {
		path  string
		body  any
		field string
	}{
		{"/v1/chat/bob", map[string]any{"text": ""}, "text"},
		{"/v1/chat/bob", map[string]any{"text": strings.Repeat("x", 4097)}, "text"},
		{"/v1/chat/bob", map[string]any{"text": "bell\a"}, "text"},
		{"/v1/chat/bob", map[string]any{"text": 5}, "text"},
		{"/v1/chat/ann", map[string]any{"text": "me"}, "user"},
		{"/v1/chat/b%20b", map[string]any{"text": "x"}, "user"},
	} {
		r := e.must(http.StatusBadRequest, as("ann"), "POST", tc.path, tc.body)
		if !strings.HasPrefix(errMessage(t, r), tc.field) {
			t.Errorf("POST %s %v: %s, want a message naming %s", tc.path, tc.body, r, tc.field)
		}
	}
	e.must(http.StatusBadRequest, as("ann"), "POST", "/v1/chat/bob", map[string]any{"text": "x", "to": "cid"})
	e.must(http.StatusNotFound, as("ann"), "POST", "/v1/chat/nobody", map[string]any{"text": "x"})
	e.must(http.StatusNotFound, as("ann"), "GET", "/v1/chat/nobody", nil)
	e.must(http.StatusBadRequest, as("ann"), "GET", "/v1/chat/bob?after=zzz", nil)
	e.must(http.StatusBadRequest, as("ann"), "GET", "/v1/chat/bob?limit=-1", nil)
	e.must(http.StatusUnauthorized, anonymous, "GET", "/v1/chat/bob", nil)
	var p chatPage
	e.must(http.StatusOK, as("ann"), "GET", "/v1/chat/bob", nil).json(t, &p)
	if len(p.Items) != 0 {
		t.Errorf("rejected messages stored: %q", chatTexts(p.Items))
	}
}
