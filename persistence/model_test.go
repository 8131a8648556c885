package persistence

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// TestIndexes_AgreeWithNaiveModel applies random commands to the FSM and
// to an obviously correct in-memory model, and after every step compares
// the accept/reject outcome and every index read with what the model
// derives by brute force.
func TestIndexes_AgreeWithNaiveModel(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	h := newHarness(t)
	m := newModel()
	steps := 1500
	if testing.Short() {
		steps = 300
	}
	for step := range steps {
		cmd, wantOK := m.random(rng)
		err := h.apply(cmd)[0]
		if (err == nil) != wantOK {
			t.Fatalf("step %d: %v: err = %v, model accepts = %v", step, cmd, err, wantOK)
		}
		var ce *CommandError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("step %d: internal error %v", step, err)
		}
		m.compare(t, step, h.s)
	}
}

var (
	modelUsers   = []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	modelGroups  = []string{"g0", "g1", "g2", "g3"}
	modelNumbers = []string{"100", "101", "102", "103", "700", "701"}
)

type modelGroup struct {
	members        map[string]string // user → role
	leader, deputy string
	number         string
}

type modelLine struct{ owner, kind string }

type model struct {
	users  map[string]bool
	groups map[string]modelGroup
	lines  map[string]modelLine
	grants map[Layer]map[[2]string]string // (target, viewer) → level
}

func newModel() *model {
	return &model{users: map[string]bool{}, groups: map[string]modelGroup{}, lines: map[string]modelLine{},
		grants: map[Layer]map[[2]string]string{LayerUser: {}, LayerPreset: {}}}
}

func pick(rng *rand.Rand, from []string) string { return from[rng.IntN(len(from))] }

// random returns a random command and whether the model accepts it,
// applying it to the model when it does.
func (m *model) random(rng *rand.Rand) (*dirpb.Command, bool) {
	switch rng.IntN(10) {
	case 0, 1:
		u := pick(rng, modelUsers)
		m.users[u] = true
		return putUser(u), true
	case 2:
		u := pick(rng, modelUsers)
		return deleteUser(u), m.deleteUser(u)
	case 3, 4:
		return m.randomGroup(rng)
	case 5:
		g := pick(rng, modelGroups)
		_, ok := m.groups[g]
		delete(m.groups, g)
		return deleteGroup(g), ok
	case 6:
		return m.randomLine(rng)
	case 7:
		n := pick(rng, modelNumbers)
		_, ok := m.lines[n]
		delete(m.lines, n)
		return deleteLine(n), ok
	default:
		return m.randomGrant(rng)
	}
}

func (m *model) deleteUser(u string) bool {
	if !m.users[u] {
		return false
	}
	delete(m.users, u)
	for id, g := range m.groups {
		delete(g.members, u)
		if g.leader == u {
			g.leader = ""
		}
		if g.deputy == u {
			g.deputy = ""
		}
		m.groups[id] = g
	}
	for n, l := range m.lines {
		if l.owner == u {
			delete(m.lines, n)
		}
	}
	for _, layer := range m.grants {
		for pair := range layer {
			if pair[0] == u || pair[1] == u {
				delete(layer, pair)
			}
		}
	}
	return true
}

func (m *model) randomGroup(rng *rand.Rand) (*dirpb.Command, bool) {
	id := pick(rng, modelGroups)
	g := &dirpb.Group{Id: id}
	mg := modelGroup{members: map[string]string{}}
	ok := true
	for _, u := range modelUsers {
		if rng.IntN(3) == 0 {
			role := pick(rng, memberRoles)
			g.Members = append(g.Members, &dirpb.Member{User: u, Role: role})
			mg.members[u] = role
			ok = ok && m.users[u]
		}
	}
	if rng.IntN(2) == 0 {
		g.Leader = pick(rng, modelUsers)
		mg.leader = g.Leader
		ok = ok && m.users[g.Leader]
	}
	if rng.IntN(3) == 0 {
		g.Deputy = pick(rng, modelUsers)
		mg.deputy = g.Deputy
		ok = ok && m.users[g.Deputy] && g.Deputy != g.Leader
	}
	if rng.IntN(2) == 0 {
		mg.number = pick(rng, modelNumbers)
		g.CallGroup = &dirpb.CallGroup{Mode: "sip", Number: mg.number}
		ok = ok && m.numberFree(mg.number, id)
	}
	if ok {
		m.groups[id] = mg
	}
	return putGroup(g), ok
}

func (m *model) numberFree(number, group string) bool {
	if _, isLine := m.lines[number]; isLine {
		return false
	}
	for id, g := range m.groups {
		if id != group && g.number == number {
			return false
		}
	}
	return true
}

func (m *model) randomLine(rng *rand.Rand) (*dirpb.Command, bool) {
	l := modelLine{owner: pick(rng, modelUsers), kind: pick(rng, lineKinds)}
	number := pick(rng, modelNumbers)
	ok := m.users[l.owner]
	for _, g := range m.groups {
		ok = ok && g.number != number
	}
	if l.kind == "primary" {
		for n, other := range m.lines {
			ok = ok && (n == number || other.owner != l.owner || other.kind != "primary")
		}
	}
	if ok {
		m.lines[number] = l
	}
	return putLine(&dirpb.Line{Number: number, Owner: l.owner, Kind: l.kind}), ok
}

func (m *model) randomGrant(rng *rand.Rand) (*dirpb.Command, bool) {
	layer := Layer(rng.IntN(2) + 1)
	pair := [2]string{pick(rng, modelUsers), pick(rng, modelUsers)}
	if rng.IntN(3) == 0 {
		_, ok := m.grants[layer][pair]
		delete(m.grants[layer], pair)
		c := &dirpb.DeleteGrant{Target: pair[0], Viewer: pair[1]}
		if layer == LayerPreset {
			return &dirpb.Command{Op: &dirpb.Command_DeletePreset{DeletePreset: c}}, ok && pair[0] != pair[1]
		}
		return &dirpb.Command{Op: &dirpb.Command_DeleteGrant{DeleteGrant: c}}, ok && pair[0] != pair[1]
	}
	level := pick(rng, []string{"blocked", "public", "team"})
	ok := pair[0] != pair[1] && m.users[pair[0]] && m.users[pair[1]]
	if ok {
		m.grants[layer][pair] = level
	}
	if layer == LayerPreset {
		return putPreset(pair[0], pair[1], level), ok
	}
	return putGrant(pair[0], pair[1], level), ok
}

// compare checks every index read of s against the model.
func (m *model) compare(t *testing.T, step int, s *Store) {
	t.Helper()
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("step %d: %s = %v, model says %v", step, what, got, want)
		}
	}
	for _, u := range modelUsers {
		check("GroupsOf("+u+")", rows(s.GroupsOf(u)), m.groupsOf(u))
		check("GroupsLedBy("+u+")", rows(s.GroupsLedBy(u)), m.groupsLedBy(u))
		check("LinesOf("+u+")", lineNumbers(s.LinesOf(u)), m.linesOf(u))
		for _, layer := range []Layer{LayerUser, LayerPreset} {
			check(fmt.Sprintf("GrantsOn(%d,%s)", layer, u), grantRows(s.GrantsOn(layer, u)), m.grantsWhere(layer, 0, u))
			check(fmt.Sprintf("GrantsHeldBy(%d,%s)", layer, u), grantRows(s.GrantsHeldBy(layer, u)), m.grantsWhere(layer, 1, u))
		}
	}
	for _, g := range modelGroups {
		check("MembersOf("+g+")", rows(s.MembersOf(g)), m.membersOf(g))
	}
	for _, n := range modelNumbers {
		g, _ := s.GroupByNumber(n)
		check("GroupByNumber("+n+")", g.GetId(), m.groupByNumber(n))
	}
}

func rows(ms []Membership, err error) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Group+"/"+m.User+"/"+m.Role)
	}
	if err != nil {
		out = append(out, err.Error())
	}
	return out
}

func lineNumbers(ls []*dirpb.Line, err error) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, l.Number+"/"+l.Kind)
	}
	if err != nil {
		out = append(out, err.Error())
	}
	return out
}

func grantRows(gs []GrantEntry, err error) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.Target+">"+g.Viewer+"="+g.Grant.Level)
	}
	if err != nil {
		out = append(out, err.Error())
	}
	return out
}

func (m *model) groupsOf(u string) []string {
	out := []string{}
	for _, id := range slices.Sorted(maps.Keys(m.groups)) {
		if role, ok := m.groups[id].members[u]; ok {
			out = append(out, id+"/"+u+"/"+role)
		}
	}
	return out
}

func (m *model) groupsLedBy(u string) []string {
	out := []string{}
	for _, id := range slices.Sorted(maps.Keys(m.groups)) {
		switch u {
		case m.groups[id].leader:
			out = append(out, id+"/"+u+"/leader")
		case m.groups[id].deputy:
			out = append(out, id+"/"+u+"/deputy")
		}
	}
	return out
}

func (m *model) membersOf(g string) []string {
	out := []string{}
	for _, u := range slices.Sorted(maps.Keys(m.groups[g].members)) {
		out = append(out, g+"/"+u+"/"+m.groups[g].members[u])
	}
	return out
}

func (m *model) linesOf(u string) []string {
	out := []string{}
	for _, n := range slices.Sorted(maps.Keys(m.lines)) {
		if m.lines[n].owner == u {
			out = append(out, n+"/"+m.lines[n].kind)
		}
	}
	return out
}

// grantsWhere lists the grants whose target (side 0) or viewer (side 1) is u.
func (m *model) grantsWhere(layer Layer, side int, u string) []string {
	pairs := slices.SortedFunc(maps.Keys(m.grants[layer]), func(a, b [2]string) int {
		if c := compareStr(a[1-side], b[1-side]); c != 0 {
			return c
		}
		return compareStr(a[side], b[side])
	})
	out := []string{}
	for _, p := range pairs {
		if p[side] == u {
			out = append(out, p[0]+">"+p[1]+"="+m.grants[layer][p])
		}
	}
	return out
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *model) groupByNumber(n string) string {
	for id, g := range m.groups {
		if g.number == n {
			return id
		}
	}
	return ""
}
