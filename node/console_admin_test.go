//go:build !race

// Built without -race: see server_test.go.

package node

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// adminFixture is liveFixture plus what the console's admin pages work
// on: anna's line 201 and ben's line 202, a trunk with an outbound
// password, and group support, where mia is manager and sam a member.
func adminFixture(t *testing.T) (s *Node, admin, anna, ben client) {
	t.Helper()
	s, admin, anna, ben, _ = liveFixture(t)
	admin.must(http.StatusCreated, "PUT", "/v1/lines/201", map[string]any{"owner": "anna"}, "")
	admin.must(http.StatusCreated, "PUT", "/v1/lines/202", map[string]any{"owner": "ben"}, "")
	admin.must(http.StatusCreated, "PUT", "/v1/trunks/carrier", map[string]any{"name": "Carrier", "addresses": []string{"192.0.2.0/24"},
		"outbound": map[string]any{"host": "sip.example.com", "username": "acct", "password": "trunk-secret"}}, "")
	for _, u := range []string{"mia", "sam"} {
		admin.must(http.StatusCreated, "PUT", "/v1/users/"+u, map[string]any{"display_name": strings.ToUpper(u[:1]) + u[1:], "password": u + "-password"}, "")
	}
	admin.must(http.StatusCreated, "PUT", "/v1/groups/support", map[string]any{"name": "Support", "active": true,
		"members": []map[string]string{{"user": "mia", "role": "manager"}, {"user": "sam", "role": "user"}}}, "")
	return s, admin, anna, ben
}

// syncStub serves the console through a reverse proxy to the node that
// answers GET /v1/ldap/status itself once status is set (the directory
// sync status route is another part of the system; until it is there,
// the node answers 404).
type syncStub struct {
	srv    *httptest.Server
	status atomic.Pointer[string]
}

func newSyncStub(t *testing.T, nodeBase string) *syncStub {
	t.Helper()
	u, err := url.Parse(nodeBase)
	if err != nil {
		t.Fatal(err)
	}
	st := &syncStub{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	st.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body := st.status.Load(); body != nil && r.URL.Path == "/v1/ldap/status" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, *body)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(st.srv.Close)
	return st
}

// click clicks the element css names.
func click(css string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(css)) }

// setValue sets the value of the form control css names.
func setValue(css, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(css), v)
}

// textIs waits until the element css names has the text want.
func textIs(css, want string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "") === %q`, css, want))
}

// apiMessage is the error message the API answers c with.
func apiMessage(t *testing.T, c client, method, path string, body any) string {
	t.Helper()
	code, out, _ := c.do(method, path, body, "")
	e, _ := out["error"].(map[string]any) // nil (and "" below) when the answer has none
	msg, _ := e["message"].(string)
	if code < 400 || msg == "" {
		t.Fatalf("%s %s as %s: %d %v, want a refusal with a message", method, path, c.user, code, out)
	}
	return msg
}

// unlabelled lists the form controls without a label or aria-label.
const unlabelled = `[...document.querySelectorAll("input, select, textarea")]` +
	`.filter((e) => e.labels.length === 0 && !e.getAttribute("aria-label")).map((e) => e.id || e.outerHTML).join(",")`

// visibleTabs lists the console's tabs the signed-in user sees.
const visibleTabs = `[...document.querySelectorAll(".tab")].filter((b) => !b.hidden).map((b) => b.dataset.tab).join(",")`

// In a real browser, the three kinds of people who use the console:
// the administrator creates a user and a line, sets a SIP password and
// forwards, edits a trunk, changes a global setting, reads the directory
// sync status, and sees the API's refusals word for word; a group manager
// administers the members of their group and no one else; a plain user
// sees no admin page and edits their own profile and forwarding.
func TestConsole_AdministratorManagerAndUserEachSeeTheirScope(t *testing.T) {
	s, admin, _, ben := adminFixture(t)
	base := "http://" + s.HTTPAddr()
	b := browser(t)

	t.Run("administrator", func(t *testing.T) {
		stub := newSyncStub(t, base)
		a := tab(t, b)
		do(t, a, "the administrator signs in", signIn(stub.srv.URL, AdminID, "admin-secret"),
			waitJS(`!document.querySelector('[data-tab="sync"]').hidden`))
		if got := eval(t, a, visibleTabs); got != "monitor,privacy,groups,profile,users,lines,trunks,settings,sync" {
			t.Errorf("the administrator's tabs: %s", got)
		}

		do(t, a, "creates dora and edits her contact data",
			click(`[data-tab="users"]`), waitJS(`document.querySelector('#user-list [data-user-row="anna"]') !== null`),
			chromedp.SendKeys(chromedp.CSS("#nu-id"), "dora"), chromedp.SendKeys(chromedp.CSS("#nu-name"), "Dora Diaz"),
			chromedp.SendKeys(chromedp.CSS("#nu-password"), "dora-password-1"), click(`#user-new button[type="submit"]`),
			textIs("#u-title", "dora"),
			setValue("#u-c-department", "Support"), setValue("#u-c-mobile", "+49 170 555"),
			click(`#user-form button[type="submit"]`), textIs("#status", "User dora saved."))
		dora, _ := admin.must(http.StatusOK, "GET", "/v1/users/dora", nil, "")
		if c := dora["contact"].(map[string]any); c["department"] != "Support" || c["mobile"] != "+49 170 555" || dora["display_name"] != "Dora Diaz" {
			t.Errorf("dora after the console's edit: %v", dora)
		}
		client{t, base, "dora", "dora-password-1"}.must(http.StatusOK, "GET", "/v1/me", nil, "")

		// A bad public number: the API's message, as given.
		want := apiMessage(t, admin, "PUT", "/v1/lines/399", map[string]any{"owner": "dora", "e164": "0049301"})
		do(t, a, "a line with a bad e164 is refused",
			click(`[data-tab="lines"]`), click("#line-new"),
			setValue("#l-number", "301"), setValue("#l-owner", "dora"), setValue("#l-e164", "0049301"),
			setValue("#l-sip", "sip-secret-301"), click(`#line-form button[type="submit"]`),
			textIs("#line-error", want))
		do(t, a, "fixed, the line is created with its SIP password",
			setValue("#l-e164", "+4930301"), click(`#line-form button[type="submit"]`),
			textIs("#l-sip-state", "SIP password: set"), textIs("#l-title", "301"))
		line, _ := admin.must(http.StatusOK, "GET", "/v1/lines/301", nil, "")
		if line["owner"] != "dora" || line["e164"] != "+4930301" || line["has_sip_password"] != true {
			t.Errorf("line 301: %v", line)
		}

		do(t, a, "forwards on busy to anna's line",
			setValue("#l-301-fw-busy", "201"), click(`[data-fw-line="301"] button[type="submit"]`),
			textIs("#status", "Forwarding of line 301 saved."))
		fw, _ := admin.must(http.StatusOK, "GET", "/v1/lines/301/forwarding", nil, "")
		if fw["busy"] != "201" || fw["busy_enabled"] != true || fw["enabled"] != false {
			t.Errorf("forwarding of 301: %v", fw)
		}
		want = apiMessage(t, admin, "PUT", "/v1/lines/301/forwarding", map[string]any{"unconditional": "0049301234"})
		do(t, a, "a forward the owner cannot dial is refused",
			setValue("#l-301-fw-unconditional", "0049301234"), click(`[data-fw-line="301"] button[type="submit"]`),
			textIs("#l-301-fw-error", want))

		do(t, a, "edits the trunk, keeping its password",
			click(`[data-tab="trunks"]`), click(`[data-trunk-row="carrier"] button`), textIs("#t-title", "carrier"),
			textIs("#t-password-state", "Password: set"),
			setValue("#t-name", "Carrier AG"), setValue("#t-addresses", "192.0.2.0/24\n198.51.100.0/24"),
			click(`#trunk-form button[type="submit"]`), textIs("#status", "Trunk carrier saved."))
		tr, _ := admin.must(http.StatusOK, "GET", "/v1/trunks/carrier", nil, "")
		if o := tr["outbound"].(map[string]any); tr["name"] != "Carrier AG" || fmt.Sprint(tr["addresses"]) != "[192.0.2.0/24 198.51.100.0/24]" || o["password_set"] != true {
			t.Errorf("trunk after the console's edit: %v", tr)
		}
		want = apiMessage(t, admin, "PUT", "/v1/trunks/carrier", map[string]any{"name": "x", "addresses": []string{"10.0.0.0/8"}})
		do(t, a, "a wide prefix is refused", setValue("#t-addresses", "10.0.0.0/8"),
			click(`#trunk-form button[type="submit"]`), textIs("#trunk-error", want))

		do(t, a, "changes the journal retention",
			click(`[data-tab="settings"]`), waitJS(`document.getElementById("settings").dataset.state === "ready"`),
			setValue("#gl-journal", "30"), click(`#global-form button[type="submit"]`), textIs("#status", "Global settings saved."))
		g, _ := admin.must(http.StatusOK, "GET", "/v1/global", nil, "")
		if g["journal_retention_days"] != 30.0 || g["level"] != "blocked" {
			t.Errorf("global after the console's edit: %v", g)
		}

		do(t, a, "directory sync: not configured (404)",
			click(`[data-tab="sync"]`), textIs("#sync-state", "Directory sync is not configured."))
		status := `{"configured":true,"status":{"node":"n1","started_at":"2026-12-06T05:00:00Z","finished_at":"2026-12-06T05:00:03Z",` +
			`"dry_run":false,"error":"","created":12,"updated":3,"disabled":1,"unchanged":280,` +
			`"problems":["uid=x,ou=people,dc=example,dc=com: duplicate id x"],"interval_s":300,"source":"ldaps://dc1.example.com"}}`
		stub.status.Store(&status)
		do(t, a, "directory sync: the last run", click("#sync-refresh"),
			textIs("#sync-state", "The last sync finished."), textIs(`#sync-status [data-field="created"]`, "12"),
			textIs(`#sync-status [data-field="source"]`, "ldaps://dc1.example.com"),
			textIs("#sync-problems li", "uid=x,ou=people,dc=example,dc=com: duplicate id x"))

		do(t, a, "disables dora", click(`[data-tab="users"]`), waitJS(`document.getElementById("users").dataset.state === "ready"`),
			click(`[data-user-row="dora"] button`), textIs("#u-title", "dora"), click("#u-disabled"),
			click(`#user-form button[type="submit"]`), textIs(`#user-list [data-user-row="dora"] td:nth-of-type(2)`, "disabled"))
		if code, out, _ := (client{t, base, "dora", "dora-password-1"}).do("GET", "/v1/me", nil, ""); code != http.StatusUnauthorized {
			t.Errorf("dora, disabled, signs in: %d %v", code, out)
		}

		// Every control of every page (the generated ones too) has a label
		// a screen reader reads.
		if got := eval(t, a, unlabelled); got != "" {
			t.Errorf("controls without a label: %s", got)
		}
	})

	t.Run("group manager", func(t *testing.T) {
		mia := client{t, base, "mia", "mia-password"}
		m := tab(t, b)
		do(t, m, "mia signs in", signIn(base, "mia", "mia-password"),
			waitJS(`!document.querySelector('[data-tab="users"]').hidden`))
		if got := eval(t, m, visibleTabs); got != "monitor,privacy,groups,profile,users,lines" {
			t.Errorf("the manager's tabs: %s", got)
		}
		do(t, m, "lists her group's members and resets sam's password",
			click(`[data-tab="users"]`), waitJS(`document.querySelector('#user-list [data-user-row="sam"]') !== null`),
			click(`[data-user-row="sam"] button`), textIs("#u-title", "sam"),
			setValue("#u-password", "sam-new-password"), click(`#user-form button[type="submit"]`),
			textIs("#status", "User sam saved. The new password is set and their sessions have ended."))
		client{t, base, "sam", "sam-new-password"}.must(http.StatusOK, "GET", "/v1/me", nil, "")
		if got := eval(t, m, `[...document.querySelectorAll("#user-list [data-user-row]")].map((r) => r.dataset.userRow).join(",")`); got != "sam" {
			t.Errorf("the manager's user list: %s, want sam alone", got)
		}
		if got := eval(t, m, `String(document.getElementById("u-services").hidden)`); got != "true" {
			t.Errorf("services shown to a manager (hidden=%s)", got)
		}
		want := apiMessage(t, mia, "GET", "/v1/users/anna", nil)
		do(t, m, "anna, outside her groups, is refused as the API says",
			setValue("#user-open-id", "anna"), click(`#user-open button[type="submit"]`), textIs("#users-error", want))
		mia.must(http.StatusForbidden, "PUT", "/v1/users/anna", map[string]any{"display_name": "Anna", "password": "taken-over-1"}, "")
		mia.must(http.StatusForbidden, "GET", "/v1/trunks", nil, "")
		mia.must(http.StatusForbidden, "PUT", "/v1/global", map[string]any{"level": "team"}, "")
	})

	t.Run("plain user", func(t *testing.T) {
		u := tab(t, b)
		do(t, u, "ben signs in", signIn(base, "ben", "ben-password"))
		if got := eval(t, u, visibleTabs); got != "monitor,privacy,groups,profile" {
			t.Errorf("a plain user's tabs: %s", got)
		}
		for _, route := range []struct{ method, path string }{{"GET", "/v1/users"}, {"GET", "/v1/lines"}, {"GET", "/v1/trunks"}} {
			ben.must(http.StatusForbidden, route.method, route.path, nil, "")
		}
		ben.must(http.StatusForbidden, "PUT", "/v1/global", map[string]any{"level": "team"}, "")
		ben.must(http.StatusForbidden, "PUT", "/v1/lines/201/forwarding", map[string]any{"unconditional": "202"}, "")

		do(t, u, "the arrow keys move between the tabs he may use",
			chromedp.Focus(chromedp.CSS(`[data-tab="groups"]`)), chromedp.KeyEvent(kb.ArrowRight),
			waitJS(`document.activeElement.dataset.tab === "profile" && !document.getElementById("profile").hidden`),
			chromedp.KeyEvent(kb.ArrowRight), waitJS(`document.activeElement.dataset.tab === "monitor"`))
		do(t, u, "edits his office", click(`[data-tab="profile"]`),
			waitJS(`document.getElementById("profile").dataset.state === "ready"`),
			setValue("#p-c-office", "B-12"), click(`#profile-form button[type="submit"]`), textIs("#status", "Profile saved."))
		me, _ := ben.must(http.StatusOK, "GET", "/v1/users/ben", nil, "")
		if me["contact"].(map[string]any)["office"] != "B-12" {
			t.Errorf("ben after the profile edit: %v", me)
		}
		do(t, u, "forwards his line on no answer",
			setValue("#my-202-fw-no_answer", "201"), setValue("#my-202-fw-no_answer_s", "20"),
			click(`[data-fw-line="202"] button[type="submit"]`), textIs("#status", "Forwarding of line 202 saved."))
		fw, _ := ben.must(http.StatusOK, "GET", "/v1/lines/202/forwarding", nil, "")
		if fw["no_answer"] != "201" || fw["no_answer_s"] != 20.0 {
			t.Errorf("forwarding of 202: %v", fw)
		}
	})
}
