package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// pullInFixture: mgr manages g1 (journal visible to its members, so a
// member reads every member's journal); boss manages g2 and victim is a
// plain member of g2, each with a journal entry and a line; loner is in
// no group.
func pullInFixture(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	for _, id := range []string{"mgr", "boss", "victim", "loner"} {
		e.seedUser(id, "")
	}
	disabled := &dirpb.CallGroup{Mode: "disabled", Strategy: "ring_all"}
	e.applyCmd(putGroup(&dirpb.Group{Id: "g1", Name: "G1", Active: true, JournalGroupVisible: true, CallGroup: disabled,
		Members: []*dirpb.Member{{User: "mgr", Role: "manager"}}}))
	e.applyCmd(putGroup(&dirpb.Group{Id: "g2", Name: "G2", Active: true, JournalGroupVisible: true, CallGroup: disabled,
		Members: []*dirpb.Member{{User: "boss", Role: "manager"}, {User: "victim", Role: "user"}}}))
	for i, owner := range []string{"boss", "victim"} {
		e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{
			Number: []string{"501", "502"}[i], Owner: owner, Kind: "primary"}}}})
		e.applyCmd(&dirpb.Command{Op: &dirpb.Command_AppendJournal{AppendJournal: &dirpb.AppendJournal{Entry: &dirpb.JournalEntry{
			Id: "j-" + owner, Owner: owner, Line: "501", Direction: "in", RemoteNumber: "+4930123",
			StartUnix: 1_800_000_000, Outcome: "answered"}}}})
	}
	return e
}

func g1With(members ...map[string]any) map[string]any {
	return map[string]any{"name": "G1", "active": true, "journal_group_visible": true,
		"members": append([]map[string]any{{"user": "mgr", "role": "manager"}}, members...)}
}

// TestScope_ManagerCannotPullInAndTakeOver is the attack of issue 14: a
// group manager adds someone of another group to their own group, then
// resets the password, the SIP password, the presets, or reads the
// journal. Every step is refused; a user in no group is still added.
func TestScope_ManagerCannotPullInAndTakeOver(t *testing.T) {
	e := pullInFixture(t)
	for _, outsider := range []string{"victim", "boss"} {
		r := e.must(http.StatusForbidden, as("mgr"), "PUT", "/v1/groups/g1", g1With(map[string]any{"user": outsider, "role": "user"}))
		if !containsAll(string(r.body), "members", outsider, "outranks") {
			t.Errorf("refusal does not explain itself: %s", r)
		}
		e.must(http.StatusForbidden, as("mgr"), "GET", "/v1/users/"+outsider+"/journal", nil)
		e.must(http.StatusForbidden, as("mgr"), "PUT", "/v1/users/"+outsider, map[string]any{"display_name": "x", "password": "taken over 123"})
	}
	// A user in no group is the manager's to add, and then to administer.
	e.must(http.StatusOK, as("mgr"), "PUT", "/v1/groups/g1", g1With(map[string]any{"user": "loner", "role": "user"}))
	e.must(http.StatusOK, as("mgr"), "PUT", "/v1/users/loner", map[string]any{"display_name": "Loner", "password": "reset by mgr 1"})

	// Put there by a system role, the manager of another group still is
	// not the manager's to administer: they outrank nobody in g2.
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/groups/g1", g1With(
		map[string]any{"user": "loner", "role": "user"}, map[string]any{"user": "boss", "role": "user"}, map[string]any{"user": "victim", "role": "user"}))
	for _, target := range []string{"boss", "victim"} {
		e.must(http.StatusForbidden, as("mgr"), "PUT", "/v1/users/"+target, map[string]any{"display_name": "x", "password": "taken over 123"})
		e.must(http.StatusForbidden, as("mgr"), "PUT", "/v1/users/"+target, map[string]any{"display_name": "x", "disabled": true})
		e.must(http.StatusForbidden, as("mgr"), "PUT", "/v1/admin/grants/"+target+"/mgr", map[string]any{"level": "team"})
	}
	e.must(http.StatusForbidden, as("mgr"), "PUT", "/v1/lines/501", map[string]any{"owner": "boss", "sip_password": "taken over 123"})
	e.must(http.StatusForbidden, as("mgr"), "PUT", "/v1/lines/502", map[string]any{"owner": "victim", "sip_password": "taken over 123"})
	// Nothing changed: both still sign in with their password.
	e.must(http.StatusOK, as("boss"), "GET", "/v1/users/boss", nil)
	e.must(http.StatusOK, as("victim"), "GET", "/v1/users/victim", nil)
	// A manager cannot demote a fellow manager to administer them next.
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/groups/g1", g1With(map[string]any{"user": "loner", "role": "manager"}))
	e.must(http.StatusForbidden, as("mgr"), "PUT", "/v1/groups/g1", g1With(map[string]any{"user": "loner", "role": "user"}))
}

// TestScope_OwnPasswordNeedsTheCurrentOne: a signed-in session alone does
// not change the password; a wrong current one is a failed sign-in.
func TestScope_OwnPasswordNeedsTheCurrentOne(t *testing.T) {
	e := newEnv(t)
	e.seedUser("bob", "")
	body := func(current string) map[string]any {
		b := map[string]any{"display_name": "Bob", "password": "a brand new one"}
		if current != "" {
			b["current_password"] = current
		}
		return b
	}
	r := e.must(http.StatusBadRequest, as("bob"), "PUT", "/v1/users/bob", body(""))
	if r.errCode() != codeInvalid || !strings.Contains(string(r.body), "current_password") {
		t.Errorf("missing current_password: %s", r)
	}
	r = e.must(http.StatusForbidden, as("bob"), "PUT", "/v1/users/bob", body("not my password"))
	if !strings.Contains(string(r.body), "current_password") {
		t.Errorf("wrong current_password: %s", r)
	}
	// The profile alone needs no password.
	e.must(http.StatusOK, as("bob"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bobby"})
	e.must(http.StatusOK, as("bob"), "PUT", "/v1/users/bob", body(testPassword))
	e.must(http.StatusUnauthorized, as("bob"), "GET", "/v1/users/bob", nil)
	e.must(http.StatusOK, basic("bob", "a brand new one"), "GET", "/v1/users/bob", nil)
	// An administrator resetting someone else's password gives none.
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bob", "password": "reset by admin 1"})
}

// TestScope_WrongCurrentPasswordsAreThrottled: guessing through
// current_password is guessing at the sign-in.
func TestScope_WrongCurrentPasswordsAreThrottled(t *testing.T) {
	e := newEnv(t)
	e.seedUser("bob", "")
	tok := struct {
		Token string `json:"token"`
	}{}
	e.must(http.StatusCreated, as("bob"), "POST", "/v1/tokens", nil).json(t, &tok)
	guess := map[string]any{"display_name": "Bob", "password": "a brand new one", "current_password": "guess guess"}
	for range 10 { // DefaultPairThrottle.Burst
		e.must(http.StatusForbidden, bearer(tok.Token), "PUT", "/v1/users/bob", guess)
	}
	e.must(http.StatusTooManyRequests, bearer(tok.Token), "PUT", "/v1/users/bob", guess)
}

// TestScope_SystemRolesKeepTheirLimits: system roles administer every
// group role; a system admin not a system owner; system owners each other.
func TestScope_SystemRolesKeepTheirLimits(t *testing.T) {
	e := pullInFixture(t)
	e.seedUser("sa", "system_admin")
	e.seedUser("so2", "system_owner")
	reset := func(id, role string) map[string]any {
		return map[string]any{"display_name": id, "system_role": role, "password": "reset by system 1"}
	}
	e.must(http.StatusOK, as("sa"), "PUT", "/v1/users/boss", reset("boss", ""))
	e.must(http.StatusForbidden, as("sa"), "PUT", "/v1/users/so2", reset("so2", "system_owner"))
	e.must(http.StatusForbidden, as("sa"), "PUT", "/v1/admin/grants/so2/boss", map[string]any{"level": "team"})
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/users/so2", reset("so2", "system_owner"))
	e.must(http.StatusOK, as("sa"), "PUT", "/v1/groups/g1", g1With(map[string]any{"user": "boss", "role": "user"}))
}
