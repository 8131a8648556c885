package roles_test

import (
	"fmt"

	"github.com/ucgrid/ucgrid/api/roles"
)

// An owner of "sales" appoints managers there, not owners, and nothing in
// other groups; only a system owner appoints system roles.
func Example() {
	owner := roles.Subject{ID: "olga", Groups: map[string]roles.GroupRole{"sales": roles.Owner}}
	fmt.Println(owner.MayAssign("sales", roles.Manager))
	fmt.Println(owner.MayAssign("sales", roles.Owner))
	fmt.Println(owner.MayAssign("support", roles.User))
	fmt.Println(owner.InGroup(roles.OverrideOfficeHours, "sales"))
	fmt.Println(owner.MayAppointSystem(roles.SystemAdmin))
	// Output:
	// true
	// false
	// false
	// true
	// false
}

// A manager of "sales" resets the password of a plain member of sales,
// not of a member who also manages "support": a manager outranks users
// and receptionists, and only within their own group.
func ExampleSubject_MayAdminister() {
	mgr := roles.Subject{ID: "max", Groups: map[string]roles.GroupRole{"sales": roles.Manager}}
	member := roles.Holdings{Groups: map[string]roles.GroupRole{"sales": roles.User}}
	supportLead := roles.Holdings{Groups: map[string]roles.GroupRole{"sales": roles.User, "support": roles.Manager}}
	fmt.Println(mgr.MayAdminister(roles.ManageMembers, member))
	fmt.Println(mgr.MayAdminister(roles.ManageMembers, supportLead))
	fmt.Println(roles.Outranks(roles.Owner, roles.Manager), roles.Outranks(roles.Manager, roles.GroupAdmin))
	// Output:
	// true
	// false
	// true false
}
