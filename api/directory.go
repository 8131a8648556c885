package api

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

type cardJSON struct {
	ID     string         `json:"id"`
	Level  string         `json:"level"`
	Fields map[string]any `json:"fields"`
}

// getCard answers the target's contact card as the caller may see it: the
// contact fields the caller's effective level shows, those not empty.
func (h *Handler) getCard(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := h.store.User(id)
	if err != nil {
		return err
	}
	t, err := dirrights.LoadTarget(h.store, id)
	if err != nil {
		return err
	}
	e := rights.Explain(t.Pair(c.id()))
	return h.ok(w, cardJSON{ID: id, Level: e.Level().String(), Fields: cardFields(u, e.Fields())})
}

// cardFields maps each visible, non-empty contact field to its value: a
// string, or a list of strings for additional_phones.
func cardFields(u *dirpb.User, visible rights.FieldSet) map[string]any {
	out := map[string]any{}
	for _, f := range visible.Fields() {
		v := fieldValue(u, f)
		switch v := v.(type) {
		case string:
			if v != "" {
				out[f.Name()] = v
			}
		case []string:
			if len(v) > 0 {
				out[f.Name()] = v
			}
		}
	}
	return out
}

func fieldValue(u *dirpb.User, f rights.Field) any {
	c := u.GetContact()
	switch f.Name() {
	case "display_name":
		return u.DisplayName
	case "additional_phones":
		return c.GetAdditionalPhones()
	}
	return contactText(c, f.Name())
}

// contactText returns the text contact field name of c.
func contactText(c *dirpb.Contact, name string) string {
	switch name {
	case "picture":
		return c.GetPicture()
	case "job_title":
		return c.GetJobTitle()
	case "company":
		return c.GetCompany()
	case "department":
		return c.GetDepartment()
	case "office":
		return c.GetOffice()
	case "business_address":
		return c.GetBusinessAddress()
	case "work_phone":
		return c.GetWorkPhone()
	case "business_phone2":
		return c.GetBusinessPhone2()
	case "mobile":
		return c.GetMobile()
	case "pager":
		return c.GetPager()
	case "private_phone":
		return c.GetPrivatePhone()
	case "business_fax":
		return c.GetBusinessFax()
	case "email":
		return c.GetEmail()
	case "sip_address":
		return c.GetSipAddress()
	case "website":
		return c.GetWebsite()
	}
	return ""
}

// ---- contact search ----

type directoryEntryJSON struct {
	ID          string      `json:"id"`
	DisplayName string      `json:"display_name"`
	Contact     contactJSON `json:"contact"`
}

// searchBudget bounds the users one search request reads: a request that
// reaches it without filling the page answers what it found with a cursor
// to continue from.
const searchBudget = 5000

// searchDirectory answers GET /v1/directory?q=: users whose id, display
// name, e-mail, SIP address or a phone number contains q (case-insensitive;
// numbers compared by their digits), with their contact details. Not
// filtered by levels (seed 002): the levels govern presence, not search.
// Disabled users are left out.
func (h *Handler) searchDirectory(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := r.URL.Query().Get("q")
	if err := checkText("q", q, maxText); err != nil {
		return err
	}
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	m := newMatcher(q)
	out := page[directoryEntryJSON]{Items: []directoryEntryJSON{}}
	for scanned := 0; scanned < searchBudget; {
		users, next, err := h.store.ListUsers(after, min(limit, searchBudget-scanned))
		if err != nil {
			return err
		}
		scanned += len(users)
		for i, u := range users {
			if m.matches(u) && !u.Disabled {
				out.Items = append(out.Items, directoryEntryJSON{ID: u.Id, DisplayName: u.DisplayName, Contact: contactOut(u.Contact)})
			}
			if len(out.Items) == limit {
				if i < len(users)-1 || next != "" {
					out.Next = u.Id
				}
				return h.ok(w, out)
			}
		}
		if next == "" {
			return h.ok(w, out)
		}
		after, out.Next = next, next
	}
	return h.ok(w, out)
}

type matcher struct {
	text   string // lower-cased query
	digits string // the query's digits, when it looks like a number
}

func newMatcher(q string) matcher {
	m := matcher{text: strings.ToLower(strings.TrimSpace(q))}
	if m.text != "" && strings.IndexFunc(m.text, func(r rune) bool { return unicode.IsLetter(r) }) < 0 {
		m.digits = digitsOf(m.text)
	}
	return m
}

func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func (m matcher) matches(u *dirpb.User) bool {
	if m.text == "" {
		return true
	}
	c := u.GetContact()
	for _, s := range []string{u.Id, u.DisplayName, c.GetEmail(), c.GetSipAddress()} {
		if strings.Contains(strings.ToLower(s), m.text) {
			return true
		}
	}
	if m.digits == "" {
		return false
	}
	phones := append([]string{c.GetWorkPhone(), c.GetBusinessPhone2(), c.GetMobile(), c.GetPager(),
		c.GetPrivatePhone(), c.GetBusinessFax()}, c.GetAdditionalPhones()...)
	for _, p := range phones {
		if d := digitsOf(p); d != "" && strings.Contains(d, m.digits) {
			return true
		}
	}
	return false
}
