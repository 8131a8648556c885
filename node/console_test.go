//go:build !race

// Built without -race: see server_test.go.

package node

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium (make test-deps installs it). Missing
// in CI it fails the test: CI installs it, so its absence is a broken
// set-up, not a reason to pass.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "the web console test needs Chromium: install Debian's chromium (make test-deps, or apt-get install chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser starts headless Chromium and returns the context of its first
// tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]), chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel)
	// The first Do starts the browser: no deadline on it (it would stop
	// the browser when it ends).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab opens another tab of the same browser (its own sessionStorage, so
// its own signed-in user).
func tab(t *testing.T, browserCtx context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// do runs browser steps with a deadline.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		// Show what the page said when it went wrong.
		page, perr := text(ctx, "body")
		t.Fatalf("%s: %v\npage (%v): %s", what, err, perr, page)
	}
}

// text reads an element's text.
func text(ctx context.Context, css string) (string, error) {
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(tctx, chromedp.Text(chromedp.CSS(css)))
}

func mustText(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := text(ctx, css)
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

// eval evaluates a JavaScript expression to a string.
func eval(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// waitJS polls a JavaScript condition until it is true.
func waitJS(cond string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond))
}

func signIn(base, user, pw string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#signin-user")),
		chromedp.SendKeys(chromedp.CSS("#signin-user"), user),
		chromedp.SendKeys(chromedp.CSS("#signin-password"), pw),
		chromedp.Click(chromedp.CSS(`#signin-form button[type="submit"]`)),
		waitJS(`document.getElementById("live").textContent === "live"`),
	)
}

func userState(user string) string {
	return fmt.Sprintf(`(document.querySelector('#monitor-groups [data-user=%q]')?.dataset.state ?? "missing")`, user)
}

// In a real browser: ben signs in to the console and sees anna's presence
// change live; carl, who shares nothing with ben, shows nothing; carl
// grants ben a level in his own console, and ben's monitor shows carl.
func TestConsole_MonitorIsLiveAndFollowsGrants(t *testing.T) {
	_, _, anna, _, carl := liveFixture(t)
	base := anna.base
	carl.must(http.StatusOK, "PUT", "/v1/users/carl/presence", map[string]any{"state": "dnd", "note": "secret"}, "")
	b := browser(t)

	do(t, b, "ben signs in", signIn(base, "ben", "ben-password"))
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "busy", "note": "with a customer"}, "")
	do(t, b, "anna's change shows live", waitJS(userState("anna")+` === "busy"`))
	if got := mustText(t, b, `#monitor-groups [data-user="anna"] .presence`); got != "Busy — with a customer" {
		t.Errorf("anna shows %q", got)
	}
	if got, st := mustText(t, b, `#monitor-groups [data-user="carl"] .presence`), eval(t, b, userState("carl")); got != "" || st != "" {
		t.Errorf("carl (no right) shows %q, state %q: want nothing", got, st)
	}

	// carl, in a tab of his own, gives ben the public level.
	c := tab(t, b)
	do(t, c, "carl grants ben public",
		signIn(base, "carl", "carl-password"),
		chromedp.Click(chromedp.CSS(`[data-tab="privacy"]`)),
		chromedp.SendKeys(chromedp.CSS("#grant-viewer"), "ben"),
		chromedp.SetValue(chromedp.CSS("#grant-level"), "public"),
		chromedp.Click(chromedp.CSS(`#grant-form button[type="submit"]`)),
		waitJS(`document.querySelector('#grants [data-viewer="ben"]') !== null`))
	do(t, b, "ben sees carl's state", waitJS(userState("carl")+` === "dnd"`))
	if got := mustText(t, b, `#monitor-groups [data-user="carl"] .presence`); got != "Do not disturb" {
		t.Errorf("carl (public) shows %q, want the state without the note", got)
	}
}

// A grant given for a while: the console sends the "until" of its form,
// shows the end in the grants table, and an end in the past is refused
// with the API's own message naming the field.
func TestConsole_GrantWithAnEnd(t *testing.T) {
	_, _, _, _, carl := liveFixture(t)
	b := browser(t)
	do(t, b, "carl opens his grants",
		signIn(carl.base, "carl", "carl-password"),
		chromedp.Click(chromedp.CSS(`[data-tab="privacy"]`)),
		chromedp.SendKeys(chromedp.CSS("#grant-viewer"), "ben"),
		chromedp.SetValue(chromedp.CSS("#grant-level"), "business"),
		chromedp.SetValue(chromedp.CSS("#grant-until"), "2001-01-01T10:00"),
		chromedp.Click(chromedp.CSS(`#grant-form button[type="submit"]`)),
		waitJS(`document.getElementById("status").textContent.startsWith("Could not change the grant")`))
	if got := mustText(t, b, "#status"); !strings.Contains(got, "until") {
		t.Errorf("a past end shows %q: want the API's refusal naming until", got)
	}
	if eval(t, b, `String(document.querySelector('#grants [data-viewer="ben"]') !== null)`) != "false" {
		t.Error("a refused grant shows in the table")
	}

	end := time.Now().Add(48 * time.Hour).Truncate(time.Minute)
	do(t, b, "carl grants ben business for two days",
		chromedp.SetValue(chromedp.CSS("#grant-until"), end.Local().Format("2006-01-02T15:04")),
		chromedp.Click(chromedp.CSS(`#grant-form button[type="submit"]`)),
		waitJS(`(document.querySelector('#grants [data-viewer="ben"]')?.textContent ?? "").includes("until")`))
	out, _ := carl.must(http.StatusOK, "GET", "/v1/users/carl/grants", nil, "")
	grants, _ := out["grants"].([]any)
	if len(grants) != 1 {
		t.Fatalf("stored grants %v: want ben's alone", out["grants"])
	}
	g, _ := grants[0].(map[string]any)
	until, _ := time.Parse(time.RFC3339, fmt.Sprint(g["until"]))
	if g["viewer"] != "ben" || !until.Equal(end) {
		t.Fatalf("stored grant %v: want ben's with until %v", g, end)
	}
}
