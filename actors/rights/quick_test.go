package rights

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The engine against a deliberately naive reference over random directories.
// The reference reads the levels from the spec table in testdata, keeps
// rights as name → cell-string maps, finds members by linear search and
// takes the maximum of each right over an explicit list of layers.

var naiveGradeOrder = map[string][]string{
	"see_private_appointments": {"none", "busy", "details"},
	"av_see_line_state":        {"none", "gray", "red"},
}

func naiveRank(right, v string) int {
	if order, ok := naiveGradeOrder[right]; ok {
		return slices.Index(order, v)
	}
	if v == "1" {
		return 1
	}
	return 0
}

func naiveTop(right string) string {
	if order, ok := naiveGradeOrder[right]; ok {
		return order[len(order)-1]
	}
	return "1"
}

func naiveBottom(right string) string {
	if order, ok := naiveGradeOrder[right]; ok {
		return order[0]
	}
	return "0"
}

type naiveGrant struct {
	level  string            // a level name, or "" for individual rights
	rights map[string]string // individual rights: name → "1" or grade; absent = not given
}

type naiveGroup struct {
	id             string
	active         bool
	members        []string
	leader, deputy string
	member, lead   naiveGrant
}

type naiveDir struct {
	global  naiveGrant
	groups  []naiveGroup
	presets map[[2]string]naiveGrant // (target, viewer)
	grants  map[[2]string]naiveGrant
}

type naiveSpec struct {
	rights []string                     // in table order
	levels map[string]map[string]string // level → right → cell
	fields map[string][]string          // level → fields shown
	order  []string                     // level names, lowest first
}

func loadNaiveSpec(t *testing.T) naiveSpec {
	t.Helper()
	spec := naiveSpec{levels: map[string]map[string]string{}, fields: map[string][]string{}}
	rt, ft := readTSV(t, "rights.tsv"), readTSV(t, "contact_fields.tsv")
	spec.order = rt.header[1:6]
	for i, lv := range spec.order {
		spec.levels[lv] = map[string]string{}
		for _, row := range rt.rows {
			spec.levels[lv][row[0]] = cell(row, i+1)
		}
		for _, row := range ft.rows {
			if cell(row, i+1) == "1" {
				spec.fields[lv] = append(spec.fields[lv], row[0])
			}
		}
	}
	for _, row := range rt.rows {
		spec.rights = append(spec.rights, row[0])
	}
	return spec
}

func (spec naiveSpec) values(g naiveGrant) map[string]string {
	if g.level != "" {
		return spec.levels[g.level]
	}
	out := map[string]string{}
	for _, r := range spec.rights {
		out[r] = naiveBottom(r)
		if v, ok := g.rights[r]; ok {
			out[r] = v
		}
	}
	return out
}

type naiveAnswer struct {
	values  map[string]string
	because map[string][]string
	level   string
	fields  []string
}

func (spec naiveSpec) effective(d naiveDir, viewer, target string) naiveAnswer {
	a := naiveAnswer{values: map[string]string{}, because: map[string][]string{}}
	if viewer == target {
		for _, r := range spec.rights {
			a.values[r] = naiveTop(r)
			a.because[r] = []string{"self"}
		}
	} else {
		type layer struct {
			src  string
			vals map[string]string
		}
		layers := []layer{{"global", spec.values(d.global)}}
		for _, g := range d.groups {
			if g.active && slices.Contains(g.members, target) && slices.Contains(g.members, viewer) {
				layers = append(layers, layer{"group:" + g.id, spec.values(g.member)})
			}
		}
		for _, g := range d.groups {
			leads := viewer != "" && (g.leader == viewer || g.deputy == viewer)
			if g.active && slices.Contains(g.members, target) && leads {
				layers = append(layers, layer{"leader:" + g.id, spec.values(g.lead)})
			}
		}
		if p, ok := d.presets[[2]string{target, viewer}]; ok {
			layers = append(layers, layer{"preset", spec.values(p)})
		}
		if u, ok := d.grants[[2]string{target, viewer}]; ok {
			layers = append(layers, layer{"user", spec.values(u)})
		}
		for _, r := range spec.rights {
			best := naiveBottom(r)
			for _, l := range layers {
				if naiveRank(r, l.vals[r]) > naiveRank(r, best) {
					best = l.vals[r]
				}
			}
			a.values[r] = best
			for _, l := range layers {
				if best != naiveBottom(r) && l.vals[r] == best {
					a.because[r] = append(a.because[r], l.src)
				}
			}
		}
	}
	a.level = "special"
	fieldLevel := spec.order[0]
	for _, lv := range spec.order {
		equal, covers := true, true
		for _, r := range spec.rights {
			equal = equal && spec.levels[lv][r] == a.values[r]
			covers = covers && naiveRank(r, spec.levels[lv][r]) <= naiveRank(r, a.values[r])
		}
		if equal {
			a.level = lv
		}
		if covers {
			fieldLevel = lv
		}
	}
	a.fields = spec.fields[fieldLevel]
	return a
}

// randomDir builds a random directory and the engine's view of it.
func randomDir(rng *rand.Rand, spec naiveSpec, users []string) (naiveDir, Grant, []*Group, map[[2]string]*Grant, map[[2]string]*Grant) {
	randGrant := func() naiveGrant {
		if rng.IntN(2) == 0 {
			return naiveGrant{level: spec.order[rng.IntN(len(spec.order))]}
		}
		m := map[string]string{}
		for _, r := range spec.rights {
			if rng.IntN(4) == 0 {
				if order, ok := naiveGradeOrder[r]; ok {
					m[r] = order[1+rng.IntN(len(order)-1)]
				} else {
					m[r] = "1"
				}
			}
		}
		return naiveGrant{rights: m}
	}
	pick := func() string {
		if rng.IntN(3) == 0 {
			return ""
		}
		return users[rng.IntN(len(users))]
	}
	d := naiveDir{global: randGrant(), presets: map[[2]string]naiveGrant{}, grants: map[[2]string]naiveGrant{}}
	for i := range 1 + rng.IntN(5) {
		g := naiveGroup{id: fmt.Sprintf("g%d", i), active: rng.IntN(4) != 0, leader: pick(), deputy: pick(), member: randGrant(), lead: randGrant()}
		for _, u := range users {
			if rng.IntN(2) == 0 {
				g.members = append(g.members, u)
			}
		}
		d.groups = append(d.groups, g)
	}
	for range rng.IntN(2 * len(users)) {
		pair := [2]string{users[rng.IntN(len(users))], users[rng.IntN(len(users))]}
		if rng.IntN(2) == 0 {
			d.presets[pair] = randGrant()
		} else {
			d.grants[pair] = randGrant()
		}
	}
	toGrant := func(g naiveGrant) Grant {
		if g.level != "" {
			l, _ := ParseLevel(g.level) // names come from the spec header, which TestCatalogue checks
			return LevelGrant(l)
		}
		var s Set
		for name, v := range g.rights {
			r, _ := ParseRight(name) // names come from the spec table, which TestCatalogue checks
			if r.Graded() {
				gr, _ := r.ParseGrade(v) // grades come from naiveGradeOrder, checked by TestLevelSet_EveryRightCell
				s = s.With(r, gr)
			} else {
				s = s.With(r, 1)
			}
		}
		return RightsGrant(s)
	}
	var groups []*Group
	for _, g := range d.groups {
		eg := &Group{ID: g.id, Active: g.active, Leader: g.leader, Deputy: g.deputy,
			MemberGrant: toGrant(g.member), LeaderGrant: toGrant(g.lead), Members: map[string]struct{}{}}
		for _, m := range g.members {
			eg.Members[m] = struct{}{}
		}
		groups = append(groups, eg)
	}
	conv := func(m map[[2]string]naiveGrant) map[[2]string]*Grant {
		out := map[[2]string]*Grant{}
		for k, v := range m {
			g := toGrant(v)
			out[k] = &g
		}
		return out
	}
	return d, toGrant(d.global), groups, conv(d.presets), conv(d.grants)
}

func TestEffective_MatchesNaiveReference(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	spec := loadNaiveSpec(t)
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	for round := range 400 {
		d, global, groups, presets, grants := randomDir(rng, spec, users)
		for _, v := range users {
			for _, tg := range users {
				p := &Pair{Viewer: v, Target: tg, Global: global, Groups: groups,
					Preset: presets[[2]string{tg, v}], User: grants[[2]string{tg, v}]}
				want := spec.effective(d, v, tg)
				if msg := compareAnswer(Explain(p), Effective(p), want); msg != "" {
					t.Fatalf("seed %d round %d, %s over %s: %s\ndirectory: %+v", seed, round, v, tg, msg, d)
				}
			}
		}
	}
}

func compareAnswer(e Explanation, fast Set, want naiveAnswer) string {
	if fast != e.Set {
		return fmt.Sprintf("Effective %s != Explain %s", fast, e.Set)
	}
	for i := range NumRights {
		r := Right(i)
		got := r.GradeName(e.Set.Grade(r))
		if !r.Graded() {
			got = map[bool]string{true: "1", false: "0"}[e.Set.Has(r)]
		}
		if got != want.values[r.Name()] {
			return fmt.Sprintf("%s = %s, reference %s", r, got, want.values[r.Name()])
		}
		var srcs []string
		for _, s := range e.Because[i] {
			srcs = append(srcs, s.String())
		}
		if !slices.Equal(srcs, want.because[r.Name()]) {
			return fmt.Sprintf("%s because %v, reference %v", r, srcs, want.because[r.Name()])
		}
	}
	if got := e.Level().String(); got != want.level {
		return fmt.Sprintf("level %s, reference %s", got, want.level)
	}
	if got := e.Fields().Names(); !slices.Equal(got, want.fields) {
		return fmt.Sprintf("fields %v, reference %v", got, want.fields)
	}
	return ""
}
