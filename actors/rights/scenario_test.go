package rights

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Scenario files under testdata/scenarios describe a directory and what the
// engine must answer about it, one command a line ('#' starts a comment):
//
//	global GRANT
//	group ID [inactive] members=a,b [level=GRANT] [leader=X] [deputy=Y] [leader_level=GRANT]
//	preset TARGET VIEWER GRANT
//	grant TARGET VIEWER GRANT
//	expect VIEWER TARGET level=L | RIGHT=VALUE [because=SRC,SRC|-]
//	fields VIEWER TARGET NAME,NAME,...
//	usergrant TARGET VIEWER allowed|locked
//
// GRANT is a level name or "rights:" followed by comma-separated rights, each
// bare (a boolean right given) or RIGHT=GRADE.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

type scenario struct {
	global  Grant
	groups  []*Group
	presets map[[2]string]*Grant
	grants  map[[2]string]*Grant
}

func (sc *scenario) pair(viewer, target string) *Pair {
	return &Pair{
		Viewer: viewer, Target: target,
		Global: sc.global, Groups: sc.groups,
		Preset: sc.presets[[2]string{target, viewer}],
		User:   sc.grants[[2]string{target, viewer}],
	}
}

func runScenario(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := &scenario{presets: map[[2]string]*Grant{}, grants: map[[2]string]*Grant{}}
	in := bufio.NewScanner(f)
	for n := 1; in.Scan(); n++ {
		line, _, _ := strings.Cut(in.Text(), "#")
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		loc := filepath.Base(path) + ":" + strconv.Itoa(n)
		sc.step(t, loc, words)
	}
}

func (sc *scenario) step(t *testing.T, loc string, w []string) {
	t.Helper()
	need := func(k int) {
		if len(w) < k {
			t.Fatalf("%s: %q needs %d words", loc, w[0], k)
		}
	}
	switch w[0] {
	case "global":
		need(2)
		sc.global = parseGrant(t, loc, w[1])
	case "group":
		need(2)
		sc.groups = append(sc.groups, parseGroup(t, loc, w[1:]))
	case "preset", "grant":
		need(4)
		g := parseGrant(t, loc, w[3])
		m := sc.grants
		if w[0] == "preset" {
			m = sc.presets
		}
		m[[2]string{w[1], w[2]}] = &g
	case "expect":
		need(4)
		sc.expect(t, loc, w[1], w[2], w[3:])
	case "fields":
		need(4)
		got := strings.Join(Explain(sc.pair(w[1], w[2])).Fields().Names(), ",")
		if got != w[3] {
			t.Errorf("%s: %s sees of %s fields %s, want %s", loc, w[1], w[2], got, w[3])
		}
	case "usergrant":
		need(4)
		err := CheckUserGrant(sc.presets[[2]string{w[1], w[2]}])
		if got := map[bool]string{true: "allowed", false: "locked"}[err == nil]; got != w[3] {
			t.Errorf("%s: %s changing their grant to %s is %s, want %s", loc, w[1], w[2], got, w[3])
		}
	default:
		t.Fatalf("%s: unknown command %q", loc, w[0])
	}
}

func (sc *scenario) expect(t *testing.T, loc, viewer, target string, args []string) {
	t.Helper()
	p := sc.pair(viewer, target)
	e := Explain(p)
	if Effective(p) != e.Set {
		t.Errorf("%s: Effective %s and Explain %s disagree", loc, Effective(p), e.Set)
	}
	var right Right
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", loc, a)
		}
		switch k {
		case "level":
			if got := e.Level().String(); got != v {
				t.Errorf("%s: %s over %s is %s (%s), want %s", loc, viewer, target, got, e.Set, v)
			}
		case "because":
			var got []string
			for _, s := range e.Because[right] {
				got = append(got, s.String())
			}
			want := strings.Split(v, ",")
			if v == "-" {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s over %s: %s because %v, want %v", loc, viewer, target, right, got, want)
			}
		default:
			r, err := ParseRight(k)
			if err != nil {
				t.Fatalf("%s: %v", loc, err)
			}
			right = r
			if got := r.GradeName(e.Set.Grade(r)); got != v {
				t.Errorf("%s: %s over %s: %s=%s, want %s", loc, viewer, target, r, got, v)
			}
		}
	}
}

func parseGroup(t *testing.T, loc string, w []string) *Group {
	t.Helper()
	g := &Group{ID: w[0], Active: true, Members: map[string]struct{}{}}
	for _, a := range w[1:] {
		if a == "inactive" {
			g.Active = false
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", loc, a)
		}
		switch k {
		case "members":
			for _, m := range strings.Split(v, ",") {
				g.Members[m] = struct{}{}
			}
		case "level":
			g.MemberGrant = parseGrant(t, loc, v)
		case "leader":
			g.Leader = v
		case "deputy":
			g.Deputy = v
		case "leader_level":
			g.LeaderGrant = parseGrant(t, loc, v)
		default:
			t.Fatalf("%s: unknown group option %q", loc, k)
		}
	}
	return g
}

func parseGrant(t *testing.T, loc, s string) Grant {
	t.Helper()
	list, ok := strings.CutPrefix(s, "rights:")
	if !ok {
		l, err := ParseLevel(s)
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		return LevelGrant(l)
	}
	m := map[string]any{}
	for _, item := range strings.Split(list, ",") {
		if k, v, graded := strings.Cut(item, "="); graded {
			m[k] = v
		} else if item != "" {
			m[item] = true
		}
	}
	set, err := SetFromMap(m)
	if err != nil {
		t.Fatalf("%s: %v", loc, err)
	}
	return RightsGrant(set)
}
