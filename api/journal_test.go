package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// journalFixture: owner "own" in group g with members "mem" (user),
// "mgr" (manager) and "gown" (owner); "lea" leads
// g and "dep" is its deputy (neither a member); "x" is in no group; "sa"
// and "so" hold system roles. own has three entries, one private.
func journalFixture(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	hash, err := password.Hash(testPassword, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	for id, sys := range map[string]string{"own": "", "mem": "", "mgr": "", "gown": "", "lea": "", "dep": "", "x": "", "sa": "system_admin", "so": "system_owner"} {
		e.applyCmd(putUser(&dirpb.User{Id: id, DisplayName: id, PasswordHash: hash, SystemRole: sys}))
	}
	for i, private := range []bool{false, true, false} {
		e.applyCmd(&dirpb.Command{Op: &dirpb.Command_AppendJournal{AppendJournal: &dirpb.AppendJournal{Entry: &dirpb.JournalEntry{
			Id: fmt.Sprintf("e%d", i), Owner: "own", Line: "201", Direction: "in", RemoteNumber: fmt.Sprintf("+49301%d", i),
			StartUnix: 1_800_000_000 + int64(i)*60, Outcome: "answered", Private: private}}}})
	}
	return e
}

func (e *env) putJournalGroup(active, leaderVisible, groupVisible, modifiable bool) {
	e.t.Helper()
	e.applyCmd(putGroup(&dirpb.Group{Id: "g", Name: "G", Active: active, Leader: "lea", Deputy: "dep",
		Members: []*dirpb.Member{{User: "own", Role: "user"}, {User: "mem", Role: "user"}, {User: "mgr", Role: "manager"},
			{User: "gown", Role: "owner"}},
		JournalLeaderVisible: leaderVisible, JournalGroupVisible: groupVisible, JournalModifiable: modifiable,
		CallGroup: &dirpb.CallGroup{Mode: "disabled", Strategy: "ring_all"}}))
}

type journalPage struct {
	Items []journalEntryJSON `json:"items"`
	Next  string             `json:"next"`
}

// Route × caller × group option: who reads which entries of own's journal
// and who may change them; another's private entry is never listed and
// answers a change with the 404 of an unknown id.
func TestJournal_ReadAndModifyRulesPerRoleAndOption(t *testing.T) {
	e := journalFixture(t)
	checked := 0
	for mask := range 16 {
		active, lv, gv, mod := mask&1 != 0, mask&2 != 0, mask&4 != 0, mask&8 != 0
		e.putJournalGroup(active, lv, gv, mod)
		// Group roles (manager, owner) give no journal access of their
		// own: they read as members, through the group's options.
		for _, who := range []string{"own", "lea", "dep", "mem", "mgr", "gown", "x", "sa", "so"} {
			system := who == "sa" || who == "so"
			leads := (who == "lea" || who == "dep") && active && lv
			member := (who == "mem" || who == "mgr" || who == "gown") && active && gv
			read := who == "own" || leads || member || system
			modify := who == "own" || ((leads || member) && mod)
			name := fmt.Sprintf("%s active=%v leader_visible=%v group_visible=%v modifiable=%v", who, active, lv, gv, mod)

			r := e.do(as(who), "GET", "/v1/users/own/journal", nil)
			switch {
			case !read && r.status != http.StatusForbidden:
				t.Errorf("%s: GET %s, want 403", name, r)
			case read && r.status != http.StatusOK:
				t.Errorf("%s: GET %s, want 200", name, r)
			case read:
				var p journalPage
				r.json(t, &p)
				want := "e2,e0"
				if who == "own" {
					want = "e2,e1,e0"
				}
				if got := entryIDs(p.Items); got != want {
					t.Errorf("%s: entries %s, want %s", name, got, want)
				}
			}

			r = e.do(as(who), "PATCH", "/v1/journal/e0", map[string]any{"note": "by " + who})
			wantStatus := map[bool]int{true: http.StatusOK, false: http.StatusForbidden}[modify]
			if !read {
				wantStatus = http.StatusNotFound
			}
			if r.status != wantStatus {
				t.Errorf("%s: PATCH note %s, want %d", name, r, wantStatus)
			}
			r = e.do(as(who), "PATCH", "/v1/journal/e1", map[string]any{"note": "peek"})
			if who != "own" && (r.status != http.StatusNotFound || !strings.Contains(string(r.body), `journal entry \"e1\" does not exist`)) {
				t.Errorf("%s: PATCH of another's private entry %s, want the 404 of an unknown id", name, r)
			}
			if who != "own" && modify {
				if r := e.do(as(who), "PATCH", "/v1/journal/e0", map[string]any{"private": true}); r.status != http.StatusForbidden {
					t.Errorf("%s: marking another's entry private %s, want 403", name, r)
				}
			}
			checked++
		}
	}
	t.Logf("%d caller × option cases", checked)
}

func entryIDs(es []journalEntryJSON) string {
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return strings.Join(ids, ",")
}

// The owner marks an entry private and adds a note; a leader who could
// read it no longer sees it; unmarking shows it again.
func TestJournal_OwnerMarksPrivateAndNotes(t *testing.T) {
	e := journalFixture(t)
	e.putJournalGroup(true, true, false, false)
	r := e.must(http.StatusOK, as("own"), "PATCH", "/v1/journal/e2", map[string]any{"private": true, "note": "doctor"})
	var got journalEntryJSON
	r.json(t, &got)
	if !got.Private || got.Note != "doctor" || got.RemoteNumber != "+493012" || got.Start != "2027-01-15T08:02:00Z" {
		t.Errorf("patched = %+v", got)
	}
	var p journalPage
	e.must(http.StatusOK, as("lea"), "GET", "/v1/users/own/journal", nil, IndexHeader, r.header.Get(IndexHeader)).json(t, &p)
	if ids := entryIDs(p.Items); ids != "e0" {
		t.Errorf("leader sees %s after the owner marked e2 private, want e0", ids)
	}
	e.must(http.StatusOK, as("own"), "PATCH", "/v1/journal/e2", map[string]any{"private": false})
	e.must(http.StatusOK, as("lea"), "GET", "/v1/users/own/journal", nil).json(t, &p)
	if ids := entryIDs(p.Items); ids != "e2,e0" {
		t.Errorf("leader sees %s after unmarking, want e2,e0", ids)
	}
}

// Filters and cursor paging: time range, direction, order, pages without
// gaps or repeats; private entries of another never count.
func TestJournal_FiltersAndPaging(t *testing.T) {
	e := journalFixture(t)
	for i := 3; i < 9; i++ {
		dir := map[bool]string{true: "out", false: "in"}[i%2 == 0]
		e.applyCmd(&dirpb.Command{Op: &dirpb.Command_AppendJournal{AppendJournal: &dirpb.AppendJournal{Entry: &dirpb.JournalEntry{
			Id: fmt.Sprintf("e%d", i), Owner: "own", Direction: dir, StartUnix: 1_800_000_000 + int64(i)*60, Private: i == 5}}}})
	}
	walk := func(who, query string) string {
		var all []string
		after := ""
		for range 20 {
			q := query + "&limit=2"
			if after != "" {
				q += "&after=" + url.QueryEscape(after)
			}
			var p journalPage
			e.must(http.StatusOK, as(who), "GET", "/v1/users/own/journal?"+q, nil).json(t, &p)
			if len(p.Items) > 2 {
				t.Fatalf("page of %d", len(p.Items))
			}
			all = append(all, entryIDs(p.Items))
			if p.Next == "" {
				return strings.Join(all, "|")
			}
			after = p.Next
		}
		t.Fatal("no last page")
		return ""
	}
	for _, tc := range []struct{ who, query, want string }{
		{"own", "order=newest", "e8,e7|e6,e5|e4,e3|e2,e1|e0"},
		{"so", "order=newest", "e8,e7|e6,e4|e3,e2|e0"},
		{"so", "order=oldest&direction=in", "e0,e2|e3,e7"},
		{"own", "from=2027-01-15T08:03:00Z&to=2027-01-15T08:07:00Z", "e6,e5|e4,e3"},
		{"own", "direction=out&order=oldest", "e4,e6|e8"},
		{"own", "from=2030-01-01T00:00:00Z", ""},
	} {
		if got := walk(tc.who, tc.query); got != tc.want {
			t.Errorf("%s ?%s: pages %s, want %s", tc.who, tc.query, got, tc.want)
		}
	}
}

// Bad queries and bodies are 400 naming the field; unknown ids 404.
func TestJournal_BadInput(t *testing.T) {
	e := journalFixture(t)
	for _, tc := range []struct{ path, field string }{
		{"/v1/users/own/journal?from=yesterday", "from"},
		{"/v1/users/own/journal?to=1800000000", "to"},
		{"/v1/users/own/journal?from=2027-01-15T08:03:00Z&to=2027-01-15T08:03:00Z", "to"},
		{"/v1/users/own/journal?from=2027-01-15T09:00:00Z&to=2027-01-15T08:00:00Z", "to"},
		{"/v1/users/own/journal?limit=0", "limit"},
		{"/v1/users/own/journal?limit=1001", "limit"},
		{"/v1/users/own/journal?direction=sideways", "direction"},
		{"/v1/users/own/journal?order=random", "order"},
		{"/v1/users/own/journal?after=not-a-cursor!", "after"},
		{"/v1/users/own/journal?after=" + encodeCursor(1, "bad id with spaces"), "after"},
		{"/v1/users/bad%20id/journal", "id"},
	} {
		r := e.must(http.StatusBadRequest, as("own"), "GET", tc.path, nil)
		if !strings.HasPrefix(errMessage(t, r), tc.field+":") {
			t.Errorf("GET %s: %s, want a message naming %s", tc.path, r, tc.field)
		}
	}
	e.must(http.StatusNotFound, as("own"), "GET", "/v1/users/nobody/journal", nil)
	e.must(http.StatusNotFound, as("own"), "PATCH", "/v1/journal/nothing", map[string]any{"note": "x"})
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "request body"},
		{map[string]any{"note": strings.Repeat("x", maxNote+1)}, "note"},
		{map[string]any{"note": "a\x00b"}, "note"},
		{map[string]any{"private": "yes"}, "private"},
	} {
		r := e.must(http.StatusBadRequest, as("own"), "PATCH", "/v1/journal/e0", tc.body)
		if !strings.HasPrefix(errMessage(t, r), tc.field) {
			t.Errorf("PATCH %v: %s, want a message naming %s", tc.body, r, tc.field)
		}
	}
	e.must(http.StatusBadRequest, as("own"), "PATCH", "/v1/journal/e0", map[string]any{"owner": "x"})
	var p journalPage
	e.must(http.StatusOK, as("own"), "GET", "/v1/users/own/journal", nil).json(t, &p)
	for _, it := range p.Items {
		if it.Note != "" {
			t.Errorf("a rejected PATCH changed %s: %+v", it.ID, it)
		}
	}
}

func errMessage(t *testing.T, r resp) string {
	t.Helper()
	var b errorBody
	r.json(t, &b)
	return b.Error.Message
}
