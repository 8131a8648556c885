package slapdtest

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestStart_ServesTheTreeWithMemberOf(t *testing.T) {
	s := Start(t, Tree(10))
	c := s.Admin(t)
	res, err := c.Search(ldap.NewSearchRequest(Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 10 {
		t.Fatalf("people = %d, want 10", len(res.Entries))
	}
	// The memberof overlay keeps memberOf for changes made while running.
	mod := ldap.NewModifyRequest(GroupDN("sales"), nil)
	mod.Add("member", []string{PersonDN(1)})
	if err := c.Modify(mod); err != nil {
		t.Fatal(err)
	}
	res, err = c.Search(ldap.NewSearchRequest(PersonDN(1), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"memberOf"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Entries[0].GetAttributeValues("memberOf"); len(got) != 1 || got[0] != GroupDN("sales") {
		t.Fatalf("memberOf = %q, want [%s]", got, GroupDN("sales"))
	}
}
