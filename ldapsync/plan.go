package ldapsync

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Plan operations.
const (
	OpCreate = "create"
	// OpUpdate changes the fields the mapping names.
	OpUpdate = "update"
	// OpDisable disables a user whose entry is gone, or marks a group or
	// line gone (no longer managed); nothing is deleted.
	OpDisable = "disable"
)

// Record kinds of an action.
const (
	KindUser  = "user"
	KindGroup = "group"
	KindLine  = "line"
)

// Action is one change of a plan.
type Action struct {
	Op   string `json:"op"`
	Kind string `json:"kind"`
	// ID is the user or group id, or the line number.
	ID string `json:"id"`
	// DN is the entry's distinguished name (the last one known when gone).
	DN string `json:"dn"`
	// Fields are the fields an update changes.
	Fields []string `json:"fields,omitempty"`

	cmd *dirpb.Command
}

// Plan is what a sync will change: the actions in the order they are
// applied (users, then groups, then lines), the entries skipped with
// why, and how many mapped records are already as the directory server
// has them.
type Plan struct {
	Actions   []Action `json:"actions"`
	Problems  []string `json:"problems"`
	Unchanged int      `json:"unchanged"`
}

// Count returns how many actions have op.
func (p *Plan) Count(op string) int {
	n := 0
	for _, a := range p.Actions {
		if a.Op == op {
			n++
		}
	}
	return n
}

// Current is the directory a plan is computed against.
type Current struct {
	Users  map[string]*dirpb.User
	Groups map[string]*dirpb.Group
	Lines  map[string]*dirpb.Line
}

// planner holds one plan's working state.
type planner struct {
	c    *Config
	cur  *Current
	now  int64
	plan *Plan
	// userByDN maps a normalised DN to the id of a person the sync
	// manages (mapped without problem, and not an unadopted user).
	userByDN map[string]string
	// users are the managed people, by id.
	users map[string]Entry
	// seenUsers are the ids found in the server, with or without a
	// problem: they are not disabled as gone.
	seenUsers map[string]bool
	// keepLines are owners whose entries had a problem: their lines are
	// left as they are.
	keepLines map[string]bool
}

// MakePlan computes what a sync changes in cur to match s, as of now.
// It is pure: the same inputs give the same plan.
func MakePlan(c *Config, s *Snapshot, cur *Current, now time.Time) *Plan {
	p := &planner{c: c, cur: cur, now: now.Unix(), plan: &Plan{Actions: []Action{}, Problems: []string{}},
		userByDN: map[string]string{}, users: map[string]Entry{}, seenUsers: map[string]bool{}, keepLines: map[string]bool{}}
	p.planUsers(sortedByDN(s.Users))
	if !c.Groups.Disabled {
		p.planGroups(sortedByDN(s.Groups))
	}
	if !c.Lines.Disabled {
		p.planLines()
	}
	return p.plan
}

func sortedByDN(es []Entry) []Entry {
	type keyed struct {
		key string
		e   Entry
	}
	ks := make([]keyed, len(es))
	for i, e := range es {
		ks[i] = keyed{normDN(e.DN), e}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	out := make([]Entry, len(ks))
	for i, k := range ks {
		out[i] = k.e
	}
	return out
}

// normDN lower-cases a DN and drops the spaces around its separators, so
// that member values match entry DNs however they are written.
func normDN(dn string) string {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(dn))
	}
	rdns := make([]string, 0, len(d.RDNs))
	for _, r := range d.RDNs {
		parts := make([]string, 0, len(r.Attributes))
		for _, a := range r.Attributes {
			parts = append(parts, strings.ToLower(a.Type)+"="+strings.ToLower(a.Value))
		}
		rdns = append(rdns, strings.Join(parts, "+"))
	}
	return strings.Join(rdns, ",")
}

func (p *planner) problem(dn, format string, args ...any) {
	p.plan.Problems = append(p.plan.Problems, dn+": "+fmt.Sprintf(format, args...))
}

func (p *planner) add(op, kind, id, dn string, fields []string, cmd *dirpb.Command) {
	p.plan.Actions = append(p.plan.Actions, Action{Op: op, Kind: kind, ID: id, DN: dn, Fields: fields, cmd: cmd})
}

// entryID reads an id attribute: lower-cased, each run of spaces made
// one "-" (Active Directory's "Domain Users" is domain-users), and
// checked as the API checks ids.
func entryID(e Entry, attr string) (string, error) {
	raw := strings.TrimSpace(e.First(attr))
	if raw == "" {
		return "", fmt.Errorf("no %s attribute: no id", attr)
	}
	id := strings.Join(strings.Fields(strings.ToLower(raw)), "-")
	if err := api.CheckID(attr, id); err != nil {
		return "", err
	}
	return id, nil
}

func (p *planner) planUsers(entries []Entry) {
	byID := map[string][]Entry{}
	var ids []string
	for _, e := range entries {
		id, err := entryID(e, p.c.Users.ID)
		if err != nil {
			p.problem(e.DN, "%v", err)
			continue
		}
		if byID[id] == nil {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], e)
	}
	for _, id := range ids {
		p.seenUsers[id] = true
		if e, ok := p.oneEntry(id, byID[id]); ok {
			p.planUser(id, e)
		}
	}
	p.goneUsers()
}

// oneEntry picks the entry of an id. Of several, the one the directory
// already syncs from wins and the others are reported; when none does,
// all are reported and the id is left as it is: which one is meant is
// for the administrator to settle.
func (p *planner) oneEntry(id string, es []Entry) (Entry, bool) {
	if len(es) == 1 {
		return es[0], true
	}
	dns := make([]string, len(es))
	win := -1
	for i, e := range es {
		dns[i] = e.DN
		if old := p.cur.Users[id]; old.GetSynced() != nil && normDN(old.Synced.Dn) == normDN(e.DN) {
			win = i
		}
	}
	for i, e := range es {
		if i == win {
			continue
		}
		others := slices.Delete(slices.Clone(dns), i, i+1)
		p.problem(e.DN, "duplicate id %q (also %s): skipped", id, strings.Join(others, "; "))
	}
	if win < 0 {
		p.keepLines[id] = true
		return Entry{}, false
	}
	return es[win], true
}

func (p *planner) planUser(id string, e Entry) {
	old := p.cur.Users[id]
	if old != nil && old.Synced == nil && !p.c.AdoptExisting {
		p.keepLines[id] = true
		p.problem(e.DN, "user %q exists and was not made by the sync: left alone (adopt_existing: true takes it over)", id)
		return
	}
	nu := &dirpb.User{Id: id, CreatedUnix: p.now}
	if old != nil {
		nu = proto.Clone(old).(*dirpb.User)
	}
	if err := p.mapUser(nu, e); err != nil {
		p.keepLines[id] = true
		p.problem(e.DN, "%v: skipped", err)
		return
	}
	p.userByDN[normDN(e.DN)] = id
	p.users[id] = e
	nu.Synced = &dirpb.SyncSource{Dn: e.DN, SyncedUnix: old.GetSynced().GetSyncedUnix()}
	p.put(KindUser, id, e.DN, old, nu)
}

// put plans writing nu over old (nil: create) when they differ.
func (p *planner) put(kind, id, dn string, old, nu proto.Message) {
	if !isNil(old) && proto.Equal(old, nu) {
		p.plan.Unchanged++
		return
	}
	op, fields := OpCreate, []string(nil)
	if !isNil(old) {
		op, fields = OpUpdate, diffFields(old, nu)
	}
	p.add(op, kind, id, dn, fields, p.stamp(kind, nu))
}

func isNil(m proto.Message) bool { return m == nil || !m.ProtoReflect().IsValid() }

// stamp sets the sync and update times of a record about to be written
// and wraps it in its command. Secrets are left out, so the directory
// keeps the stored ones (PutUser and PutLine keep what comes empty): a
// password or SIP password changed while the sync runs is not undone.
func (p *planner) stamp(kind string, m proto.Message) *dirpb.Command {
	switch r := m.(type) {
	case *dirpb.User:
		r.Synced.SyncedUnix, r.UpdatedUnix = p.now, p.now
		r.PasswordHash = ""
		return &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: r}}}
	case *dirpb.Group:
		r.Synced.SyncedUnix, r.UpdatedUnix = p.now, p.now
		return &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: r}}}
	case *dirpb.Line:
		r.Synced.SyncedUnix, r.UpdatedUnix = p.now, p.now
		r.Realm, r.Ha1Md5, r.Ha1Sha256, r.Forwarding = "", "", "", nil
		return &dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: r}}}
	}
	panic(fmt.Sprintf("ldapsync: stamp of a %s %T", kind, m)) // programming error: only the three kinds are planned
}

// diffFields names the top-level fields (contact fields as contact.x)
// that differ between two records of one type.
func diffFields(a, b proto.Message) []string {
	var out []string
	fields := a.ProtoReflect().Descriptor().Fields()
	ra, rb := a.ProtoReflect(), b.ProtoReflect()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		va, vb := ra.Get(f), rb.Get(f)
		if va.Equal(vb) {
			continue
		}
		if f.Name() == "contact" {
			for _, sub := range diffFields(ra.Get(f).Message().Interface(), rb.Get(f).Message().Interface()) {
				out = append(out, "contact."+sub)
			}
			continue
		}
		out = append(out, string(f.Name()))
	}
	return out
}

var phonePattern = regexp.MustCompile(`^\+?[0-9 ()./-]{1,40}$`)

// mapUser sets the fields the mapping names from e and checks the result
// as the API would.
func (p *planner) mapUser(u *dirpb.User, e Entry) error {
	m := p.c.Users
	u.DisplayName = strings.TrimSpace(e.First(m.DisplayName))
	if u.DisplayName == "" {
		u.DisplayName = strings.TrimSpace(e.First("cn"))
	}
	if u.Contact == nil {
		u.Contact = &dirpb.Contact{}
	}
	if m.Email != "" {
		u.Contact.Email = strings.TrimSpace(e.First(m.Email))
	}
	for field, attr := range m.Contact {
		if attr == "" {
			continue
		}
		v := strings.TrimSpace(e.First(attr))
		if phoneFields[field] && v != "" && !phonePattern.MatchString(v) {
			return fmt.Errorf("%s (%s): %q is not a phone number", attr, field, clip(v))
		}
		setContact(u.Contact, field, v)
	}
	disabled, err := p.disabled(e)
	if err != nil {
		return err
	}
	u.Disabled = disabled
	if m.Site != "" {
		if u.HomeSite, err = mappedSite(m.Site, e); err != nil {
			return err
		}
	}
	return api.CheckUserRecord(u)
}

// mappedSite reads a home site from attr of e; a value that is not a site
// name is an error naming the attribute.
func mappedSite(attr string, e Entry) (string, error) {
	v := strings.TrimSpace(e.First(attr))
	if err := persistence.CheckSite(attr, v); err != nil {
		return "", fmt.Errorf("%s (site): %q is not a site name (letters, digits and -, at most 32)", attr, clip(v))
	}
	return v, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func setContact(c *dirpb.Contact, field, v string) {
	ptr := map[string]*string{"job_title": &c.JobTitle, "company": &c.Company, "department": &c.Department,
		"office": &c.Office, "business_address": &c.BusinessAddress, "work_phone": &c.WorkPhone,
		"business_phone2": &c.BusinessPhone2, "mobile": &c.Mobile, "pager": &c.Pager, "private_phone": &c.PrivatePhone,
		"business_fax": &c.BusinessFax, "website": &c.Website}[field]
	if ptr != nil {
		*ptr = v
	}
}

// disabled reads the disabled attribute: bit 2 of userAccountControl, or
// one of DisabledValues.
func (p *planner) disabled(e Entry) (bool, error) {
	m := p.c.Users
	if m.Disabled == "" {
		return false, nil
	}
	v := strings.TrimSpace(e.First(m.Disabled))
	if len(m.DisabledValues) > 0 {
		return slices.ContainsFunc(m.DisabledValues, func(d string) bool { return strings.EqualFold(d, v) }), nil
	}
	if v == "" {
		return false, nil
	}
	uac, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not a number (userAccountControl flags)", m.Disabled, clip(v))
	}
	return uac&2 != 0, nil
}

// goneUsers disables the synced users no entry was found for.
func (p *planner) goneUsers() {
	for _, id := range sortedKeys(p.cur.Users) {
		old := p.cur.Users[id]
		if old.Synced == nil || old.Synced.Gone || p.seenUsers[id] {
			continue
		}
		nu := proto.Clone(old).(*dirpb.User)
		nu.Disabled, nu.Synced.Gone = true, true
		p.add(OpDisable, KindUser, id, old.Synced.Dn, []string{"disabled", "synced.gone"}, p.stamp(KindUser, nu))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
