package sip

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/persistence"
)

// contactsOf are the contacts stored for line, sorted.
func storedContacts(t *testing.T, e *env, line string) []string {
	t.Helper()
	regs, err := e.be.Contacts(context.Background(), line)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range regs {
		out = append(out, r.Contact)
	}
	slices.Sort(out)
	return out
}

// A REGISTER whose Contact cannot be used gets a SIP error — never
// silence, which a phone reports as a timeout after 32 s — and changes
// no binding: not even the usable Contacts it also carries are stored.
func TestRegister_UnusableContactIsRefusedAndStoresNothing(t *testing.T) {
	tooMany := make([]string, persistence.MaxContactsPerLine+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("<sip:1001@127.0.0.1:%d>", 6000+i)
	}
	for _, tc := range []struct {
		name     string
		expires  int
		contacts []string
		status   int
	}{
		{"no host", 300, []string{"<sip:1001@>"}, 400},
		{"nothing but the scheme", 300, []string{"<sip:>"}, 400},
		{"not a sip URI", 300, []string{"<tel:+4930123>"}, 400},
		{"host with a space", 300, []string{"<sip:1001@ho st>"}, 400},
		{"port out of range", 300, []string{"<sip:1001@127.0.0.1:99999>"}, 400},
		{"not a URI (sipgo cannot parse it)", 300, []string{"garbage"}, 400},
		{"missing closing bracket", 300, []string{"<sip:1001@127.0.0.1:5070"}, 400},
		{"IPv6 literal without brackets", 300, []string{"<sip:1001@::1>"}, 400},
		{"bad expires parameter", 300, []string{"<sip:1001@127.0.0.1:5070>;expires=abc"}, 400},
		{"unusable value in a list with a good one", 300, []string{"<sip:1001@127.0.0.1:5070>, garbage"}, 400},
		{"wildcard with non-zero Expires", 300, []string{"*"}, 400},
		{"wildcard with non-zero expires parameter", 0, []string{"*;expires=300"}, 400},
		{"wildcard with another contact", 0, []string{"*", "<sip:1001@127.0.0.1:5070>"}, 400},
		{"more contacts than a line keeps", 300, tooMany, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("alice", "1001", "secret")
			p := newPhone(t, e, "1001", "secret")
			if res := p.register(300); res.StatusCode != 200 {
				t.Fatalf("first REGISTER: %d", res.StatusCode)
			}
			before := storedContacts(t, e, "1001")
			res, err := p.tryRegister("secret", tc.expires, tc.contacts...)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if res.StatusCode != tc.status {
				t.Fatalf("REGISTER: %d %s, want %d", res.StatusCode, res.Reason, tc.status)
			}
			if after := storedContacts(t, e, "1001"); !slices.Equal(after, before) {
				t.Fatalf("bindings changed by a refused REGISTER: %v, were %v", after, before)
			}
		})
	}
}

// As many contacts as a line keeps, in one REGISTER, are all stored.
func TestRegister_ContactsUpToTheCapAreStored(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "secret")
	p := newPhone(t, e, "1001", "secret")
	contacts := make([]string, persistence.MaxContactsPerLine)
	for i := range contacts {
		contacts[i] = fmt.Sprintf("<sip:1001@127.0.0.1:%d>", 6000+i)
	}
	if res := p.register(300, contacts...); res.StatusCode != 200 {
		t.Fatalf("REGISTER with %d contacts: %d %s", len(contacts), res.StatusCode, res.Reason)
	}
	if got := storedContacts(t, e, "1001"); len(got) != persistence.MaxContactsPerLine {
		t.Fatalf("stored %d contacts, want %d", len(got), persistence.MaxContactsPerLine)
	}
}

// A request of any kind whose Contact sipgo cannot parse is answered 400
// Bad Contact (sipgo alone would drop it unanswered) and reaches no
// handler; the server goes on answering.
func TestServer_UnparsableContactIsAnswered400(t *testing.T) {
	e := newEnv(t)
	e.user("bob", "2001", "b-pw")
	r := newRawUDP(t, "127.0.0.5:0", e.srv.Addr())
	for _, method := range []string{"REGISTER", "INVITE", "SUBSCRIBE", "OPTIONS"} {
		msg := strings.Replace(request(method, "2001", ""), "Contact: <sip:2001@127.0.0.5:5099>", "Contact: <sip:2001@::1>", 1)
		res, _ := exchange(t, r, msg)
		if !strings.HasPrefix(res, "SIP/2.0 400 Bad Contact\r\n") {
			t.Errorf("%s with an unparsable Contact: %q, want 400 Bad Contact", method, strings.SplitN(res, "\r\n", 2)[0])
		}
	}
	if got := e.srv.calls.len(); got != 0 {
		t.Errorf("%d calls held after refused INVITEs", got)
	}
}
