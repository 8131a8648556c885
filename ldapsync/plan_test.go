package ldapsync

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func planConfig(t *testing.T, extra string) *Config {
	t.Helper()
	c, err := Parse([]byte(minimal + extra))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func person(uid string, attrs ...string) Entry {
	e := Entry{DN: "uid=" + uid + ",ou=people,dc=example,dc=com", Attrs: map[string][]string{"uid": {uid}, "cn": {strings.ToUpper(uid)}}}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attrs[strings.ToLower(attrs[i])] = append(e.Attrs[strings.ToLower(attrs[i])], attrs[i+1])
	}
	return e
}

func group(cn string, members ...string) Entry {
	return Entry{DN: "cn=" + cn + ",ou=groups,dc=example,dc=com", Attrs: map[string][]string{"cn": {cn}, "member": members}}
}

func emptyDir() *Current {
	return &Current{Users: map[string]*dirpb.User{}, Groups: map[string]*dirpb.Group{}, Lines: map[string]*dirpb.Line{}}
}

func ops(p *Plan) []string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, a.Op+" "+a.Kind+" "+a.ID)
	}
	return out
}

func TestMakePlan_IsPureAndOrdered(t *testing.T) {
	c := planConfig(t, "lines:\n  digits: 3\n")
	s := &Snapshot{Users: []Entry{person("b", "telephoneNumber", "+49 89 1234-102"), person("a", "telephoneNumber", "101")},
		Groups: []Entry{group("g", person("a").DN, "UID=B, OU=People, DC=Example, DC=Com")}}
	p1, p2 := MakePlan(c, s, emptyDir(), now), MakePlan(c, s, emptyDir(), now)
	want := []string{"create user a", "create user b", "create group g", "create line 101", "create line 102"}
	if !slices.Equal(ops(p1), want) || !slices.Equal(ops(p1), ops(p2)) {
		t.Fatalf("plan = %v (again %v), want %v", ops(p1), ops(p2), want)
	}
	g := p1.Actions[2].cmd.GetPutGroup().Group
	if len(g.Members) != 2 {
		t.Fatalf("group members = %v: a DN written differently must still match", g.Members)
	}
}

func TestMakePlan_UserAccountControlBit2Disables(t *testing.T) {
	c, err := Parse([]byte("preset: ad\nurl: ldap://dc\nbase_dn: dc=x\n"))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(uac string) Entry {
		return Entry{DN: "CN=" + uac + ",DC=x", Attrs: map[string][]string{"samaccountname": {"U" + uac}, "useraccountcontrol": {uac}}}
	}
	p := MakePlan(c, &Snapshot{Users: []Entry{mk("512"), mk("514"), mk("66050"), mk("x1")}}, emptyDir(), now)
	got := map[string]bool{}
	for _, a := range p.Actions {
		got[a.ID] = a.cmd.GetPutUser().User.Disabled
	}
	if got["u512"] || !got["u514"] || !got["u66050"] || len(got) != 3 {
		t.Fatalf("disabled = %v, want u514 and u66050 only", got)
	}
	if len(p.Problems) != 1 || !strings.HasPrefix(p.Problems[0], "CN=x1,DC=x: userAccountControl") {
		t.Fatalf("problems = %q", p.Problems)
	}
}

func TestMakePlan_PrimaryGroupFromADRID(t *testing.T) {
	c, err := Parse([]byte("preset: ad\nurl: ldap://dc\nbase_dn: dc=x\n"))
	if err != nil {
		t.Fatal(err)
	}
	u := Entry{DN: "CN=Ann,DC=x", Attrs: map[string][]string{"samaccountname": {"ann"}, "primarygroupid": {"513"}}}
	du := Entry{DN: "CN=Domain Users,DC=x", Attrs: map[string][]string{"samaccountname": {"Domain Users"}, "cn": {"Domain Users"}, "objectsid": {"513"}}}
	p := MakePlan(c, &Snapshot{Users: []Entry{u}, Groups: []Entry{du}}, emptyDir(), now)
	g := p.Actions[1].cmd.GetPutGroup().GetGroup()
	if len(p.Problems) != 0 || g.GetId() != "domain-users" {
		t.Fatalf("group %q, problems %q: want Domain Users as domain-users", g.GetId(), p.Problems)
	}
	if len(g.GetMembers()) != 1 || !g.Members[0].Primary || !g.Members[0].Synced {
		t.Fatalf("domain-users = %v: want ann as a synced primary member though member lists nobody", g)
	}
}

func TestSidRID(t *testing.T) {
	// S-1-5-21-1-2-3-513
	sid := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 2, 0, 0}
	if rid, ok := sidRID(sid); !ok || rid != 513 {
		t.Fatalf("rid = %d %v", rid, ok)
	}
	if _, ok := sidRID(sid[:10]); ok {
		t.Fatal("a short SID gave a RID")
	}
}

func TestLineNumber(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		digits int
		want   string
		ok     bool
	}{
		{"+49 (89) 1234-567", 0, "+49891234567", true},
		{"+49 89 1234-567", 3, "567", true},
		{"1234", 5, "", false},
		{"ext. 12", 0, "", false},
		{"12+3", 0, "", false},
	} {
		got, err := lineNumber(tc.raw, tc.digits)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("lineNumber(%q, %d) = %q, %v", tc.raw, tc.digits, got, err)
		}
	}
}

func TestEntryOf_ActiveDirectoryRanges(t *testing.T) {
	for _, tc := range []struct {
		name, attr string
		next       int
		ok         bool
	}{
		{"member;range=0-1499", "member", 1500, true},
		{"member;range=1500-*", "member", -1, true},
		{"member", "member", 0, false},
		{"member;range=x", "member;range=x", 0, false},
	} {
		attr, next, ok := rangedAttr(tc.name)
		if attr != tc.attr || next != tc.next || ok != tc.ok {
			t.Errorf("rangedAttr(%q) = %q, %d, %v", tc.name, attr, next, ok)
		}
	}
	e, more := entryOf(ldap.NewEntry("cn=big,dc=x", map[string][]string{"Member;range=0-1": {"a", "b"}, "cn": {"big"}}))
	if len(e.Attrs["member"]) != 2 || more["member"] != 2 {
		t.Fatalf("entry %v, more %v: want the first range under member and the next from 2", e, more)
	}
}

func TestMakePlan_MembershipFromMemberOf(t *testing.T) {
	c := planConfig(t, "groups:\n  from_member_of: true\n")
	g := group("g")
	s := &Snapshot{Users: []Entry{person("a", "memberOf", "CN=G,OU=Groups,DC=example,DC=com"), person("b")}, Groups: []Entry{g}}
	p := MakePlan(c, s, emptyDir(), now)
	var members []string
	for _, a := range p.Actions {
		if pg := a.cmd.GetPutGroup(); pg != nil {
			for _, m := range pg.Group.Members {
				members = append(members, m.User)
			}
		}
	}
	if !slices.Equal(members, []string{"a"}) {
		t.Fatalf("members of g = %v, want [a] from memberOf", members)
	}
}

// BenchmarkMakePlan_2000People plans a company of 2 000 people in 50
// groups against a directory that already holds them (the steady state
// of a watch: nothing to change).
func BenchmarkMakePlan_2000People(b *testing.B) {
	c, err := Parse([]byte(minimal + "groups:\n  nested: true\n"))
	if err != nil {
		b.Fatal(err)
	}
	s := &Snapshot{}
	members := map[int][]string{}
	for i := range 2000 {
		e := person(fmt.Sprintf("p%04d", i), "mail", fmt.Sprintf("p%04d@example.com", i), "telephoneNumber", fmt.Sprintf("+49 89 %04d", i))
		s.Users = append(s.Users, e)
		members[i%50] = append(members[i%50], e.DN)
	}
	for g := range 50 {
		s.Groups = append(s.Groups, group(fmt.Sprintf("g%02d", g), members[g]...))
	}
	first := MakePlan(c, s, emptyDir(), now)
	cur := emptyDir()
	for _, a := range first.Actions {
		switch {
		case a.cmd.GetPutUser() != nil:
			cur.Users[a.ID] = a.cmd.GetPutUser().User
		case a.cmd.GetPutGroup() != nil:
			cur.Groups[a.ID] = a.cmd.GetPutGroup().Group
		case a.cmd.GetPutLine() != nil:
			cur.Lines[a.ID] = a.cmd.GetPutLine().Line
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if p := MakePlan(c, s, cur, now); len(p.Actions) != 0 {
			b.Fatalf("steady state plans %d actions", len(p.Actions))
		}
	}
}
