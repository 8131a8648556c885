package dialplan_test

import (
	"fmt"

	"github.com/ucgrid/ucgrid/dialplan"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func Example() {
	plan, err := dialplan.Compile(&dirpb.DialPlan{
		Rules: []*dirpb.DialRule{
			{Name: "international", Pattern: "_00.", Trunk: "carrier", Strip: 2, Prepend: "+", CallClass: "international"},
			{Name: "national", Pattern: "_0ZX.", Trunk: "carrier", Strip: 1, Prepend: "+49", CallClass: "national"},
		},
		EmergencyNumbers: []string{"112"}, EmergencyTrunk: "carrier",
	}, func(id string) (exists, outbound bool) { return id == "carrier", id == "carrier" })
	if err != nil {
		fmt.Println(err)
		return
	}
	caller := dialplan.Effective("", "national")
	for _, n := range []string{"089123456", "0044201234", "112"} {
		r, _ := plan.Route(n)
		if caller.Allows(r) {
			fmt.Printf("%s → %s via %s\n", n, r.Number, r.Trunk)
		} else {
			fmt.Printf("%s refused: %s\n", n, r.Reason())
		}
	}
	_, err = dialplan.Compile(&dirpb.DialPlan{Rules: []*dirpb.DialRule{
		{Pattern: "_0.", Trunk: "carrier"}, {Pattern: "_00.", Trunk: "carrier"},
	}}, func(string) (bool, bool) { return true, true })
	fmt.Println(err)
	// Output:
	// 089123456 → +4989123456 via carrier
	// 0044201234 refused: Call Class International Required
	// 112 → 112 via carrier
	// dialplan: invalid plan: rules[1]: pattern "_00." is shadowed by rules[0] ("_0."): every number it matches goes there first
}
