package api

import (
	"strings"
	"testing"
)

func TestTrunkOutbound_PasswordIsWriteOnlyAndKept(t *testing.T) {
	e := newEnv(t)
	body := map[string]any{"name": "Carrier", "addresses": []string{"192.0.2.0/24"}, "outbound": map[string]any{
		"host": "sip.carrier.example", "port": 5060, "transport": "udp", "register": true,
		"username": "4989123", "password": "s3cret-carrier", "caller_id": "trunk", "main_number": "+4989123000"}}
	r := e.must(201, as("admin"), "PUT", "/v1/trunks/carrier", body)
	if strings.Contains(string(r.body), "s3cret") || !strings.Contains(string(r.body), `"password_set":true`) {
		t.Fatalf("PUT answer shows the password or not password_set: %s", r.body)
	}
	out := body["outbound"].(map[string]any)
	delete(out, "password")
	out["port"] = 5080
	e.must(200, as("admin"), "PUT", "/v1/trunks/carrier", body)
	stored, err := e.node.Store().Trunk("carrier")
	if err != nil || stored.GetOutbound().GetPassword() != "s3cret-carrier" || stored.GetOutbound().GetPort() != 5080 {
		t.Fatalf("a PUT without password did not keep it: %v %v", stored, err)
	}
	out["host"] = "sip.elsewhere.example"
	if r := e.do(as("admin"), "PUT", "/v1/trunks/carrier", body); r.status != 400 || !strings.Contains(string(r.body), "outbound.password") {
		t.Errorf("moving the upstream without giving the password again: %s, want 400 naming outbound.password", r)
	}
	out["host"] = "sip.carrier.example"
	r = e.must(200, as("admin"), "GET", "/v1/trunks/carrier", nil)
	if strings.Contains(string(r.body), "s3cret") || !strings.Contains(string(r.body), `"password_set":true`) {
		t.Fatalf("GET shows the password: %s", r.body)
	}
	e.seedUser("tina", "")
	e.must(403, as("tina"), "GET", "/v1/dialplan", nil)
	e.must(403, as("tina"), "PUT", "/v1/dialplan", map[string]any{})
}

func TestDialPlan_PutGetAndBadInputNamesTheRule(t *testing.T) {
	e := newEnv(t)
	e.must(201, as("admin"), "PUT", "/v1/trunks/carrier", map[string]any{"outbound": map[string]any{"host": "192.0.2.9"}})
	e.must(201, as("admin"), "PUT", "/v1/trunks/inbound", map[string]any{"addresses": []string{"192.0.2.0/24"}})
	rule := func(pattern, trunk string) map[string]any {
		return map[string]any{"pattern": pattern, "trunk": trunk, "call_class": "national"}
	}
	plan := map[string]any{"rules": []any{rule("_00.", "carrier"), rule("_0ZX.", "carrier")}, "emergency_numbers": []string{"112"}, "emergency_trunk": "carrier"}
	e.must(200, as("admin"), "PUT", "/v1/dialplan", plan)
	r := e.must(200, as("admin"), "GET", "/v1/dialplan", nil)
	if !strings.Contains(string(r.body), `"pattern":"_0ZX."`) {
		t.Fatalf("GET /v1/dialplan = %s", r.body)
	}
	cases := []struct {
		name     string
		body     any
		mentions string
	}{
		{"pattern does not parse", map[string]any{"rules": []any{rule("_0ZX.", "carrier"), rule("_0Q", "carrier")}}, "rules[1].pattern"},
		{"unknown trunk", map[string]any{"rules": []any{rule("_0ZX.", "nowhere")}}, "rules[0].trunk"},
		{"trunk without outbound side", map[string]any{"rules": []any{rule("_0ZX.", "inbound")}}, "rules[0].trunk"},
		{"shadowed rule", map[string]any{"rules": []any{rule("_0.", "carrier"), rule("_00.", "carrier")}}, "rules[1]: pattern"},
		{"ambiguous rules", map[string]any{"rules": []any{rule("_0[1-5]X.", "carrier"), rule("_0[3-9]XX", "carrier")}}, "ambiguously"},
		{"bad class", map[string]any{"rules": []any{map[string]any{"pattern": "_0.", "trunk": "carrier", "call_class": "vip"}}}, "rules[0].call_class"},
		{"unrouted emergency", map[string]any{"emergency_numbers": []string{"112"}}, "emergency_numbers[0]"},
		{"bad outbound host", nil, "outbound.host"},
		{"bad outbound transport", nil, "outbound.transport"},
		{"register without password", nil, "outbound.register"},
		{"bad e164", nil, "e164"},
		{"bad user class", nil, "call_class"},
		{"bad default class", nil, "default_call_class"},
	}
	paths := map[string]struct {
		path string
		body any
	}{
		"bad outbound host":         {"/v1/trunks/x", map[string]any{"outbound": map[string]any{"host": "not a host"}}},
		"bad outbound transport":    {"/v1/trunks/x", map[string]any{"outbound": map[string]any{"host": "h", "transport": "sctp"}}},
		"register without password": {"/v1/trunks/x", map[string]any{"outbound": map[string]any{"host": "h", "register": true, "username": "u"}}},
		"bad e164":                  {"/v1/lines/200", map[string]any{"owner": "admin", "e164": "089123"}},
		"bad user class":            {"/v1/users/admin", map[string]any{"system_role": "system_owner", "call_class": "galactic"}},
		"bad default class":         {"/v1/global", map[string]any{"default_call_class": "galactic"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, body := "/v1/dialplan", tc.body
			if p, ok := paths[tc.name]; ok {
				path, body = p.path, p.body
			}
			r := e.do(as("admin"), "PUT", path, body)
			if r.status != 400 || r.errCode() != codeInvalid || !strings.Contains(string(r.body), tc.mentions) {
				t.Errorf("got %s, want 400 invalid naming %q", r, tc.mentions)
			}
		})
	}
	r = e.do(as("admin"), "DELETE", "/v1/trunks/carrier", nil)
	if r.status != 409 {
		t.Errorf("deleting a trunk the dial plan uses: %s, want 409", r)
	}
}

func TestLineE164_UniqueAndCallClassSetBySystemRoles(t *testing.T) {
	e := newEnv(t)
	e.seedUser("tina", "")
	e.must(201, as("admin"), "PUT", "/v1/lines/200", map[string]any{"owner": "tina", "e164": "+4989123200", "withhold_caller_id": true})
	r := e.do(as("admin"), "PUT", "/v1/lines/201", map[string]any{"owner": "tina", "kind": "secondary", "e164": "+4989123200"})
	if r.status != 409 || !strings.Contains(string(r.body), "e164") {
		t.Errorf("a second line with the same e164: %s, want 409 naming e164", r)
	}
	r = e.must(200, as("admin"), "GET", "/v1/lines/200", nil)
	if !strings.Contains(string(r.body), `"withhold_caller_id":true`) {
		t.Errorf("GET line = %s", r.body)
	}
	r = e.do(as("tina"), "PUT", "/v1/users/tina", map[string]any{"display_name": "Tina", "call_class": "international"})
	if r.status != 403 || !strings.Contains(string(r.body), "call_class") {
		t.Errorf("a user raising their own class: %s, want 403", r)
	}
	e.must(200, as("admin"), "PUT", "/v1/users/tina", map[string]any{"display_name": "Tina", "call_class": "international"})
	e.must(200, as("tina"), "PUT", "/v1/users/tina", map[string]any{"display_name": "Tina T."})
	if u, _ := e.node.Store().User("tina"); u.GetCallClass() != "international" {
		t.Errorf("a PUT without call_class changed it to %q", u.GetCallClass())
	}
	e.must(200, as("admin"), "PUT", "/v1/global", map[string]any{"default_call_class": "internal"})
}

type stubTrunkStatus map[string]TrunkRegistration

func (s stubTrunkStatus) TrunkRegistration(id string) (TrunkRegistration, bool) {
	r, ok := s[id]
	return r, ok
}

func TestTrunkGet_ShowsTheRegistration(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) {
		c.TrunkStatus = stubTrunkStatus{"carrier": {State: "failed", Error: "sip: upstream answered 403 Forbidden"}}
	})
	e.must(201, as("admin"), "PUT", "/v1/trunks/carrier", map[string]any{"outbound": map[string]any{
		"host": "192.0.2.9", "register": true, "username": "u", "password": "p-secret"}})
	r := e.must(200, as("admin"), "GET", "/v1/trunks/carrier", nil)
	if !strings.Contains(string(r.body), `"registration":{"state":"failed","error":"sip: upstream answered 403 Forbidden"}`) {
		t.Errorf("GET = %s", r.body)
	}
}
