package rights

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// Scenario files under testdata/scenarios describe a directory and what
// the engine answers about it, in the format of
// github.com/cockroachdb/datadriven: a command, "----" and its output
// ('#' starts a comment):
//
//	global GRANT
//	group ID [inactive] members=a,b [level=GRANT] [leader=X] [deputy=Y] [leader_level=GRANT]
//	preset TARGET VIEWER GRANT
//	grant TARGET VIEWER GRANT
//	explain VIEWER TARGET [RIGHT ...]   prints the level, and each right's grade and sources
//	fields VIEWER TARGET                prints the contact fields the viewer sees
//	usergrant TARGET VIEWER             prints whether the target may change their grant
//
// GRANT is a level name or "rights:" followed by comma-separated rights, each
// bare (a boolean right given) or RIGHT=GRADE. Run with -rewrite to
// regenerate the output after a deliberate change.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "scenarios"), func(t *testing.T, path string) {
		sc := &scenario{presets: map[[2]string]*Grant{}, grants: map[[2]string]*Grant{}}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			words := []string{d.Cmd}
			for _, a := range d.CmdArgs {
				words = append(words, a.String())
			}
			return sc.step(t, d.Pos, words)
		})
	})
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

func (sc *scenario) step(t *testing.T, loc string, w []string) string {
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
	case "explain":
		need(3)
		return sc.explain(t, loc, w[1], w[2], w[3:])
	case "fields":
		need(3)
		return strings.Join(Explain(sc.pair(w[1], w[2])).Fields().Names(), ",")
	case "usergrant":
		need(3)
		if CheckUserGrant(sc.presets[[2]string{w[1], w[2]}]) != nil {
			return "locked"
		}
		return "allowed"
	default:
		t.Fatalf("%s: unknown command %q", loc, w[0])
	}
	return ""
}

// explain prints what viewer holds over target: the level, then each of
// rights with its grade and the layers it comes from.
func (sc *scenario) explain(t *testing.T, loc, viewer, target string, rights []string) string {
	t.Helper()
	p := sc.pair(viewer, target)
	e := Explain(p)
	if Effective(p) != e.Set {
		t.Errorf("%s: Effective %s and Explain %s disagree", loc, Effective(p), e.Set)
	}
	out := []string{"level " + e.Level().String()}
	for _, name := range rights {
		r, err := ParseRight(name)
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		var because []string
		for _, s := range e.Because[r] {
			because = append(because, s.String())
		}
		if len(because) == 0 {
			because = []string{"-"}
		}
		out = append(out, r.String()+"="+r.GradeName(e.Set.Grade(r))+" because "+strings.Join(because, ","))
	}
	return strings.Join(out, "\n")
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
