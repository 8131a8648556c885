package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// benchRun runs `ucgrid bench ARGS` in this process with its nodes as
// child processes (this test binary re-executed as `ucgrid serve`: an
// in-process protoactor-go node trips the race detector, PITFALLS.md),
// checks the exit code, the table and the JSON, and returns the result.
func benchRun(t *testing.T, args ...string) map[string]any {
	t.Helper()
	// The children inherit the environment: they run main, and their
	// races inside protoactor-go do not fail them (serve_test.go).
	t.Setenv(childEnv, "1")
	t.Setenv("GORACE", "exitcode=0")
	out := filepath.Join(t.TempDir(), "result.json")
	var stdout, stderr bytes.Buffer
	args = append([]string{"bench"}, append(args, "--procs", "--json", out)...)
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("ucgrid %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	t.Logf("ucgrid %s:\n%s", strings.Join(args, " "), stdout.String())
	if !strings.Contains(stdout.String(), "p99 ms") {
		t.Errorf("no table in %q", stdout.String())
	}
	var res map[string]any
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "metrics", "machine", "config"} {
		if res[k] == nil {
			t.Errorf("JSON result lacks %q: %s", k, b)
		}
	}
	return res
}

// metricCount returns the count and errors of the named metric.
func metricCount(t *testing.T, res map[string]any, name string) (count, errors float64) {
	t.Helper()
	for _, m := range res["metrics"].([]any) {
		m := m.(map[string]any)
		if m["name"] == name {
			return m["count"].(float64), m["errors"].(float64)
		}
	}
	t.Fatalf("no metric %q in %v", name, res["metrics"])
	return 0, 0
}

// Every scenario runs for about a second on a small generated directory
// and measures something without failures: the harness keeps working as
// the server changes. (Speed is measured by `make bench`, not asserted.)
func TestBench_EveryScenarioRunsBriefly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ucgrid nodes")
	}
	dir := t.TempDir()
	t.Run("rights", func(t *testing.T) {
		res := benchRun(t, "rights", "--duration", "1s", "--users", "20", "--groups", "4", "--concurrency", "4",
			"--scrape", filepath.Join(dir, "rights.prom"))
		if n, _ := metricCount(t, res, "explain over HTTP"); n == 0 {
			t.Error("no rights check measured")
		}
	})
	t.Run("presence", func(t *testing.T) {
		res := benchRun(t, "presence", "--duration", "1s", "--watchers", "20", "--viewers", "4", "--rate", "20",
			"--scrape", filepath.Join(dir, "presence.prom"))
		if n, errs := metricCount(t, res, "delivery (change→watcher)"); n == 0 || errs > 0 {
			t.Errorf("deliveries %v, errors %v", n, errs)
		}
	})
	t.Run("presence-floor", func(t *testing.T) {
		res := benchRun(t, "presence", "--floor", "--duration", "1s", "--watchers", "20", "--viewers", "4", "--rate", "20")
		if n, errs := metricCount(t, res, "floor: delivery (change→watcher)"); n == 0 || errs > 0 {
			t.Errorf("floor deliveries %v, errors %v", n, errs)
		}
		figures := map[string]float64{}
		for _, f := range res["figures"].([]any) {
			f := f.(map[string]any)
			figures[f["name"].(string)] = f["value"].(float64)
		}
		for _, name := range []string{"ucgrid CPU per delivery", "floor CPU per delivery", "ucgrid / floor CPU per delivery"} {
			if figures[name] <= 0 {
				t.Errorf("figure %q: %v (figures %v)", name, figures[name], figures)
			}
		}
	})
	t.Run("hunt", func(t *testing.T) {
		res := benchRun(t, "hunt", "--duration", "1s", "--users", "9", "--groups", "3", "--rate", "20",
			"--banks", "2", "--callers", "2", "--scrape", filepath.Join(dir, "hunt.prom"), "--plot", filepath.Join(dir, "hunt.svg"))
		if n, _ := metricCount(t, res, "INVITE→200 (call)"); n == 0 {
			t.Error("no call answered")
		}
		if svg, err := os.ReadFile(filepath.Join(dir, "hunt.svg")); err != nil || !bytes.Contains(svg, []byte("<polyline")) {
			t.Errorf("plot: %v %.200s", err, svg)
		}
	})
	t.Run("register", func(t *testing.T) {
		res := benchRun(t, "register", "--duration", "1s", "--users", "10", "--rate", "50", "--banks", "1", "--callers", "1")
		if n, errs := metricCount(t, res, "REGISTER (digest)"); n == 0 || errs > 0 {
			t.Errorf("registrations %v, errors %v", n, errs)
		}
	})
	t.Run("failover", func(t *testing.T) {
		res := benchRun(t, "failover", "--duration", "4s", "--kill-after", "1s", "--users", "9", "--groups", "3",
			"--rate", "20", "--call-timeout", "2s", "--banks", "1", "--callers", "2")
		if n, _ := metricCount(t, res, "INVITE→200 (call)"); n == 0 {
			t.Error("no call answered")
		}
	})
	checkMetricsDocs(t, dir)
}

var (
	exposedName = regexp.MustCompile(`(?m)^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) `)
	docName     = regexp.MustCompile("`(ucgrid_[a-z0-9_]+)`")
	exprName    = regexp.MustCompile(`\b((?:ucgrid|process|go)_[a-z0-9_]+)`)
)

// checkMetricsDocs compares what the nodes exposed during the scenarios
// with docs/metrics.md and the Grafana dashboard.
func checkMetricsDocs(t *testing.T, dir string) {
	t.Helper()
	exposed := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.prom")) // the pattern is valid
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range exposedName.FindAllStringSubmatch(string(b), -1) {
			exposed[m[1]] = true
		}
	}
	if !exposed["ucgrid_sip_calls_total"] || !exposed["ucgrid_raft_state"] {
		t.Fatalf("scrapes lack the expected metrics: %v", exposed)
	}
	docs, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range docName.FindAllStringSubmatch(string(docs), -1) {
		documented[m[1]] = true
	}
	for name := range exposed {
		if strings.HasPrefix(name, "ucgrid_") && !documented[name] {
			t.Errorf("docs/metrics.md does not list %s, which a node exposes", name)
		}
	}
	dash, err := os.ReadFile("../../docs/grafana/ucgrid.json")
	if err != nil {
		t.Fatal(err)
	}
	exprs := dashboardExprs(t, dash)
	if len(exprs) < 10 {
		t.Fatalf("dashboard has %d expressions", len(exprs))
	}
	for _, e := range exprs {
		for _, m := range exprName.FindAllString(e, -1) {
			base := m
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(m, suf); ok && (exposed[b] || documented[b]) {
					base = b
				}
			}
			if !exposed[base] && !documented[base] {
				t.Errorf("dashboard expression %q names %s: no node exposes it and docs/metrics.md does not list it", e, m)
			}
		}
	}
}

// dashboardExprs returns every target expression of a Grafana dashboard.
func dashboardExprs(t *testing.T, dash []byte) []string {
	t.Helper()
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return slices.Compact(out)
}

// `ucgrid bench help` names every scenario there is, and each scenario's
// --help lists its own flags.
func TestBench_UsageNamesEveryScenario(t *testing.T) {
	for name := range scenarios {
		if !regexp.MustCompile(`(?m)^  ` + name + ` `).MatchString(benchUsage) {
			t.Errorf("bench usage does not name scenario %q", name)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "rolling", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("bench rolling --help: exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"-settle", "-stop-timeout", "-back-timeout", "-hold", "-rate"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("bench rolling --help lacks %s:\n%s", f, stderr.String())
		}
	}
}

// The sipp generator drives SIPp phones and a SIPp trunk caller (hunt),
// and a SIPp REGISTER loop (register), against a node the bench starts:
// calls and REGISTERs complete, none fails, and the JSON carries the
// counts and the node's CPU per call.
func TestBench_SIPpGenerator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ucgrid nodes")
	}
	needSIPp(t)
	t.Run("hunt", func(t *testing.T) {
		res := benchRun(t, "hunt", "--generator", "sipp", "--duration", "2s", "--rate", "10")
		if n, errs := metricCount(t, res, "INVITE→200 (call)"); n == 0 || errs > 0 {
			t.Errorf("calls answered %v, failed %v", n, errs)
		}
		if n, _ := metricCount(t, res, "INVITE→180"); n == 0 {
			t.Error("no INVITE→180 measured")
		}
		wantFigures(t, res, "calls attempted", "calls completed", "calls failed", "calls/s attempted",
			"calls/s completed", "server CPU per call")
	})
	t.Run("register", func(t *testing.T) {
		res := benchRun(t, "register", "--generator", "sipp", "--duration", "1s", "--rate", "20", "--users", "10")
		if n, errs := metricCount(t, res, "REGISTER (digest)"); n == 0 || errs > 0 {
			t.Errorf("registrations %v, errors %v", n, errs)
		}
		wantFigures(t, res, "REGISTERs completed", "REGISTERs/s attempted", "server CPU per REGISTER")
	})
}

// wantFigures checks that the JSON result has the named figures, and
// that completed counts are above zero and failed ones zero.
func wantFigures(t *testing.T, res map[string]any, names ...string) {
	t.Helper()
	figs := map[string]float64{}
	for _, f := range res["figures"].([]any) {
		f := f.(map[string]any)
		figs[f["name"].(string)] = f["value"].(float64)
	}
	for _, n := range names {
		v, ok := figs[n]
		switch {
		case !ok:
			t.Errorf("JSON result lacks figure %q: %v", n, figs)
		case strings.HasSuffix(n, "failed") && v != 0, strings.Contains(n, "completed") && v == 0:
			t.Errorf("figure %q = %v", n, v)
		}
	}
}

// Bad generator flags stop the bench with one line naming the flag,
// exit status 2, before anything starts.
func TestBench_GeneratorFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"hunt", "--generator", "foo"}, `--generator "foo": want go or sipp`},
		{[]string{"register", "--generator", "foo"}, `--generator "foo": want go or sipp`},
		{[]string{"hunt", "--generator", "sipp", "--target-sip", "127.0.0.1"}, `--target-sip "127.0.0.1": want HOST:PORT`},
		{[]string{"hunt", "--target-sip", "127.0.0.1:99999"}, `--target-sip "127.0.0.1:99999": want HOST:PORT with a port`},
		{[]string{"hunt", "--generator", "sipp", "--sip-lines", "201"}, `--sip-lines "201": want NUMBER:PASSWORD`},
		{[]string{"register", "--generator", "sipp"}, "--generator sipp is open loop: give --rate"},
		{[]string{"register", "--sip-lines", "201:pw"}, "--sip-lines, --sip-group and --server-pid go with --generator sipp"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"bench"}, tc.args...), &stdout, &stderr)
		msg := stderr.String()
		if code != 2 || !strings.Contains(msg, tc.want) || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
			t.Errorf("ucgrid bench %v: exit %d, stderr %q; want exit 2 and one line with %q", tc.args, code, msg, tc.want)
		}
	}
}

// A foreign SIP server (--target-sip without --target) needs its lines
// and group named; without them the sipp generator says so in one line.
func TestBench_SIPpForeignServerNeedsLines(t *testing.T) {
	needSIPp(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "hunt", "--generator", "sipp", "--rate", "10", "--target-sip", "127.0.0.1:5070"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "needs its lines (--sip-lines)") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
