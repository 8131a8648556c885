package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// fakeSync stands in for ldapsync.Runner.
type fakeSync struct {
	dryRun []bool
	res    DirectorySyncResult
	err    error
}

func (f *fakeSync) SyncDirectory(_ context.Context, dryRun bool) (DirectorySyncResult, error) {
	f.dryRun = append(f.dryRun, dryRun)
	return f.res, f.err
}

func TestLDAP_StatusShownToSystemRolesOnly(t *testing.T) {
	e := newEnv(t)
	e.seedUser("bob", "")
	var out ldapStatusJSON
	e.must(http.StatusOK, as("admin"), "GET", "/v1/ldap/status", nil).json(t, &out)
	if out.Configured || out.Status != nil {
		t.Fatalf("status without a sync = %+v, want not configured, null", out)
	}
	e.must(http.StatusForbidden, as("bob"), "GET", "/v1/ldap/status", nil)
	e.must(http.StatusForbidden, as("bob"), "POST", "/v1/ldap/sync", map[string]any{"dry_run": true})
	if r := e.must(http.StatusNotFound, as("admin"), "POST", "/v1/ldap/sync", map[string]any{}); !strings.Contains(r.String(), "--ldap-config") {
		t.Fatalf("unconfigured sync answered %s, want the flag named", r)
	}

	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutDirectorySyncStatus{PutDirectorySyncStatus: &dirpb.PutDirectorySyncStatus{
		Status: &dirpb.DirectorySyncStatus{Node: "n1", StartedUnix: start.Unix(), FinishedUnix: start.Unix() + 2,
			Created: 3, Problems: []string{"uid=x,dc=example,dc=com: duplicate id"}, IntervalS: 900, Source: "ldap://dc1 dc=example,dc=com"}}}})
	raw := e.must(http.StatusOK, as("admin"), "GET", "/v1/ldap/status", nil)
	for _, want := range []string{`"started_at":"2026-03-02T09:00:00Z"`, `"finished_at":"2026-03-02T09:00:02Z"`, `"created":3`,
		`"interval_s":900`, `"problems":["uid=x,dc=example,dc=com: duplicate id"]`, `"node":"n1"`, `"error":""`} {
		if !strings.Contains(raw.String(), want) {
			t.Errorf("status %s lacks %s", raw, want)
		}
	}
}

func TestLDAP_SyncAnswersStatusAndPlan(t *testing.T) {
	f := &fakeSync{res: DirectorySyncResult{
		Status:  &dirpb.DirectorySyncStatus{Node: "n1", StartedUnix: 1, FinishedUnix: 2, DryRun: true, Created: 1},
		Actions: []DirectorySyncAction{{Op: "create", Kind: "user", ID: "anna", DN: "uid=anna,dc=example,dc=com"}},
	}}
	e := newEnv(t, func(c *HandlerConfig) { c.DirectorySync = f })
	var out ldapSyncJSON
	e.must(http.StatusOK, as("admin"), "POST", "/v1/ldap/sync", map[string]any{"dry_run": true}).json(t, &out)
	if len(f.dryRun) != 1 || !f.dryRun[0] {
		t.Fatalf("the service was asked %v, want one dry run", f.dryRun)
	}
	if !out.Status.DryRun || out.Status.Created != 1 || len(out.Plan) != 1 || out.Plan[0].ID != "anna" {
		t.Fatalf("answer = %+v", out)
	}
	var st ldapStatusJSON
	e.must(http.StatusOK, as("admin"), "GET", "/v1/ldap/status", nil).json(t, &st)
	if !st.Configured {
		t.Fatal("status: not configured with a sync service")
	}
	e.must(http.StatusBadRequest, as("admin"), "POST", "/v1/ldap/sync", map[string]any{"dry_run": "yes"})
}

func TestLDAP_SyncFailuresAnswerWhatToDo(t *testing.T) {
	f := &fakeSync{}
	e := newEnv(t, func(c *HandlerConfig) { c.DirectorySync = f })
	f.res = DirectorySyncResult{Status: &dirpb.DirectorySyncStatus{Error: "ldapsync: bind refused: ldap://dc1 refused the password of \"cn=sync\" (invalid credentials)"}}
	f.err = errors.New("ldapsync: sync failed: bind refused")
	r := e.must(http.StatusServiceUnavailable, as("admin"), "POST", "/v1/ldap/sync", map[string]any{})
	if r.errCode() != codeLDAPFailed || !strings.Contains(r.String(), "invalid credentials") {
		t.Fatalf("bind refused answered %s", r)
	}
	f.res, f.err = DirectorySyncResult{}, fmt.Errorf("ldapsync: %w (leader \"n2\" at \"10.0.0.2:8300\")", persistence.ErrNotLeader)
	if r := e.must(http.StatusServiceUnavailable, as("admin"), "POST", "/v1/ldap/sync", map[string]any{}); r.errCode() != codeNotLeader {
		t.Fatalf("follower answered %s", r)
	}
}

func TestLDAP_SyncMarksShownAndKeptAcrossEdits(t *testing.T) {
	e := newEnv(t)
	mark := &dirpb.SyncSource{Dn: "uid=anna,ou=people,dc=example,dc=com", SyncedUnix: 1772442000}
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "anna", DisplayName: "Anna", Synced: mark}}}})
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: &dirpb.Group{Id: "sales", Name: "Sales",
		Members: []*dirpb.Member{{User: "anna", Role: "user", Synced: true, Primary: true}}, Synced: mark,
		CallGroup: &dirpb.CallGroup{Mode: dirpb.ModeDisabled, Strategy: dirpb.StrategyRingAll}}}}})
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: "107", Owner: "anna", Synced: mark}}}})

	var u userJSON
	e.must(http.StatusOK, as("admin"), "GET", "/v1/users/anna", nil).json(t, &u)
	if u.Synced == nil || u.Synced.DN != mark.Dn || u.Synced.Gone || u.Synced.SyncedAt == nil {
		t.Fatalf("user synced = %+v", u.Synced)
	}
	u.DisplayName = "Anna B."
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/users/anna", u)
	var g groupJSON
	e.must(http.StatusOK, as("admin"), "GET", "/v1/groups/sales", nil).json(t, &g)
	if g.Synced == nil || !g.Members[0].Synced {
		t.Fatalf("group synced = %+v, member %+v", g.Synced, g.Members[0])
	}
	g.Name = "Sales team"
	g.Members[0].Synced = false // read-only: the stored value stays
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/groups/sales", g)
	var l lineJSON
	e.must(http.StatusOK, as("admin"), "GET", "/v1/lines/107", nil).json(t, &l)
	l.Label = "desk"
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/lines/107", l)

	su, _ := e.node.Store().User("anna")
	sg, _ := e.node.Store().Group("sales")
	sl, _ := e.node.Store().Line("107")
	if su.GetSynced().GetDn() != mark.Dn || sg.GetSynced().GetDn() != mark.Dn || !sg.GetMembers()[0].GetSynced() || sl.GetSynced().GetDn() != mark.Dn {
		t.Fatalf("after edits: user %v, group %v, line %v: the sync marks are gone", su.GetSynced(), sg, sl.GetSynced())
	}
}
