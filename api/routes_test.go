package api

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUsers_PutGetDelete(t *testing.T) {
	e := newEnv(t)
	body := map[string]any{
		"display_name": "Anna Berg", "password": "secret-pw-1", "language": "de", "timezone": "Europe/Berlin",
		"contact": map[string]any{"email": "anna@example.com", "mobile": "+49 170 1234567",
			"additional_phones": []string{"+49 30 1111"}, "picture": "https://example.com/a.png"},
	}
	r := e.must(http.StatusCreated, as("admin"), "PUT", "/v1/users/anna", body)
	if r.header.Get(IndexHeader) == "" {
		t.Errorf("PUT answered no %s", IndexHeader)
	}
	var u userJSON
	e.must(http.StatusOK, as("admin"), "GET", "/v1/users/anna", nil).json(t, &u)
	if u.DisplayName != "Anna Berg" || u.Contact.Email != "anna@example.com" || u.Timezone != "Europe/Berlin" ||
		!slices.Equal(u.Contact.AdditionalPhones, []string{"+49 30 1111"}) || u.Password != nil {
		t.Errorf("GET user = %+v", u)
	}
	// The password works and is never returned.
	e.must(http.StatusOK, basic("anna", "secret-pw-1"), "GET", "/v1/users/anna", nil)
	// Replacing without a password keeps it; the answer is 200.
	body["display_name"] = "Anna B."
	delete(body, "password")
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/users/anna", body)
	e.must(http.StatusOK, basic("anna", "secret-pw-1"), "GET", "/v1/users/anna", nil)
	e.must(http.StatusNoContent, as("admin"), "DELETE", "/v1/users/anna", nil)
	e.must(http.StatusNotFound, as("admin"), "GET", "/v1/users/anna", nil)
	e.must(http.StatusNotFound, as("admin"), "DELETE", "/v1/users/anna", nil)
}

func TestUsers_SelfEditsProfileButNotRole(t *testing.T) {
	e := newEnv(t)
	e.seedUser("bob", "")
	e.must(http.StatusOK, as("bob"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bobby", "contact": map[string]any{"office": "B12"}})
	r := e.must(http.StatusForbidden, as("bob"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bobby", "system_role": "system_admin"})
	if r.errCode() != codeForbidden {
		t.Errorf("code = %q", r.errCode())
	}
	e.must(http.StatusForbidden, as("bob"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bobby", "disabled": true})
	e.must(http.StatusForbidden, as("bob"), "PUT", "/v1/users/admin", map[string]any{"display_name": "x", "system_role": "system_owner"})
	// A new password signs every other client out.
	var tok tokenJSON
	e.must(http.StatusCreated, as("bob"), "POST", "/v1/tokens", nil).json(t, &tok)
	e.must(http.StatusOK, as("bob"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bobby", "password": "another-pw", "current_password": testPassword})
	e.must(http.StatusUnauthorized, bearer(tok.Token), "GET", "/v1/users/bob", nil)
}

func TestUsers_OnlySystemOwnerAppointsSystemRoles(t *testing.T) {
	e := newEnv(t)
	e.seedUser("sa", "system_admin")
	e.seedUser("carl", "")
	e.must(http.StatusForbidden, as("sa"), "PUT", "/v1/users/carl", map[string]any{"display_name": "Carl", "system_role": "system_admin"})
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/users/carl", map[string]any{"display_name": "Carl", "system_role": "system_admin"})
	e.must(http.StatusForbidden, as("sa"), "PUT", "/v1/users/carl", map[string]any{"display_name": "Carl"})
	e.must(http.StatusForbidden, as("sa"), "DELETE", "/v1/users/admin", nil)
	e.must(http.StatusForbidden, as("sa"), "PUT", "/v1/users/admin", map[string]any{"display_name": "x", "system_role": "system_owner"})
}

// seedContact writes a user with every contact field filled.
func (e *env) seedContact(id string) {
	e.t.Helper()
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/users/"+id, map[string]any{
		"display_name": "Dora", "password": testPassword,
		"contact": map[string]any{
			"picture": "https://example.com/d.png", "job_title": "Sales", "company": "ACME", "department": "East",
			"office": "3.14", "business_address": "Main St 1", "work_phone": "+49 30 100", "business_phone2": "+49 30 101",
			"mobile": "+49 170 1", "pager": "77", "private_phone": "+49 30 999", "additional_phones": []string{"+49 30 555"},
			"business_fax": "+49 30 102", "email": "dora@example.com", "sip_address": "sip:dora@example.com",
			"website": "https://example.com/dora",
		},
	})
}

func TestCard_ShowsExactlyTheVisibleNonEmptyFields(t *testing.T) {
	e := newEnv(t)
	e.seedContact("dora")
	e.seedUser("vic", "")
	cases := []struct {
		level string
		want  []string
	}{
		{"blocked", []string{"display_name", "email"}},
		{"public", []string{"picture", "display_name", "job_title", "company", "work_phone", "email", "sip_address"}},
		{"team", []string{"picture", "display_name", "job_title", "company", "department", "office", "business_address",
			"work_phone", "business_phone2", "mobile", "pager", "business_fax", "email", "sip_address", "website"}},
		{"personal", []string{"picture", "display_name", "job_title", "company", "department", "office", "business_address",
			"work_phone", "business_phone2", "mobile", "pager", "private_phone", "additional_phones", "business_fax", "email",
			"sip_address", "website"}},
	}
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/global", map[string]any{"level": "blocked"})
	for _, tc := range cases {
		t.Run(tc.level, func(t *testing.T) {
			e.must(http.StatusOK, as("dora"), "PUT", "/v1/users/dora/grants/vic", map[string]any{"level": tc.level})
			var card cardJSON
			e.must(http.StatusOK, as("vic"), "GET", "/v1/users/dora/card", nil).json(t, &card)
			var got []string
			for k := range card.Fields {
				got = append(got, k)
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if card.Level != tc.level || !slices.Equal(got, want) {
				t.Errorf("card = level %s fields %v, want %s %v", card.Level, got, tc.level, want)
			}
		})
	}
	// Empty fields are left out even when visible.
	var self cardJSON
	e.must(http.StatusOK, as("vic"), "GET", "/v1/users/vic/card", nil).json(t, &self)
	if len(self.Fields) != 1 || self.Fields["display_name"] != "Vic" || self.Level != "special" {
		t.Errorf("own card = %+v", self)
	}
}

func TestDirectory_SearchIsNotFilteredByLevels(t *testing.T) {
	e := newEnv(t)
	e.seedContact("dora")
	e.seedUser("vic", "")
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/global", map[string]any{"level": "blocked"})
	var p page[directoryEntryJSON]
	e.must(http.StatusOK, as("vic"), "GET", "/v1/directory?q=1701", nil).json(t, &p)
	if len(p.Items) != 1 || p.Items[0].ID != "dora" || p.Items[0].Contact.PrivatePhone != "+49 30 999" {
		t.Fatalf("search by mobile digits = %+v", p)
	}
	e.must(http.StatusOK, as("vic"), "GET", "/v1/directory?q=DORA@EXAMPLE", nil).json(t, &p)
	if len(p.Items) != 1 {
		t.Errorf("search by e-mail = %+v", p)
	}
	// Paging: 1 per page over admin, dora, vic.
	var ids []string
	after := ""
	for range 5 {
		var pg page[directoryEntryJSON]
		e.must(http.StatusOK, as("vic"), "GET", "/v1/directory?limit=1&after="+after, nil).json(t, &pg)
		for _, it := range pg.Items {
			ids = append(ids, it.ID)
		}
		if pg.Next == "" {
			break
		}
		after = pg.Next
	}
	if !slices.Equal(ids, []string{"admin", "dora", "vic"}) {
		t.Errorf("paged search = %v", ids)
	}
}

func TestGlobal_DefaultsToPublicAndRoundTrips(t *testing.T) {
	e := newEnv(t)
	var g globalJSON
	e.must(http.StatusOK, as("admin"), "GET", "/v1/global", nil).json(t, &g)
	if g.Level == nil || *g.Level != "public" {
		t.Fatalf("default global = %+v", g)
	}
	in := map[string]any{"rights": map[string]any{"see_presence": true, "av_see_line_state": "red"}, "services": []string{"chat", "apps", "chat"}, "journal_retention_days": 90}
	g = globalJSON{}
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/global", in).json(t, &g)
	if g.Level != nil || g.Rights["av_see_line_state"] != "red" || g.Rights["see_presence"] != true || len(g.Rights) != 2 ||
		!slices.Equal(g.Services, []string{"chat", "apps"}) || g.JournalRetentionDays != 90 {
		t.Errorf("global after PUT = %+v", g)
	}
	e.seedUser("bob", "")
	e.must(http.StatusForbidden, as("bob"), "PUT", "/v1/global", in)
	e.must(http.StatusOK, as("bob"), "GET", "/v1/global", nil)
}

func TestGrants_UserLayerOnOwnBehalfAndPresetLock(t *testing.T) {
	e := newEnv(t)
	e.seedUser("tina", "")
	e.seedUser("vic", "")
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/users/tina/grants/vic", map[string]any{"level": "team"})
	// Nobody grants on someone else's behalf, not even the system owner.
	e.must(http.StatusForbidden, as("vic"), "PUT", "/v1/users/tina/grants/vic", map[string]any{"level": "personal"})
	e.must(http.StatusForbidden, as("admin"), "PUT", "/v1/users/tina/grants/vic", map[string]any{"level": "personal"})
	// A preset of individual rights locks the pair.
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/admin/grants/tina/vic", map[string]any{"rights": map[string]any{"see_note": true}})
	r := e.must(http.StatusForbidden, as("tina"), "PUT", "/v1/users/tina/grants/vic", map[string]any{"level": "blocked"})
	if r.errCode() != codePresetLocked {
		t.Errorf("code = %q, want %q", r.errCode(), codePresetLocked)
	}
	e.must(http.StatusForbidden, as("tina"), "DELETE", "/v1/users/tina/grants/vic", nil)
	// A preset level does not lock.
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/admin/grants/tina/vic", map[string]any{"level": "business"})
	e.must(http.StatusNoContent, as("tina"), "DELETE", "/v1/users/tina/grants/vic", nil)
	var list grantListJSON
	e.must(http.StatusOK, as("tina"), "GET", "/v1/users/tina/grants", nil).json(t, &list)
	if len(list.Grants) != 0 || len(list.Presets) != 1 || *list.Presets[0].Level != "business" {
		t.Errorf("grants of tina = %+v", list)
	}
	e.must(http.StatusNoContent, as("admin"), "DELETE", "/v1/admin/grants/tina/vic", nil)
	e.must(http.StatusNotFound, as("tina"), "PUT", "/v1/users/tina/grants/nobody", map[string]any{"level": "team"})
	e.must(http.StatusBadRequest, as("tina"), "PUT", "/v1/users/tina/grants/tina", map[string]any{"level": "team"})
}

func TestRights_ExplainNamesEverySource(t *testing.T) {
	e := newEnv(t)
	e.seedUser("tina", "")
	e.seedUser("vic", "")
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/groups/sales", map[string]any{
		"name": "Sales", "active": true, "members": []map[string]any{{"user": "tina"}, {"user": "vic"}},
		"member_level": "business",
	})
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/users/tina/grants/vic", map[string]any{"rights": map[string]any{"see_note": true}})
	var x explainJSON
	e.must(http.StatusOK, as("vic"), "GET", "/v1/rights/vic/tina", nil).json(t, &x)
	if x.Level != "special" || x.Rights["see_note"] != true || x.Rights["see_line_state"] != true || x.Rights["set_presence"] != false {
		t.Errorf("explain = %+v", x)
	}
	if !slices.Equal(x.Because["see_note"], []string{"user"}) ||
		!slices.Equal(x.Because["see_presence"], []string{"global", "group:sales"}) ||
		!slices.Equal(x.Because["see_line_state"], []string{"group:sales"}) || len(x.Because["set_presence"]) != 0 {
		t.Errorf("because = %v", x.Because)
	}
	if !slices.Contains(x.Fields, "department") || slices.Contains(x.Fields, "mobile") {
		t.Errorf("fields = %v", x.Fields)
	}
	e.must(http.StatusOK, as("tina"), "GET", "/v1/rights/tina/tina", nil).json(t, &x)
	if !slices.Equal(x.Because["set_presence"], []string{"self"}) {
		t.Errorf("self because = %v", x.Because["set_presence"])
	}
	e.seedUser("olga", "")
	e.must(http.StatusForbidden, as("olga"), "GET", "/v1/rights/vic/tina", nil)
	e.must(http.StatusNotFound, as("admin"), "GET", "/v1/rights/vic/nobody", nil)
}

func TestGroups_RoundTripWithOfficeHoursAndCallGroup(t *testing.T) {
	e := newEnv(t)
	e.seedUser("tina", "")
	e.seedUser("lea", "")
	in := map[string]any{
		"name": "Sales", "active": true,
		"members":       []map[string]any{{"user": "tina", "role": "receptionist"}},
		"leader":        "lea",
		"leader_rights": map[string]any{"see_note": true, "see_private_appointments": "busy"},
		"services":      []string{"chat"}, "journal_leader_visible": true,
		"monitor_groups": []string{"support"}, "display_members_on_monitor": true,
		"keys":     []map[string]any{{"label": "Front desk", "number": "100"}},
		"language": "de", "timezone": "Europe/Berlin",
		"office_hours": map[string]any{
			"weekly":   map[string]any{"mon": [][]string{{"08:00", "12:00"}, {"13:00", "17:00"}}},
			"breaks":   map[string]any{"mon": [][]string{{"10:00", "10:15"}}},
			"holidays": []map[string]any{{"date": "2026-12-24", "name": "Christmas Eve"}},
		},
		"call_group": map[string]any{"mode": "sip", "number": "700", "strategy": "sequential", "ring_timeout_s": 30,
			"no_answer_target": "701", "closed_target": "702", "skip_busy": true},
	}
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/groups/sales", in)
	var g groupJSON
	e.must(http.StatusOK, as("tina"), "GET", "/v1/groups/sales", nil).json(t, &g)
	if g.Leader != "lea" || g.LeaderRights["see_private_appointments"] != "busy" || g.MemberLevel != nil ||
		g.CallGroup.Strategy != "sequential" || g.CallGroup.Number != "700" || g.Override.Mode != "auto" ||
		len(g.Members) != 1 || g.Members[0].Role != "receptionist" {
		t.Errorf("group = %+v", g)
	}
	wantOH := `{"weekly":{"mon":[["08:00","12:00"],["13:00","17:00"]]},"breaks":{"mon":[["10:00","10:15"]]},"holidays":[{"date":"2026-12-24","name":"Christmas Eve"}]}`
	if string(g.OfficeHours) != wantOH {
		t.Errorf("office_hours = %s, want %s", g.OfficeHours, wantOH)
	}
	// The receptionist sets the override; a PUT of the group keeps it.
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/groups/sales/override", map[string]any{"mode": "closed"})
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/groups/sales", in)
	e.must(http.StatusOK, as("admin"), "GET", "/v1/groups/sales", nil).json(t, &g)
	if g.Override.Mode != "closed" {
		t.Errorf("override after PUT = %q", g.Override.Mode)
	}
	// The receptionist may not configure the group itself.
	e.must(http.StatusForbidden, as("tina"), "PUT", "/v1/groups/sales", in)
	// A number already used conflicts.
	e.must(http.StatusConflict, as("admin"), "PUT", "/v1/lines/700", map[string]any{"owner": "lea"})
}

func TestLines_DigestForwardingAndConflicts(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) { c.SIPRealm = "pbx.example" })
	e.routeOut()
	e.seedUser("tina", "")
	e.seedUser("vic", "")
	var l lineJSON
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/lines/201", map[string]any{"owner": "tina", "sip_password": "line-secret", "label": "Desk"}).json(t, &l)
	if !l.HasSIPPassword || l.Kind != "primary" || l.SIPPassword != nil || l.Realm != "pbx.example" {
		t.Errorf("line = %+v", l)
	}
	stored, err := e.node.Store().Line("201")
	if err != nil {
		t.Fatal(err)
	}
	m := md5.Sum([]byte("201:pbx.example:line-secret"))
	s := sha256.Sum256([]byte("201:pbx.example:line-secret"))
	if stored.Ha1Md5 != hex.EncodeToString(m[:]) || stored.Ha1Sha256 != hex.EncodeToString(s[:]) {
		t.Errorf("stored HA1 = %s / %s", stored.Ha1Md5, stored.Ha1Sha256)
	}
	// A second primary line of the same owner conflicts.
	e.must(http.StatusConflict, as("admin"), "PUT", "/v1/lines/202", map[string]any{"owner": "tina"})
	// Forwarding: the owner may; vic may not until granted personal (line1_set_forwarding).
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/lines/201/forwarding", map[string]any{"enabled": true, "destination": "+4930123"})
	e.must(http.StatusForbidden, as("vic"), "PUT", "/v1/lines/201/forwarding", map[string]any{"enabled": false, "destination": ""})
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/users/tina/grants/vic", map[string]any{"level": "personal"})
	e.must(http.StatusOK, as("vic"), "PUT", "/v1/lines/201/forwarding", map[string]any{"enabled": false, "destination": ""})
	e.must(http.StatusBadRequest, as("tina"), "PUT", "/v1/lines/201/forwarding", map[string]any{"enabled": true, "destination": ""})
	// Replacing the line keeps forwarding and the digests.
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/lines/201/forwarding", map[string]any{"enabled": true, "destination": "555"})
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/lines/201", map[string]any{"owner": "tina", "label": "Desk 2"}).json(t, &l)
	if !l.HasSIPPassword || l.Forwarding.Destination != "555" || l.Label != "Desk 2" {
		t.Errorf("line after replace = %+v", l)
	}
	e.must(http.StatusOK, as("tina"), "GET", "/v1/lines/201", nil)
	e.must(http.StatusForbidden, as("vic"), "GET", "/v1/lines/201", nil)
	e.must(http.StatusNoContent, as("admin"), "DELETE", "/v1/lines/201", nil)
	e.must(http.StatusNotFound, as("admin"), "GET", "/v1/lines/201", nil)
}

func TestTrunks_ValidateCIDRs(t *testing.T) {
	e := newEnv(t)
	var tr trunkJSON
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/trunks/carrier", map[string]any{"name": "Carrier", "addresses": []string{"192.0.2.7/24", "2001:db8::/48"}}).json(t, &tr)
	if !slices.Equal(tr.Addresses, []string{"192.0.2.0/24", "2001:db8::/48"}) {
		t.Errorf("addresses = %v", tr.Addresses)
	}
	r := e.must(http.StatusBadRequest, as("admin"), "PUT", "/v1/trunks/carrier", map[string]any{"addresses": []string{"10.0.0.1"}})
	if !containsAll(string(r.body), "addresses[0]") {
		t.Errorf("error does not name the field: %s", r.body)
	}
	e.must(http.StatusOK, as("admin"), "GET", "/v1/trunks/carrier", nil)
	e.must(http.StatusNoContent, as("admin"), "DELETE", "/v1/trunks/carrier", nil)
	e.must(http.StatusNotFound, as("admin"), "GET", "/v1/trunks/carrier", nil)
}

func TestLists_PageWithCursor(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.seedUser("u"+strconv.Itoa(i), "")
	}
	var ids []string
	after := ""
	for range 10 {
		var p page[userJSON]
		e.must(http.StatusOK, as("admin"), "GET", "/v1/users?limit=2&after="+after, nil).json(t, &p)
		for _, u := range p.Items {
			ids = append(ids, u.ID)
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if !slices.Equal(ids, []string{"admin", "u0", "u1", "u2", "u3", "u4"}) {
		t.Errorf("paged ids = %v", ids)
	}
	for _, path := range []string{"/v1/groups", "/v1/lines", "/v1/trunks"} {
		e.must(http.StatusOK, as("admin"), "GET", path, nil)
		e.must(http.StatusForbidden, as("u0"), "GET", path, nil)
	}
	e.must(http.StatusBadRequest, as("admin"), "GET", "/v1/users?limit=0", nil)
}

func TestConsistency_ReadWaitsForIndex(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) { c.ReadWait = 50 * time.Millisecond })
	r := e.must(http.StatusCreated, as("admin"), "PUT", "/v1/users/anna", map[string]any{"display_name": "Anna"})
	idx := r.header.Get(IndexHeader)
	e.must(http.StatusOK, as("admin"), "GET", "/v1/users/anna", nil, IndexHeader, idx)
	e.must(http.StatusOK, as("admin"), "GET", "/v1/users/anna?index="+idx, nil)
	// An index this node has not reached answers 503 after ReadWait.
	r = e.must(http.StatusServiceUnavailable, as("admin"), "GET", "/v1/users/anna", nil, IndexHeader, "999999")
	if r.errCode() != codeIndexNotYet || r.header.Get("Retry-After") == "" {
		t.Errorf("answer = %s %v", r, r.header)
	}
	r = e.must(http.StatusBadRequest, as("admin"), "GET", "/v1/users/anna", nil, IndexHeader, "x")
	if !containsAll(string(r.body), IndexHeader) {
		t.Errorf("error does not name the header: %s", r.body)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestUsers_ServicesAreSetBySystemRolesOnly(t *testing.T) {
	e := newEnv(t)
	e.seedUser("sa", "system_admin")
	e.seedUser("bob", "")
	e.seedUser("mia", "")
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/groups/sales", map[string]any{
		"name": "Sales", "active": true, "services": []string{"chat", "sms"},
		"members": []map[string]any{{"user": "bob"}, {"user": "mia", "role": "manager"}},
	})
	// Self-service may not grant oneself services, nor may a manager.
	r := e.must(http.StatusForbidden, as("bob"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bob", "services": []string{"apps"}})
	if r.errCode() != codeForbidden || !strings.Contains(string(r.body), "services") {
		t.Errorf("self services = %s", r)
	}
	e.must(http.StatusForbidden, as("mia"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bob", "services": []string{"apps"}})
	// A system admin may; the list is stored in catalogue order, once each.
	var u userJSON
	e.must(http.StatusOK, as("sa"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bob", "services": []string{"sms", "apps", "sms"}}).json(t, &u)
	if !slices.Equal(u.Services, []string{"sms", "apps"}) {
		t.Errorf("PUT services = %v", u.Services)
	}
	// A profile edit that omits services, or repeats them, keeps them.
	e.must(http.StatusOK, as("bob"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bobby"})
	e.must(http.StatusOK, as("bob"), "GET", "/v1/users/bob", nil).json(t, &u)
	if !slices.Equal(u.Services, []string{"sms", "apps"}) {
		t.Errorf("services after profile edit = %v", u.Services)
	}
	e.must(http.StatusOK, as("bob"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bob", "services": []string{"apps", "sms"}})
	e.must(http.StatusForbidden, as("bob"), "PUT", "/v1/users/bob", map[string]any{"display_name": "Bob", "services": []string{}})

	// The effective services: global ∪ active groups ∪ own, with sources.
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/global", map[string]any{"services": []string{"chat"}})
	var s servicesJSON
	e.must(http.StatusOK, as("bob"), "GET", "/v1/users/bob/services", nil).json(t, &s)
	if !slices.Equal(s.Services, []string{"chat", "sms", "apps"}) ||
		!slices.Equal(s.Because["chat"], []string{"global", "group:sales"}) ||
		!slices.Equal(s.Because["sms"], []string{"group:sales", "user"}) ||
		!slices.Equal(s.Because["apps"], []string{"user"}) || len(s.Because["record_calls"]) != 0 {
		t.Errorf("services = %+v", s)
	}
	e.must(http.StatusOK, as("sa"), "GET", "/v1/users/bob/services", nil)
	e.must(http.StatusForbidden, as("mia"), "GET", "/v1/users/bob/services", nil)
	e.must(http.StatusNotFound, as("admin"), "GET", "/v1/users/nobody/services", nil)
}

func TestGroups_MemberTimeoutAndOverrideUntilRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.seedUser("tina", "")
	in := map[string]any{
		"name": "Sales", "active": true, "members": []map[string]any{{"user": "tina", "role": "receptionist"}},
		"call_group": map[string]any{"mode": "sip", "number": "700", "strategy": "sequential", "member_timeout_s": 20},
	}
	e.must(http.StatusCreated, as("admin"), "PUT", "/v1/groups/sales", in)
	var g groupJSON
	e.must(http.StatusOK, as("tina"), "GET", "/v1/groups/sales", nil).json(t, &g)
	if g.CallGroup.MemberTimeoutS != 20 {
		t.Errorf("member_timeout_s = %d, want 20", g.CallGroup.MemberTimeoutS)
	}
	// The override ends at until; a PUT of the group keeps it.
	until := e.clock.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	var o overrideJSON
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/groups/sales/override", map[string]any{"mode": "closed", "until": until}).json(t, &o)
	if o.Mode != "closed" || o.Until == nil || *o.Until != until {
		t.Errorf("PUT override = %+v, want closed until %s", o, until)
	}
	e.must(http.StatusOK, as("admin"), "PUT", "/v1/groups/sales", in)
	e.must(http.StatusOK, as("tina"), "GET", "/v1/groups/sales", nil).json(t, &g)
	if g.Override.Mode != "closed" || g.Override.Until == nil || *g.Override.Until != until {
		t.Errorf("override after PUT = %+v, want closed until %s", g.Override, until)
	}
	// From until on, the group is back to auto.
	e.clock.Advance(2 * time.Hour)
	g = groupJSON{}
	e.must(http.StatusOK, as("tina"), "GET", "/v1/groups/sales", nil).json(t, &g)
	if g.Override.Mode != "auto" || g.Override.Until != nil {
		t.Errorf("override after until = %+v, want auto", g.Override)
	}
	// Without until, the override holds until set back to auto.
	o = overrideJSON{}
	e.must(http.StatusOK, as("tina"), "PUT", "/v1/groups/sales/override", map[string]any{"mode": "open"}).json(t, &o)
	if o.Mode != "open" || o.Until != nil {
		t.Errorf("PUT override without until = %+v", o)
	}
}
