package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestBadInput_AnswersNameTheField(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) { c.MaxBodyBytes = 4096 })
	e.seedUser("tina", "")
	e.seedUser("vic", "")
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, mentions     string
	}{
		{"malformed JSON", "PUT", "/v1/users/x", `{"display_name": `, 400, codeMalformedJSON, "JSON"},
		{"not an object", "PUT", "/v1/users/x", `[1,2]`, 400, codeMalformedJSON, "object"},
		{"trailing data", "PUT", "/v1/users/x", `{} {}`, 400, codeMalformedJSON, "after"},
		{"empty body", "PUT", "/v1/global", ``, 400, codeMalformedJSON, "empty"},
		{"unknown field", "PUT", "/v1/users/x", `{"display_name":"X","shoe_size":44}`, 400, codeUnknownField, "shoe_size"},
		{"unknown nested field", "PUT", "/v1/users/x", `{"contact":{"fax2":"1"}}`, 400, codeUnknownField, "fax2"},
		{"wrong type", "PUT", "/v1/users/x", `{"display_name":7}`, 400, codeInvalid, "display_name"},
		{"wrong nested type", "PUT", "/v1/users/x", `{"contact":{"email":true}}`, 400, codeInvalid, "contact.email"},
		{"too large", "PUT", "/v1/users/x", `{"display_name":"` + strings.Repeat("a", 5000) + `"}`, 413, codeBodyTooLarge, "4096"},
		{"bad id", "PUT", "/v1/users/a%20b", `{}`, 400, codeInvalid, "id"},
		{"bad number", "GET", "/v1/lines/12ab", nil, 400, codeInvalid, "number"},
		{"unknown user", "GET", "/v1/users/nobody", nil, 404, codeNotFound, "nobody"},
		{"unknown group", "GET", "/v1/groups/nogroup", nil, 404, codeNotFound, "nogroup"},
		{"unknown route", "GET", "/v1/nothing", nil, 404, codeNotFound, "/v1/nothing"},
		{"wrong method", "PATCH", "/v1/users/tina", `{}`, 405, codeMethod, "PATCH"},
		{"unknown level", "PUT", "/v1/global", `{"level":"friends"}`, 400, codeInvalid, "level"},
		{"unknown right", "PUT", "/v1/global", `{"rights":{"read_minds":true}}`, 400, codeInvalid, "rights.read_minds"},
		{"bad grade", "PUT", "/v1/global", `{"rights":{"av_see_line_state":"blue"}}`, 400, codeInvalid, "av_see_line_state"},
		{"level and rights", "PUT", "/v1/admin/grants/tina/vic", `{"level":"team","rights":{}}`, 400, codeInvalid, "level"},
		{"no grant", "PUT", "/v1/admin/grants/tina/vic", `{}`, 400, codeInvalid, "level"},
		{"preset until past", "PUT", "/v1/admin/grants/tina/vic", `{"level":"team","until":"2026-03-02T08:59:59Z"}`, 400, codeInvalid, "until"},
		{"preset until now", "PUT", "/v1/admin/grants/tina/vic", `{"level":"team","until":"2026-03-02T09:00:00Z"}`, 400, codeInvalid, "until"},
		{"preset until not RFC 3339", "PUT", "/v1/admin/grants/tina/vic", `{"level":"team","until":"next week"}`, 400, codeInvalid, "until"},
		{"preset until after 9999", "PUT", "/v1/admin/grants/tina/vic", `{"level":"team","until":"9999-12-31T23:59:59-01:00"}`, 400, codeInvalid, "until"},
		{"grant until past", "PUT", "/v1/users/admin/grants/vic", `{"level":"team","until":"2020-01-01T00:00:00Z"}`, 400, codeInvalid, "until"},
		{"grant until not a string", "PUT", "/v1/users/admin/grants/vic", `{"level":"team","until":17}`, 400, codeInvalid, "until"},
		{"member until past", "PUT", "/v1/groups/g", `{"members":[{"user":"tina"},{"user":"vic","until":"2026-03-01T00:00:00Z"}]}`, 400, codeInvalid, "members[1].until"},
		{"member until not RFC 3339", "PUT", "/v1/groups/g", `{"members":[{"user":"tina","until":"2026-13-01"}]}`, 400, codeInvalid, "members[0].until"},
		{"deputy until past", "PUT", "/v1/groups/g", `{"deputy":"vic","deputy_until":"2025-12-24T00:00:00Z"}`, 400, codeInvalid, "deputy_until"},
		{"deputy until without deputy", "PUT", "/v1/groups/g", `{"deputy_until":"2027-01-01T00:00:00Z"}`, 400, codeInvalid, "deputy_until"},
		{"unknown service", "PUT", "/v1/global", `{"services":["teleport"]}`, 400, codeInvalid, "services"},
		{"negative retention", "PUT", "/v1/global", `{"journal_retention_days":-1}`, 400, codeInvalid, "journal_retention_days"},
		{"bad language", "PUT", "/v1/users/x", `{"language":"not a tag"}`, 400, codeInvalid, "language"},
		{"bad timezone", "PUT", "/v1/users/x", `{"timezone":"Mars/Olympus"}`, 400, codeInvalid, "timezone"},
		{"bad picture URL", "PUT", "/v1/users/x", `{"contact":{"picture":"javascript:alert(1)"}}`, 400, codeInvalid, "contact.picture"},
		{"short password", "PUT", "/v1/users/x", `{"password":"123"}`, 400, codeInvalid, "password"},
		{"unknown member", "PUT", "/v1/groups/g", `{"members":[{"user":"ghost"}]}`, 400, codeInvalid, "members[0].user"},
		{"bad member role", "PUT", "/v1/groups/g", `{"members":[{"user":"tina","role":"king"}]}`, 400, codeInvalid, "members[0].role"},
		{"bad strategy", "PUT", "/v1/groups/g", `{"call_group":{"strategy":"random"}}`, 400, codeInvalid, "call_group.strategy"},
		{"call number missing", "PUT", "/v1/groups/g", `{"call_group":{"mode":"sip"}}`, 400, codeInvalid, "call_group.number"},
		{"bad office hours", "PUT", "/v1/groups/g", `{"office_hours":{"weekly":{"mon":[["08:00","25:00"]]}}}`, 400, codeInvalid, "office_hours.weekly.mon[0]"},
		{"overlapping hours", "PUT", "/v1/groups/g", `{"office_hours":{"weekly":{"tue":[["08:00","12:00"],["11:00","13:00"]]}}}`, 400, codeInvalid, "office_hours.weekly.tue"},
		{"yearly holiday", "PUT", "/v1/groups/g", `{"office_hours":{"holidays":[{"date":"--12-25"}]}}`, 400, codeInvalid, "office_hours.holidays[0].date"},
		{"other time zone", "PUT", "/v1/groups/g", `{"timezone":"Europe/Berlin","office_hours":{"timezone":"Asia/Tokyo"}}`, 400, codeInvalid, "office_hours.timezone"},
		{"bad override", "PUT", "/v1/groups/g/override", `{"mode":"maybe"}`, 400, codeInvalid, "mode"},
		{"override until past", "PUT", "/v1/groups/g/override", `{"mode":"open","until":"2026-01-01T00:00:00Z"}`, 400, codeInvalid, "until"},
		{"override until with auto", "PUT", "/v1/groups/g/override", `{"mode":"auto","until":"2030-01-01T00:00:00Z"}`, 400, codeInvalid, "until"},
		{"override until not RFC 3339", "PUT", "/v1/groups/g/override", `{"mode":"closed","until":"tomorrow"}`, 400, codeInvalid, "until"},
		{"member timeout too long", "PUT", "/v1/groups/g", `{"call_group":{"member_timeout_s":601}}`, 400, codeInvalid, "call_group.member_timeout_s"},
		{"negative member timeout", "PUT", "/v1/groups/g", `{"call_group":{"member_timeout_s":-1}}`, 400, codeInvalid, "call_group.member_timeout_s"},
		{"unknown user service", "PUT", "/v1/users/x", `{"services":["chat","teleport"]}`, 400, codeInvalid, "services"},
		{"bad CIDR", "PUT", "/v1/trunks/t", `{"addresses":["300.1.1.1/8"]}`, 400, codeInvalid, "addresses[0]"},
		{"bad line kind", "PUT", "/v1/lines/100", `{"owner":"tina","kind":"tertiary"}`, 400, codeInvalid, "kind"},
		{"unknown line owner", "PUT", "/v1/lines/100", `{"owner":"ghost"}`, 400, codeInvalid, "owner"},
		{"bad forwarding destination", "PUT", "/v1/lines/100/forwarding", `{"enabled":true,"destination":"home"}`, 400, codeInvalid, "destination"},
		{"bad busy forwarding", "PUT", "/v1/lines/100/forwarding", `{"busy":"home"}`, 400, codeInvalid, "busy"},
		{"no-answer delay too long", "PUT", "/v1/lines/100/forwarding", `{"no_answer":"200","no_answer_s":601}`, 400, codeInvalid, "no_answer_s"},
		{"availability without logged_in", "PUT", "/v1/groups/g/members/tina/availability", `{}`, 400, codeInvalid, "logged_in"},
		{"availability not a bool", "PUT", "/v1/groups/g/members/tina/availability", `{"logged_in":"yes"}`, 400, codeInvalid, "logged_in"},
		{"bad limit", "GET", "/v1/users?limit=abc", nil, 400, codeInvalid, "limit"},
		{"bad index", "GET", "/v1/global?index=-1", nil, 400, codeInvalid, "index"},
		{"text content type", "PUT", "/v1/global", `{}`, 415, codeUnsupportedMTy, "Content-Type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.name == "text content type" {
				headers = []string{"Content-Type", "text/plain"}
			}
			r := e.do(as("admin"), tc.method, tc.path, tc.body, headers...)
			if r.status != tc.status || r.errCode() != tc.code || !strings.Contains(string(r.body), tc.mentions) {
				t.Errorf("got %s, want %d %s mentioning %q", r, tc.status, tc.code, tc.mentions)
			}
		})
	}
}

// fuzzRoutes are the JSON handlers the fuzz test feeds.
var fuzzRoutes = []struct{ method, path string }{
	{"PUT", "/v1/users/fz"},
	{"PUT", "/v1/groups/fz"},
	{"PUT", "/v1/groups/fz/override"},
	{"PUT", "/v1/global"},
	{"PUT", "/v1/users/admin/grants/tina"},
	{"PUT", "/v1/admin/grants/tina/admin"},
	{"PUT", "/v1/lines/123"},
	{"PUT", "/v1/lines/123/forwarding"},
	{"PUT", "/v1/trunks/fz"},
	{"PUT", "/v1/groups/fz/members/tina/availability"},
}

// fuzzRequestTimeout is how long one fuzzed request may take: far more
// than any answer needs, far less than the write timeout.
const fuzzRequestTimeout = 5 * time.Second

// FuzzJSONHandlers sends arbitrary bodies to every JSON handler as the
// system owner: no answer may be a 500, none may panic, every answer is
// JSON.
func FuzzJSONHandlers(f *testing.F) {
	seeds := []string{
		`{}`, `{"display_name":"X","contact":{"additional_phones":["1"]}}`, `{"level":"team"}`,
		`{"rights":{"see_note":true,"av_see_line_state":"red"}}`, `{"members":[{"user":"tina","role":"owner"}],"leader":"tina"}`,
		`{"office_hours":{"weekly":{"mon":[["08:00","17:00"]]},"holidays":[{"date":"2026-12-24"}]}}`,
		`{"call_group":{"mode":"sip","number":"700","strategy":"round_robin"}}`, `{"mode":"closed"}`,
		`{"owner":"tina","sip_password":"secretsecret"}`, `{"enabled":true,"destination":"1"}`,
		`{"addresses":["10.0.0.0/8"]}`, `{"member_rights":{"x":1}}`, `null`, `[]`, `{"a":`, "\x00",
		`{"services":["chat"]}`, `{"mode":"open","until":"2030-01-01T00:00:00Z"}`, `{"call_group":{"member_timeout_s":30}}`,
		`{"busy":"1","no_answer":null,"no_answer_s":20}`, `{"logged_in":false}`,
		`{"level":"team","until":"2030-01-01T00:00:00Z"}`, `{"level":"team","until":null}`,
		`{"members":[{"user":"tina","until":"2030-01-01T00:00:00+02:00"}],"deputy":"admin","deputy_until":""}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	e := newEnv(f)
	e.seedUser("tina", "")
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("admin", testPassword)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.h.ServeHTTP(rec, req)
		}()
		select {
		case <-done:
		case <-time.After(fuzzRequestTimeout):
			t.Fatalf("%s %s %q: no answer within %v", rt.method, rt.path, body, fuzzRequestTimeout)
		}
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s %q → %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusNoContent && ct != "application/json" {
			t.Fatalf("%s %s %q → Content-Type %q", rt.method, rt.path, body, ct)
		}
	})
}
