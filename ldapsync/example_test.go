package ldapsync_test

import (
	"fmt"
	"time"

	"github.com/ucgrid/ucgrid/ldapsync"
)

// A mapping file names the preset and the server; every attribute left
// out takes the preset's default.
func ExampleParse() {
	c, err := ldapsync.Parse([]byte(`
preset: ad
url: ldaps://dc1.example.com
base_dn: DC=example,DC=com
watch: 15m
groups:
  nested: true
lines:
  attribute: telephoneNumber
  digits: 3
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Users.ID, c.Users.Disabled, c.Groups.Member, c.Lines.Attribute, time.Duration(c.Watch))
	_, err = ldapsync.Parse([]byte("preset: ad\nurl: http://dc1\nbase_dn: DC=x\n"))
	fmt.Println(err)
	// Output:
	// sAMAccountName userAccountControl member telephoneNumber 15m0s
	// url: "http://dc1" is not an ldap:// or ldaps:// URL with a host
}
