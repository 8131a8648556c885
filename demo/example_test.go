package demo_test

import (
	"os"

	"github.com/ucgrid/ucgrid/demo"
)

// Print shows what Fill wrote and the credentials it generated, once.
func ExampleResult_Print() {
	res := &demo.Result{People: 33, Groups: 8, Lines: 38, SignIns: []demo.SignIn{
		{Who: "plain user (Sales, no role)", User: demo.PlainUser, Name: "Liam Novak",
			Password: "generated-password", Line: "209", SIPPassword: "generated-sip-password"},
	}}
	res.Print(os.Stdout, "ucgrid.local", "127.0.0.1:5060")
	// Output:
	// ucgrid: demo: filled the directory with Example Corp: 33 people, 8 groups (departments), 38 lines,
	// ucgrid: demo: call groups 100 (reception, ring_all) and 300 (support, sequential) with office hours in America/New_York
	// ucgrid: demo: sign in as (these passwords are shown once; only their hashes are stored):
	// ucgrid: demo:   liam.novak    password generated-password  Liam Novak, plain user (Sales, no role)
	// ucgrid: demo: their desk phones register at 127.0.0.1:5060 as sip:NUMBER@ucgrid.local (digest user NUMBER):
	// ucgrid: demo:   line 209  SIP password generated-sip-password  (liam.novak)
}
