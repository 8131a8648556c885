package slapdtest

import (
	"net"
	"strconv"
	"strings"
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

// A port taken between drawing it and slapd binding it (CI saw an
// outgoing connection's source port do this) makes slapd exit; Start
// tries again on other ports instead of waiting out its deadline.
func TestStart_PortTakenBeforeSlapdBindsIsRetried(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close() //nolint:errcheck // the test's own listener
	draws := 0
	drawPort = func(t testing.TB) int {
		draws++
		if draws == 1 {
			return taken.Addr().(*net.TCPAddr).Port
		}
		return freePort(t)
	}
	defer func() { drawPort = freePort }()
	s := Start(t, Tree(1))
	if draws < 4 {
		t.Fatalf("ports drawn = %d, want a second pair after the taken one", draws)
	}
	if strings.Contains(s.URL, ":"+strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)) {
		t.Fatalf("slapd answers at the taken port's URL %s", s.URL)
	}
	s.Admin(t)
}
