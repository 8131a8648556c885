//go:build !race

// Built without -race only: see server_test.go.

package node

import (
	"net/http"
	"testing"
	"time"
)

// A ring_all group call answered by one member is journaled for the other
// as "answered elsewhere", with the caller's number: the SIP layer says
// why the leg ended, the line grain writes the entry.
func TestServer_GroupCallJournalsAnsweredElsewhere(t *testing.T) {
	s, admin, _, phone := subFixture(t)
	ben := client{t, "http://" + s.HTTPAddr(), "ben", "ben-password"}
	admin.must(http.StatusCreated, "PUT", "/v1/groups/desk", map[string]any{"name": "Desk", "active": true,
		"members":    []map[string]string{{"user": "anna", "role": "user"}, {"user": "ben", "role": "user"}},
		"call_group": map[string]any{"mode": "sip", "number": "700", "strategy": "ring_all"}}, "")
	annaPhone, benPhone, davePhone := phone("100"), phone("101"), phone("103")
	if res := annaPhone.Register(600); res.StatusCode != 200 {
		t.Fatalf("anna registers: %v", res)
	}
	if res := benPhone.Register(600); res.StatusCode != 200 {
		t.Fatalf("ben registers: %v", res)
	}
	call := davePhone.Call("700")
	var ringA, ringB = <-annaPhone.Incoming, <-benPhone.Incoming
	call.WaitStatus(180, 180, subWait)
	ringA.Answer(200)
	select {
	case <-ringB.Cancelled:
	case <-time.After(subWait):
		t.Fatal("ben's phone was not cancelled when anna answered")
	}
	deadline := time.Now().Add(subWait)
	for {
		out, _ := ben.must(http.StatusOK, "GET", "/v1/users/ben/journal", nil, "")
		items, _ := out["items"].([]any)
		if len(items) == 1 {
			e := items[0].(map[string]any)
			if e["outcome"] != "answered_elsewhere" || e["direction"] != "in" || e["remote_number"] != "103" || e["line"] != "101" {
				t.Fatalf("ben's journal entry %v", e)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ben's journal %v: want the group call answered elsewhere", out)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}
