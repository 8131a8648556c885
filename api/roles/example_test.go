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
