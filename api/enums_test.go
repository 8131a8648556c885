package api

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/dialplan"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// TestOpenAPI_EnumsAreTheDirectoryLists: openapi.yaml names the call
// modes, hunt strategies and line kinds of the one list each that the API,
// the validators and the hunt engine check against (persistence/dirpb).
func TestOpenAPI_EnumsAreTheDirectoryLists(t *testing.T) {
	doc, _, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		schema, property string
		want             []string
	}{
		{"CallGroup", "mode", dirpb.CallModes[:]},
		{"CallGroup", "strategy", dirpb.Strategies[:]},
		{"LineInput", "kind", dirpb.LineKinds[:]},
		{"Line", "kind", dirpb.LineKinds[:]},
	}
	for _, tc := range cases {
		t.Run(tc.schema+"."+tc.property, func(t *testing.T) {
			s := doc.Components.Schemas[tc.schema]
			if s == nil || s.Value == nil || s.Value.Properties[tc.property] == nil {
				t.Fatalf("openapi.yaml has no %s.%s", tc.schema, tc.property)
			}
			var got []string
			for _, v := range s.Value.Properties[tc.property].Value.Enum {
				got = append(got, fmt.Sprint(v))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("enum %v, want %v", got, tc.want)
			}
		})
	}
}

// TestConsole_SelectsOfferTheDirectoryLists: the web console's call group
// mode and strategy, line kind, system role and call class menus offer
// exactly the values of the lists.
func TestConsole_SelectsOfferTheDirectoryLists(t *testing.T) {
	page, err := consoleFiles.ReadFile("console/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   string
		want []string
	}{
		{"g-cg-mode", dirpb.CallModes[:]},
		{"g-cg-strategy", dirpb.Strategies[:]},
		{"l-kind", dirpb.LineKinds[:]},
		{"u-role", dirpb.SystemRoles[:]},
		{"u-class", append([]string{""}, dialplan.Classes...)},
		{"gl-class", append([]string{""}, dialplan.Classes...)},
	} {
		sel := regexp.MustCompile(`<select id="` + tc.id + `">(.*?)</select>`).FindSubmatch(page)
		if sel == nil {
			t.Errorf("index.html has no select %s", tc.id)
			continue
		}
		var got []string
		for _, m := range regexp.MustCompile(`<option value="([^"]*)"`).FindAllSubmatch(sel[1], -1) {
			got = append(got, string(m[1]))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("select %s offers %v, want %v", tc.id, got, tc.want)
		}
	}
}

// TestGroupCallGroup_RejectsWithTheDirectoryLists: an unknown mode or
// strategy is refused naming the accepted values from the one list each;
// every listed value is accepted; the refusal names every allowed value.
func TestGroupCallGroup_RejectsWithTheDirectoryLists(t *testing.T) {
	for _, mode := range dirpb.CallModes {
		in := &groupJSON{CallGroup: callGroupJSON{Mode: mode, Number: "500"}}
		if err := groupCallGroup(in, &dirpb.Group{}); err != nil {
			t.Errorf("mode %q: %v", mode, err)
		}
	}
	for _, s := range append([]string{""}, dirpb.Strategies[:]...) {
		g := &dirpb.Group{}
		if err := groupCallGroup(&groupJSON{CallGroup: callGroupJSON{Mode: dirpb.ModeSIP, Number: "500", Strategy: s}}, g); err != nil {
			t.Errorf("strategy %q: %v", s, err)
		}
		want := s
		if s == "" {
			want = dirpb.StrategyRingAll
		}
		if got := g.GetCallGroup().GetStrategy(); got != want {
			t.Errorf("strategy %q stored as %q, want %q", s, got, want)
		}
	}
	for _, tc := range []struct {
		in   callGroupJSON
		want string
	}{
		{callGroupJSON{Mode: "fax", Number: "500"}, `"fax" is not one of disabled, sip, external`},
		{callGroupJSON{Mode: dirpb.ModeSIP, Number: "500", Strategy: "random"}, `"random" is not one of ring_all, sequential, round_robin, longest_idle`},
	} {
		err := groupCallGroup(&groupJSON{CallGroup: tc.in}, &dirpb.Group{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %s", tc.in, err, tc.want)
		}
	}
}
