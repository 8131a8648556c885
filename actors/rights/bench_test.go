package rights

import (
	"fmt"
	"testing"
)

// sharedGroupsPair is a viewer and a target who share n active groups of 50
// members each, with the viewer leading every other one, plus a preset and a
// user grant: every layer has work to do.
func sharedGroupsPair(n int) *Pair {
	p := &Pair{Viewer: "viewer", Target: "target", Global: LevelGrant(Public)}
	for i := range n {
		g := &Group{ID: fmt.Sprintf("g%d", i), Active: true, Members: map[string]struct{}{"viewer": {}, "target": {}},
			MemberGrant: LevelGrant(Level(i % NumLevels)), LeaderGrant: RightsGrant(Set(0).With(Line1SeeOutgoing, 1))}
		for m := range 48 {
			g.Members[fmt.Sprintf("m%d", m)] = struct{}{}
		}
		if i%2 == 0 {
			g.Leader = "viewer"
		}
		p.Groups = append(p.Groups, g)
	}
	p.Preset = &Grant{Set: LevelSet(Business)}
	p.User = &Grant{Set: Set(0).With(SetPresence, 1), Individual: true}
	return p
}

var sink Set

func BenchmarkEffective_20SharedGroups(b *testing.B) {
	p := sharedGroupsPair(20)
	b.ReportAllocs()
	for b.Loop() {
		sink = Effective(p)
	}
}

func BenchmarkExplain_20SharedGroups(b *testing.B) {
	p := sharedGroupsPair(20)
	b.ReportAllocs()
	for b.Loop() {
		sink = Explain(p).Set
	}
}

func BenchmarkSet_Union(b *testing.B) {
	s, o := LevelSet(Business), Set(0).With(AVSeeLineState, AVRed)
	for b.Loop() {
		s = s.Union(o)
	}
	sink = s
}

func BenchmarkSet_Contains(b *testing.B) {
	s, o := LevelSet(Team), LevelSet(Business)
	ok := true
	for b.Loop() {
		ok = ok && s.Contains(o)
	}
	if !ok {
		b.Fatal("team does not contain business")
	}
}

func BenchmarkSet_Grade(b *testing.B) {
	s := LevelSet(Personal)
	var g Grade
	for b.Loop() {
		g += s.Grade(SeePrivateAppointments)
	}
	sink = Set(g)
}

func BenchmarkSet_Level(b *testing.B) {
	s := LevelSet(Team).With(SetPresence, 1)
	var l Level
	for b.Loop() {
		l = s.Level()
	}
	sink = Set(l)
}

func BenchmarkVisibleFields(b *testing.B) {
	s := LevelSet(Business).With(Line1SeeOutgoing, 1)
	var fs FieldSet
	for b.Loop() {
		fs |= VisibleFields(s)
	}
	sink = Set(fs)
}
