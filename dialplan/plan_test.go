package dialplan

import (
	"errors"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func trunks(id string) (bool, bool) {
	switch id {
	case "carrier", "backup":
		return true, true
	case "inbound-only":
		return true, false
	}
	return false, false
}

func TestParsePattern_MatchesAsAsteriskDoes(t *testing.T) {
	cases := []struct {
		pattern string
		yes, no []string
	}{
		{"_0ZX.", []string{"0891", "089123456"}, []string{"089", "0091", "891", "0a91"}},
		{"_00.", []string{"001", "0049891234"}, []string{"00", "0891"}},
		{"_X!", []string{"1", "12345", "+"[:0] + "9"}, []string{"", "+49"}},
		{"112", []string{"112"}, []string{"1120", "11"}},
		{"_+49.", []string{"+4989"}, []string{"+49", "0049"}},
		{"_[1-3,7]N", []string{"12", "79"}, []string{"41", "11", "70"}},
		{"_*21*X.", []string{"*21*200"}, []string{"*21*"}},
		{"_9!", []string{"9", "90"}, []string{"8"}},
	}
	for _, tc := range cases {
		t.Run(tc.pattern, func(t *testing.T) {
			p, err := ParsePattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tc.yes {
				if !p.Match(n) {
					t.Errorf("%q does not match %q", tc.pattern, n)
				}
			}
			for _, n := range tc.no {
				if p.Match(n) {
					t.Errorf("%q matches %q", tc.pattern, n)
				}
			}
		})
	}
}

func TestParsePattern_RefusesWhatDoesNotParse(t *testing.T) {
	for _, s := range []string{"", "_", "0.1", "0!.", "[1-", "[]", "[9-1]", "0a", "_!", "[1-a]", "00 1"} {
		if _, err := ParsePattern(s); err == nil {
			t.Errorf("ParsePattern(%q) accepted", s)
		}
	}
}

func rules(rs ...*dirpb.DialRule) *dirpb.DialPlan { return &dirpb.DialPlan{Rules: rs} }

func r(pattern, trunk string, strip int32, prepend, class string) *dirpb.DialRule {
	return &dirpb.DialRule{Pattern: pattern, Trunk: trunk, Strip: strip, Prepend: prepend, CallClass: class}
}

func TestCompile_NamesTheBadRule(t *testing.T) {
	cases := []struct {
		name string
		plan *dirpb.DialPlan
		want string
	}{
		{"pattern does not parse", rules(r("_0ZX.", "carrier", 0, "", ""), r("0Q", "carrier", 0, "", "")), "rules[1].pattern"},
		{"unknown trunk", rules(r("_0ZX.", "nowhere", 0, "", "")), `rules[0].trunk: trunk "nowhere" does not exist`},
		{"trunk without outbound side", rules(r("_0ZX.", "inbound-only", 0, "", "")), "rules[0].trunk: trunk \"inbound-only\" has no outbound"},
		{"missing trunk", rules(r("_0ZX.", "", 0, "", "")), "rules[0].trunk: is missing"},
		{"shadowed", rules(r("_0.", "carrier", 0, "", ""), r("_00.", "carrier", 0, "", "")), "rules[1]: pattern \"_00.\" is shadowed by rules[0]"},
		{"duplicate", rules(r("_0ZX.", "carrier", 0, "", ""), r("_0ZX.", "backup", 0, "", "")), "rules[1]: pattern \"_0ZX.\" is shadowed by rules[0]"},
		{"ambiguous overlap", rules(r("_0[1-5]X.", "carrier", 0, "", ""), r("_0[3-9]XX", "backup", 0, "", "")), `rules[1]: pattern "_0[3-9]XX" overlaps rules[0] ("_0[1-5]X.") ambiguously (both match "0300"`},
		{"strip beyond the pattern", rules(r("_0ZX", "carrier", 4, "", "")), "rules[0].strip"},
		{"negative strip", rules(r("_0ZX", "carrier", -1, "", "")), "rules[0].strip"},
		{"bad prepend", rules(r("_0ZX", "carrier", 0, "+49 ", "")), "rules[0].prepend"},
		{"bad class", rules(r("_0ZX", "carrier", 0, "", "galactic")), "rules[0].call_class"},
		{"emergency number unrouted", &dirpb.DialPlan{Rules: []*dirpb.DialRule{r("_0.", "carrier", 0, "", "")}, EmergencyNumbers: []string{"112"}}, "emergency_numbers[0]"},
		{"emergency trunk unknown", &dirpb.DialPlan{EmergencyTrunk: "nowhere", EmergencyNumbers: []string{"112"}}, "emergency_trunk"},
		{"emergency number empty", &dirpb.DialPlan{EmergencyTrunk: "carrier", EmergencyNumbers: []string{""}}, "emergency_numbers[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.plan, trunks)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile = %v, want an ErrInvalid naming %q", err, tc.want)
			}
		})
	}
}

func germanPlan(t *testing.T) *Plan {
	t.Helper()
	p, err := Compile(&dirpb.DialPlan{
		Rules: []*dirpb.DialRule{
			{Name: "international", Pattern: "_00.", Trunk: "carrier", Strip: 2, Prepend: "+", CallClass: "international"},
			{Name: "mobile", Pattern: "_01[5-7]X.", Trunk: "carrier", Strip: 1, Prepend: "+49", CallClass: "national"},
			{Name: "national", Pattern: "_0ZX.", Trunk: "backup", Strip: 1, Prepend: "+49", CallClass: "national"},
			{Name: "sister office", Pattern: "_8XXX", Trunk: "backup", CallClass: "internal"},
			{Name: "anything else", Pattern: "_X.", Trunk: "carrier"},
		},
		EmergencyNumbers: []string{"112", "110"},
	}, trunks)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoute_FirstMatchingRuleWithStripAndPrepend(t *testing.T) {
	p := germanPlan(t)
	cases := []struct {
		dialled string
		rule    int
		trunk   string
		number  string
		class   Class
		em      bool
	}{
		{"0044201234", 0, "carrier", "+44201234", International, false},
		{"01701234567", 1, "carrier", "+491701234567", National, false},
		{"0891234", 2, "backup", "+49891234", National, false},
		{"8123", 3, "backup", "8123", Internal, false},
		{"112", 4, "carrier", "112", International, true},
		{"5555", 4, "carrier", "5555", International, false},
	}
	for _, tc := range cases {
		got, ok := p.Route(tc.dialled)
		if !ok || got.Rule != tc.rule || got.Trunk != tc.trunk || got.Number != tc.number || got.Class != tc.class || got.Emergency != tc.em {
			t.Errorf("Route(%q) = %+v %v, want rule %d trunk %s number %s class %s emergency %v", tc.dialled, got, ok, tc.rule, tc.trunk, tc.number, tc.class, tc.em)
		}
	}
	if got, ok := p.Route("+4989"); ok {
		t.Errorf("Route(+4989) = %+v, want no rule", got)
	}
}

func TestAllows_ClassesRiseAndEmergencyAlwaysGoes(t *testing.T) {
	p := germanPlan(t)
	cases := []struct {
		caller  Class
		dialled string
		want    bool
	}{
		{Internal, "8123", true},
		{Internal, "0891234", false},
		{Internal, "112", true},
		{National, "0891234", true},
		{National, "0044201234", false},
		{National, "110", true},
		{International, "0044201234", true},
	}
	for _, tc := range cases {
		route, _ := p.Route(tc.dialled)
		if got := tc.caller.Allows(route); got != tc.want {
			t.Errorf("%s may dial %s = %v, want %v", tc.caller, tc.dialled, got, tc.want)
		}
	}
	route, _ := p.Route("0044201234")
	if route.Reason() != "Call Class International Required" {
		t.Errorf("reason %q", route.Reason())
	}
}

func TestEffective_UserThenGlobalThenNational(t *testing.T) {
	for _, tc := range []struct {
		user, global string
		want         Class
	}{
		{"", "", National}, {"", "international", International}, {"internal", "international", Internal},
		{"bogus", "", Internal},
	} {
		if got := Effective(tc.user, tc.global); got != tc.want {
			t.Errorf("Effective(%q, %q) = %s, want %s", tc.user, tc.global, got, tc.want)
		}
	}
}

func TestRoute_EmergencyTrunkTakesEmergencyNumbers(t *testing.T) {
	p, err := Compile(&dirpb.DialPlan{EmergencyTrunk: "backup", EmergencyNumbers: []string{"112"}}, trunks)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := p.Route("112")
	if !ok || got.Trunk != "backup" || !got.Emergency || !Internal.Allows(got) {
		t.Fatalf("Route(112) = %+v %v", got, ok)
	}
	if !p.Uses("backup") || p.Uses("carrier") {
		t.Fatal("Uses")
	}
}
