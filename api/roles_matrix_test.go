package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// matrixCaller is one caller configuration of the roles matrix: a group
// role held in the target's group ("own") or in another group ("other"),
// a system role, no role at all, or no credentials.
type matrixCaller struct {
	name   string
	role   string // group role, system role, "none" or "anonymous"
	system bool
	own    bool // the group role is held in g1, the target's group
}

func matrixCallers() []matrixCaller {
	cs := []matrixCaller{{name: "anonymous", role: "anonymous"}, {name: "none", role: "none"}}
	for _, r := range []string{"user", "receptionist", "group_admin", "manager", "owner"} {
		cs = append(cs, matrixCaller{name: r + "/own", role: r, own: true}, matrixCaller{name: r + "/other", role: r})
	}
	return append(cs, matrixCaller{name: "system_admin", role: "system_admin", system: true},
		matrixCaller{name: "system_owner", role: "system_owner", system: true})
}

// in reports whether the caller holds one of roles in the target's group.
func (c matrixCaller) in(roles ...string) bool { return c.own && slices.Contains(roles, c.role) }

// anyGroup reports whether the caller holds one of roles in some group.
func (c matrixCaller) anyGroup(roles ...string) bool { return slices.Contains(roles, c.role) }

// matrixRoute is one request and who may make it.
type matrixRoute struct {
	method, path string
	body         any
	ok           int
	allowed      func(matrixCaller) bool
}

func everyone(matrixCaller) bool     { return true }
func nobody(matrixCaller) bool       { return false }
func systemOnly(c matrixCaller) bool { return c.system }
func sysOr(roles ...string) func(matrixCaller) bool {
	return func(c matrixCaller) bool { return c.system || c.in(roles...) }
}

// g1Body is the fixture group g1 with changes applied.
func g1Body(change func(map[string]any)) map[string]any {
	b := map[string]any{"name": "G1", "active": true, "members": []map[string]any{
		{"user": "t", "role": "user"}, {"user": "t2", "role": "user"}, {"user": "t3", "role": "user"},
		{"user": "t4", "role": "manager"}, {"user": "c", "role": "ROLE"}}}
	change(b)
	return b
}

// scopeRoutes act on targets who hold roles beyond g1 (resetMatrix): t2
// manages g2, t3 is a plain member of g2 too, t4 manages g1, o owns g2
// and is not in g1. Only what outranks every role the target holds, in
// every group of the target, administers them (docs/api.md).
func scopeRoutes() []matrixRoute {
	newPW := map[string]any{"display_name": "T2", "password": "taken over 123"}
	return []matrixRoute{
		{"PUT", "/v1/users/t", map[string]any{"display_name": "T", "password": "reset by admin 1"}, 200, sysOr("manager", "owner")},
		{"PUT", "/v1/users/t2", newPW, 200, systemOnly},
		{"PUT", "/v1/users/t2", map[string]any{"display_name": "T2", "disabled": true}, 200, systemOnly},
		{"PUT", "/v1/users/t2", map[string]any{"display_name": "T2", "contact": map[string]any{"mobile": "555"}}, 200, systemOnly},
		{"PUT", "/v1/users/t3", map[string]any{"display_name": "T3 changed"}, 200, systemOnly},
		{"PUT", "/v1/users/t4", map[string]any{"display_name": "T4", "password": "reset by owner 1"}, 200, sysOr("owner")},
		{"PUT", "/v1/lines/302", map[string]any{"owner": "t2", "sip_password": "taken over 123"}, 200, systemOnly},
		{"DELETE", "/v1/lines/302", nil, 204, systemOnly},
		{"PUT", "/v1/lines/302/forwarding", map[string]any{"enabled": true, "destination": "999"}, 200, systemOnly},
		{"PUT", "/v1/admin/grants/t2/v", map[string]any{"level": "team"}, 200, systemOnly},
		{"DELETE", "/v1/admin/grants/t2/v", nil, 204, systemOnly},
		{"GET", "/v1/users/t2/grants", nil, 200, systemOnly},
		{"PUT", "/v1/groups/g1", g1Body(func(b map[string]any) {
			b["members"] = append(b["members"].([]map[string]any), map[string]any{"user": "o", "role": "user"})
		}), 200, systemOnly},
		{"PUT", "/v1/groups/g1", g1Body(func(b map[string]any) { b["members"].([]map[string]any)[3]["role"] = "user" }), 200,
			sysOr("owner")},
	}
}

func matrixRoutes() []matrixRoute {
	profile := map[string]any{"display_name": "T changed"}
	return []matrixRoute{
		{"GET", "/v1/users/t", nil, 200, sysOr("group_admin", "manager", "owner")},
		{"PUT", "/v1/users/t", profile, 200, sysOr("manager", "owner")},
		{"PUT", "/v1/users/t", map[string]any{"display_name": "T", "system_role": "system_admin"}, 200,
			func(c matrixCaller) bool { return c.role == "system_owner" }},
		{"PUT", "/v1/users/t", map[string]any{"display_name": "T", "services": []string{"chat"}}, 200, systemOnly},
		{"GET", "/v1/users/t/services", nil, 200, systemOnly},
		{"PUT", "/v1/users/new1", map[string]any{"display_name": "New"}, 201,
			func(c matrixCaller) bool { return c.system || c.anyGroup("manager", "owner") }},
		{"DELETE", "/v1/users/t", nil, 204, systemOnly},
		{"GET", "/v1/users/t/card", nil, 200, everyone},
		{"GET", "/v1/directory?q=t", nil, 200, everyone},
		{"GET", "/v1/users", nil, 200, systemOnly},
		{"GET", "/v1/groups/g1", nil, 200, sysOr("user", "receptionist", "group_admin", "manager", "owner")},
		{"PUT", "/v1/groups/g1", g1Body(func(b map[string]any) { b["call_group"] = map[string]any{"mode": "sip", "number": "800"} }), 200,
			sysOr("group_admin", "owner")},
		{"PUT", "/v1/groups/g1", g1Body(func(b map[string]any) { b["name"] = "Renamed" }), 200, sysOr("group_admin", "owner")},
		{"PUT", "/v1/groups/g1", g1Body(func(b map[string]any) { b["member_level"] = "team" }), 200, systemOnly},
		{"PUT", "/v1/groups/g1", g1Body(func(b map[string]any) { b["leader"] = "v" }), 200, sysOr("owner")},
		{"PUT", "/v1/groups/g1", g1Body(func(b map[string]any) {
			b["members"] = append(b["members"].([]map[string]any), map[string]any{"user": "v", "role": "user"})
		}), 200, sysOr("manager", "owner")},
		{"PUT", "/v1/groups/g1", g1Body(func(b map[string]any) { b["members"].([]map[string]any)[0]["role"] = "manager" }), 200,
			sysOr("manager", "owner")},
		{"PUT", "/v1/groups/g1", g1Body(func(b map[string]any) { b["members"].([]map[string]any)[0]["role"] = "owner" }), 200, systemOnly},
		{"PUT", "/v1/groups/g1/override", map[string]any{"mode": "closed"}, 200, sysOr("receptionist", "group_admin", "manager", "owner")},
		{"PUT", "/v1/groups/g1/members/t/availability", map[string]any{"logged_in": false}, 200, sysOr("receptionist", "group_admin", "manager", "owner")},
		{"PUT", "/v1/groups/g3", map[string]any{"name": "G3"}, 201, systemOnly},
		{"DELETE", "/v1/groups/g2", nil, 204, systemOnly},
		{"GET", "/v1/groups", nil, 200, systemOnly},
		{"GET", "/v1/global", nil, 200, everyone},
		{"PUT", "/v1/global", map[string]any{"level": "business"}, 200, systemOnly},
		{"PUT", "/v1/users/t/grants/v", map[string]any{"level": "team"}, 200, nobody},
		{"DELETE", "/v1/users/t/grants/v", nil, 204, nobody},
		{"PUT", "/v1/users/c/grants/v", map[string]any{"level": "team"}, 200, everyone},
		{"GET", "/v1/users/t/grants", nil, 200, sysOr("manager", "owner")},
		{"PUT", "/v1/admin/grants/t/v", map[string]any{"level": "team"}, 200, sysOr("manager", "owner")},
		{"DELETE", "/v1/admin/grants/t/v", nil, 204, sysOr("manager", "owner")},
		{"GET", "/v1/rights/v/t", nil, 200, sysOr("manager", "owner")},
		{"GET", "/v1/lines/301", nil, 200, sysOr("group_admin", "manager", "owner")},
		{"PUT", "/v1/lines/301", map[string]any{"owner": "t", "label": "changed"}, 200, sysOr("manager", "owner")},
		{"PUT", "/v1/lines/301/forwarding", map[string]any{"enabled": true, "destination": "999"}, 200, sysOr("manager", "owner")},
		{"PUT", "/v1/lines/301/forwarding", map[string]any{"busy": "999", "no_answer": nil}, 200, sysOr("manager", "owner")},
		{"DELETE", "/v1/lines/301", nil, 204, sysOr("manager", "owner")},
		{"GET", "/v1/lines", nil, 200, systemOnly},
		{"PUT", "/v1/trunks/tr1", map[string]any{"addresses": []string{"192.0.2.0/24"}}, 200, systemOnly},
		{"GET", "/v1/trunks/tr1", nil, 200, systemOnly},
		{"DELETE", "/v1/trunks/tr1", nil, 204, systemOnly},
		{"GET", "/v1/trunks", nil, 200, systemOnly},
		{"POST", "/v1/tokens", nil, 201, everyone},
	}
}

// TestRoles_Matrix runs every route as every role, in the target's own
// group and in another group, and checks the status code: the route's
// success code where roles.tsv allows the action, 403 where not, 401
// without credentials.
func TestRoles_Matrix(t *testing.T) {
	e := newEnv(t)
	e.routeOut()
	hash, err := password.Hash(testPassword, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	routes := append(matrixRoutes(), scopeRoutes()...)
	checked := 0
	for _, c := range matrixCallers() {
		e.resetMatrix(hash, c)
		for _, rt := range routes {
			want := http.StatusForbidden
			switch {
			case c.role == "anonymous":
				want = http.StatusUnauthorized
			case rt.allowed(c):
				want = rt.ok
			}
			cred := as("c")
			if c.role == "anonymous" {
				cred = anonymous
			}
			body := withRole(rt.body, c)
			r := e.do(cred, rt.method, rt.path, body)
			if r.status != want {
				t.Errorf("%-14s %s %s: got %s, want %d", c.name, rt.method, rt.path, r, want)
			}
			checked++
			if rt.method != "GET" && r.status < 300 {
				e.resetMatrix(hash, c)
			}
		}
	}
	t.Logf("%d route × caller cases checked", checked)
}

// withRole puts the caller's own role into a g1 body (its "ROLE"
// placeholder), so that the body changes only what the route is about.
func withRole(body any, c matrixCaller) any {
	b, ok := body.(map[string]any)
	if !ok {
		return body
	}
	ms, ok := b["members"].([]map[string]any)
	if !ok {
		return body
	}
	out := map[string]any{}
	for k, v := range b {
		out[k] = v
	}
	role := "user"
	if c.own {
		role = c.role
	}
	var members []map[string]any
	for _, m := range ms {
		m2 := map[string]any{"user": m["user"], "role": m["role"]}
		if m["role"] == "ROLE" {
			if c.system || !c.own {
				continue // the caller is not in g1
			}
			m2["role"] = role
		}
		members = append(members, m2)
	}
	out["members"] = members
	return out
}

// resetMatrix writes the fixture: target t in g1, viewer v, caller c with
// its role, line 301 of t, trunk tr1, default global, a preset t→v.
func (e *env) resetMatrix(hash string, c matrixCaller) {
	e.t.Helper()
	sys := ""
	if c.system {
		sys = c.role
	}
	cmds := []*dirpb.Command{
		{Op: &dirpb.Command_DeleteUser{DeleteUser: &dirpb.DeleteUser{Id: "new1"}}},
		{Op: &dirpb.Command_DeleteGroup{DeleteGroup: &dirpb.DeleteGroup{Id: "g3"}}},
		putUser(&dirpb.User{Id: "t", DisplayName: "T", PasswordHash: hash}),
		putUser(&dirpb.User{Id: "v", DisplayName: "V", PasswordHash: hash}),
		putUser(&dirpb.User{Id: "c", DisplayName: "C", PasswordHash: hash, SystemRole: sys}),
		putUser(&dirpb.User{Id: "t2", DisplayName: "T2", PasswordHash: hash}),
		putUser(&dirpb.User{Id: "t3", DisplayName: "T3", PasswordHash: hash}),
		putUser(&dirpb.User{Id: "t4", DisplayName: "T4", PasswordHash: hash}),
		putUser(&dirpb.User{Id: "o", DisplayName: "O", PasswordHash: hash}),
		{Op: &dirpb.Command_DeleteGrant{DeleteGrant: &dirpb.DeleteGrant{Target: "t2", Viewer: "v"}}},
		{Op: &dirpb.Command_PutPreset{PutPreset: &dirpb.PutGrant{Target: "t2", Viewer: "v", Grant: &dirpb.Grant{Level: "public"}}}},
		{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: "302", Owner: "t2", Kind: "primary"}}}},
		{Op: &dirpb.Command_DeleteGrant{DeleteGrant: &dirpb.DeleteGrant{Target: "c", Viewer: "v"}}},
		{Op: &dirpb.Command_DeleteGrant{DeleteGrant: &dirpb.DeleteGrant{Target: "t", Viewer: "v"}}},
		{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: "t", Viewer: "v", Grant: &dirpb.Grant{Level: "public"}}}},
		{Op: &dirpb.Command_PutPreset{PutPreset: &dirpb.PutGrant{Target: "t", Viewer: "v", Grant: &dirpb.Grant{Level: "public"}}}},
		{Op: &dirpb.Command_PutGlobal{PutGlobal: &dirpb.PutGlobal{Global: &dirpb.Global{}}}},
		{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: "301", Owner: "t", Kind: "primary"}}}},
		{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "tr1", Addresses: []string{"198.51.100.0/24"}}}}},
	}
	g1 := &dirpb.Group{Id: "g1", Name: "G1", Active: true, Members: []*dirpb.Member{
		{User: "t", Role: "user"}, {User: "t2", Role: "user"}, {User: "t3", Role: "user"}, {User: "t4", Role: "manager"},
	}, CallGroup: &dirpb.CallGroup{Mode: "disabled", Strategy: "ring_all"}}
	g2 := &dirpb.Group{Id: "g2", Name: "G2", Active: true, Members: []*dirpb.Member{
		{User: "t2", Role: "manager"}, {User: "t3", Role: "user"}, {User: "o", Role: "owner"},
	}, CallGroup: &dirpb.CallGroup{Mode: "disabled", Strategy: "ring_all"}}
	if !c.system && c.role != "none" && c.role != "anonymous" {
		m := &dirpb.Member{User: "c", Role: c.role}
		if c.own {
			g1.Members = append(g1.Members, m)
		} else {
			g2.Members = append(g2.Members, m)
		}
	}
	cmds = append(cmds, putGroup(g1), putGroup(g2))
	for _, cmd := range cmds {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := e.node.Apply(ctx, cmd)
		cancel()
		if err != nil && !errors.Is(err, persistence.ErrNotFound) {
			e.t.Fatalf("reset %v: %v", cmd, err)
		}
	}
}

func putUser(u *dirpb.User) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: u}}}
}

func putGroup(g *dirpb.Group) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: g}}}
}
