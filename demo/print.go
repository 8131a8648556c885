package demo

import (
	"fmt"
	"io"
)

// Print writes what a person needs to look around: what was created, and
// how to sign in as the three people of r (their passwords are shown this
// once) and register their desk phones at sipAddr in sipDomain.
func (r *Result) Print(w io.Writer, sipDomain, sipAddr string) {
	fmt.Fprintf(w, "ucgrid: demo: filled the directory with %s: %d people, %d groups (departments), %d lines,\n"+
		"ucgrid: demo: call groups %s (reception, ring_all) and %s (support, sequential) with office hours in %s\n",
		CompanyName, r.People, r.Groups, r.Lines, ReceptionNumber, SupportNumber, TimeZone)
	fmt.Fprintf(w, "ucgrid: demo: sign in as (these passwords are shown once; only their hashes are stored):\n")
	for _, s := range r.SignIns {
		fmt.Fprintf(w, "ucgrid: demo:   %-13s password %s  %s, %s\n", s.User, s.Password, s.Name, s.Who)
	}
	fmt.Fprintf(w, "ucgrid: demo: their desk phones register at %s as sip:NUMBER@%s (digest user NUMBER):\n", sipAddr, sipDomain)
	for _, s := range r.SignIns {
		fmt.Fprintf(w, "ucgrid: demo:   line %s  SIP password %s  (%s)\n", s.Line, s.SIPPassword, s.User)
	}
}
