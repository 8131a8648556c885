package rights_test

import (
	"fmt"

	"github.com/ucgrid/ucgrid/actors/rights"
)

// A group leader who is not a member sees whom the members talk to; the
// members do not see the leader's calls.
func ExampleExplain() {
	support := &rights.Group{
		ID: "support", Active: true,
		Members:     map[string]struct{}{"anna": {}, "ben": {}},
		MemberGrant: rights.LevelGrant(rights.Public),
		Leader:      "lea",
		LeaderGrant: rights.LevelGrant(rights.Business),
	}
	global := rights.LevelGrant(rights.Public)
	groups := []*rights.Group{support}

	lea := rights.Explain(&rights.Pair{Viewer: "lea", Target: "anna", Global: global, Groups: groups})
	anna := rights.Explain(&rights.Pair{Viewer: "anna", Target: "lea", Global: global, Groups: groups})

	fmt.Println("lea over anna:", lea.Level(), lea.Set.Has(rights.Line1SeeIncoming), lea.Because[rights.Line1SeeIncoming])
	fmt.Println("anna over lea:", anna.Level(), anna.Set.Has(rights.Line1SeeIncoming))
	fmt.Println("lea sees of anna:", lea.Fields().Names())
	// Output:
	// lea over anna: business true [leader:support]
	// anna over lea: public false
	// lea sees of anna: [picture display_name job_title company department office business_address work_phone business_phone2 pager business_fax email sip_address website]
}
