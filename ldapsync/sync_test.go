package ldapsync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ucgrid/ucgrid/internal/slapdtest"
	"github.com/ucgrid/ucgrid/internal/testdir"
	"github.com/ucgrid/ucgrid/internal/testlog"
	"github.com/ucgrid/ucgrid/ldapsync"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// people is the size of the generated tree: a few hundred, as the issue
// asks, in well under a second per sync.
const people = 300

// groups of slapdtest.Tree: five departments and staff.
const groups = 6

// env is one test's slapd, directory and runner.
type env struct {
	srv *slapdtest.Server
	dir *persistence.Node
	r   *ldapsync.Runner
}

// mapping is the test's mapping file for srv: OpenLDAP preset, the
// department (businessCategory) as the primary group, nested groups,
// employeeType "disabled" as the disabled mark, the extension as the
// last three digits of telephoneNumber.
func mapping(srv *slapdtest.Server, url, extra string) string {
	return fmt.Sprintf(`preset: openldap
url: %s
base_dn: %s
bind_dn: %s
bind_password_file: PWFILE
users:
  disabled: employeeType
  disabled_values: [disabled]
  primary_group: businessCategory
groups:
  nested: true
  primary_key: businessCategory
lines:
  digits: 3
%s`, url, slapdtest.Base, srv.AdminDN, extra)
}

// load writes the mapping and a password file and loads them.
func load(t *testing.T, text, password string) *ldapsync.Config {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ldap.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "PWFILE", pw)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ldapsync.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func start(t *testing.T, ldif string) *env {
	t.Helper()
	srv := slapdtest.Start(t, ldif)
	return withConfig(t, srv, load(t, mapping(srv, srv.URL, ""), srv.AdminPassword))
}

func withConfig(t *testing.T, srv *slapdtest.Server, c *ldapsync.Config) *env {
	t.Helper()
	dir := testdir.Open(t, persistence.Config{})
	r, err := ldapsync.NewRunner(ldapsync.RunnerConfig{Config: c, Directory: dir, Logger: testlog.New(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, dir: dir, r: r}
}

func (e *env) sync(t *testing.T, dryRun bool) *ldapsync.Report {
	t.Helper()
	rep, err := e.r.Sync(context.Background(), dryRun)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return rep
}

func counts(st *dirpb.DirectorySyncStatus) [4]int32 {
	return [4]int32{st.Created, st.Updated, st.Disabled, st.Unchanged}
}

func (e *env) user(t *testing.T, id string) *dirpb.User {
	t.Helper()
	u, err := e.dir.Store().User(id)
	if err != nil {
		t.Fatalf("user %s: %v", id, err)
	}
	return u
}

func (e *env) group(t *testing.T, id string) *dirpb.Group {
	t.Helper()
	g, err := e.dir.Store().Group(id)
	if err != nil {
		t.Fatalf("group %s: %v", id, err)
	}
	return g
}

func (e *env) apply(t *testing.T, cmd *dirpb.Command) {
	t.Helper()
	if _, err := e.dir.Apply(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
}

func member(g *dirpb.Group, user string) *dirpb.Member {
	for _, m := range g.Members {
		if m.User == user {
			return m
		}
	}
	return nil
}

func TestSync_FirstSyncCreatesUsersGroupsAndLines(t *testing.T) {
	e := start(t, slapdtest.Tree(people))
	rep := e.sync(t, false)
	if got, want := counts(rep.Status), [4]int32{2*people + groups, 0, 0, 0}; got != want {
		t.Fatalf("created, updated, disabled, unchanged = %v, want %v; problems %q", got, want, rep.Status.Problems)
	}
	if len(rep.Status.Problems) != 0 {
		t.Fatalf("problems: %q", rep.Status.Problems)
	}
	u := e.user(t, "person007")
	if u.DisplayName != "Person 7" || u.Contact.GetEmail() != "person007@example.com" || u.Contact.GetWorkPhone() != "+49 89 1234-107" ||
		u.Contact.GetJobTitle() != "Engineer" || u.Disabled || u.Synced.GetDn() != slapdtest.PersonDN(7) {
		t.Fatalf("person007 = %v", u)
	}
	l, err := e.dir.Store().Line("107")
	if err != nil || l.Owner != "person007" || l.Synced.GetDn() != slapdtest.PersonDN(7) {
		t.Fatalf("line 107 = %v, %v", l, err)
	}
	dept := slapdtest.Departments[7%len(slapdtest.Departments)]
	if m := member(e.group(t, dept), "person007"); m == nil || !m.Primary || !m.Synced {
		t.Fatalf("person007 in %s = %v, want a synced primary member", dept, m)
	}
	staff := e.group(t, "staff")
	if len(staff.Members) != people || member(staff, "person007").GetPrimary() {
		t.Fatalf("staff has %d members (want %d through its nested groups), person007 primary %v",
			len(staff.Members), people, member(staff, "person007").GetPrimary())
	}
	if staff.Active {
		t.Fatal("a new group is active without activate_new")
	}
	st, err := e.dir.Store().DirectorySyncStatus()
	if err != nil || st.GetCreated() != 2*people+groups || st.GetNode() != e.dir.ID() || st.GetDryRun() {
		t.Fatalf("stored status = %v, %v", st, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.r.Collectors()...)
	want := fmt.Sprintf(`
# HELP ucgrid_ldap_sync_entries_total Records LDAP syncs changed (dry runs not counted), by kind (user, group, line) and action (create, update, disable).
# TYPE ucgrid_ldap_sync_entries_total counter
ucgrid_ldap_sync_entries_total{action="create",kind="group"} %d
ucgrid_ldap_sync_entries_total{action="create",kind="line"} %d
ucgrid_ldap_sync_entries_total{action="create",kind="user"} %d
# HELP ucgrid_ldap_syncs_total LDAP / Active Directory syncs run on this node, by outcome (ok, problems, error, dry_run).
# TYPE ucgrid_ldap_syncs_total counter
ucgrid_ldap_syncs_total{outcome="ok"} 1
`, groups, people, people)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ucgrid_ldap_syncs_total", "ucgrid_ldap_sync_entries_total"); err != nil {
		t.Fatal(err)
	}
}

func TestSync_SameSyncTwiceChangesNothing(t *testing.T) {
	e := start(t, slapdtest.Tree(people))
	e.sync(t, false)
	before := e.dir.Applied()
	rep := e.sync(t, false)
	if got, want := counts(rep.Status), [4]int32{0, 0, 0, 2*people + groups}; got != want {
		t.Fatalf("second sync: created, updated, disabled, unchanged = %v, want %v (plan %v)", got, want, rep.Plan.Actions)
	}
	if d := e.dir.Applied() - before; d != 1 {
		t.Fatalf("the second sync wrote %d Raft entries, want 1 (its status)", d)
	}
}

func TestSync_ChangeMoveAndRemoval(t *testing.T) {
	e := start(t, slapdtest.Tree(people))
	e.sync(t, false)
	// Local additions the sync must leave alone: a grant and a preset on
	// person003 (who will be removed), a hand-added member of sales.
	e.apply(t, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "local1", DisplayName: "Local"}}}})
	e.apply(t, &dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: "person003", Viewer: "person004", Grant: &dirpb.Grant{Level: "team"}}}})
	e.apply(t, &dirpb.Command{Op: &dirpb.Command_PutPreset{PutPreset: &dirpb.PutGrant{Target: "person003", Viewer: "person005", Grant: &dirpb.Grant{Level: "business"}}}})
	l103, err := e.dir.Store().Line("103")
	if err != nil {
		t.Fatal(err)
	}
	l103.Realm, l103.Ha1Md5, l103.Ha1Sha256 = "ucgrid.local", "md5-of-the-sip-password", "sha-of-the-sip-password"
	l103.Forwarding = &dirpb.Forwarding{Enabled: true, Destination: "101"}
	e.apply(t, &dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: l103}}})
	sales := e.group(t, "sales")
	sales.Members = append(sales.Members, &dirpb.Member{User: "local1", Role: "user"})
	e.apply(t, &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: sales}}})

	admin := e.srv.Admin(t)
	modify(t, admin, slapdtest.PersonDN(1), func(m *ldap.ModifyRequest) { m.Replace("displayName", []string{"Person One"}) })
	// person005 moves from sales (5%5=0) to dev.
	modify(t, admin, slapdtest.GroupDN("sales"), func(m *ldap.ModifyRequest) { m.Delete("member", []string{slapdtest.PersonDN(5)}) })
	modify(t, admin, slapdtest.GroupDN("dev"), func(m *ldap.ModifyRequest) { m.Add("member", []string{slapdtest.PersonDN(5)}) })
	modify(t, admin, slapdtest.PersonDN(5), func(m *ldap.ModifyRequest) { m.Replace("businessCategory", []string{"dev"}) })
	if err := admin.Del(ldap.NewDelRequest(slapdtest.PersonDN(3), nil)); err != nil {
		t.Fatal(err)
	}

	rep := e.sync(t, false)
	if len(rep.Status.Problems) != 0 {
		t.Fatalf("problems: %q", rep.Status.Problems)
	}
	if got := e.user(t, "person001").DisplayName; got != "Person One" {
		t.Fatalf("person001 display name = %q after the change", got)
	}
	sales, dev := e.group(t, "sales"), e.group(t, "dev")
	if member(sales, "person005") != nil || member(dev, "person005") == nil || !member(dev, "person005").Primary {
		t.Fatalf("person005 did not move: in sales %v, in dev %v", member(sales, "person005"), member(dev, "person005"))
	}
	if m := member(sales, "local1"); m == nil || m.Synced {
		t.Fatalf("the hand-added member of sales = %v, want kept, not synced", m)
	}
	gone := e.user(t, "person003")
	if !gone.Disabled || !gone.Synced.GetGone() {
		t.Fatalf("removed person003 = %v, want disabled and marked gone", gone)
	}
	if g, err := e.dir.Store().Grant(persistence.LayerUser, "person003", "person004"); err != nil || g.Level != "team" {
		t.Fatalf("person003's grant after removal = %v, %v", g, err)
	}
	if g, err := e.dir.Store().Grant(persistence.LayerPreset, "person003", "person005"); err != nil || g.Level != "business" {
		t.Fatalf("person003's preset after removal = %v, %v", g, err)
	}
	if l, err := e.dir.Store().Line("103"); err != nil || !l.Synced.GetGone() || l.Owner != "person003" ||
		l.Ha1Md5 != "md5-of-the-sip-password" || !l.Forwarding.GetEnabled() {
		t.Fatalf("person003's line after removal = %v, %v: want kept with its SIP password and forwarding, marked gone", l, err)
	}
	wantOps := map[string]int{"update user": 1, "update group": 3, "disable user": 1, "disable line": 1}
	gotOps := map[string]int{}
	for _, a := range rep.Plan.Actions {
		gotOps[a.Op+" "+a.Kind]++
	}
	// sales, dev and staff (person003 left it through sales... or its
	// department) change; count what the tree implies.
	if gotOps["update user"] != 1 || gotOps["disable user"] != 1 || gotOps["disable line"] != 1 || gotOps["create user"] != 0 {
		t.Fatalf("plan = %v, want about %v", gotOps, wantOps)
	}
}

func modify(t *testing.T, c *ldap.Conn, dn string, f func(*ldap.ModifyRequest)) {
	t.Helper()
	m := ldap.NewModifyRequest(dn, nil)
	f(m)
	if err := c.Modify(m); err != nil {
		t.Fatalf("modify %s: %v", dn, err)
	}
}

func TestSync_DryRunPlansAndChangesNothing(t *testing.T) {
	e := start(t, slapdtest.Tree(people))
	rep := e.sync(t, true)
	if n := rep.Plan.Count(ldapsync.OpCreate); n != 2*people+groups {
		t.Fatalf("dry run plans %d creates, want %d", n, 2*people+groups)
	}
	if _, err := e.dir.Store().User("person001"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("after a dry run person001 is there (%v)", err)
	}
	st, err := e.dir.Store().DirectorySyncStatus()
	if err != nil || !st.GetDryRun() || st.GetCreated() != 2*people+groups {
		t.Fatalf("stored status after a dry run = %v, %v: want dry_run with the planned counts", st, err)
	}
}

func TestSync_WrongPasswordIsOneClearLineAndChangesNothing(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Tree(10))
	e := withConfig(t, srv, load(t, mapping(srv, srv.URL, ""), "wrong-password-xyz"))
	rep, err := e.r.Sync(context.Background(), false)
	if !errors.Is(err, ldapsync.ErrSync) || !errors.Is(err, ldapsync.ErrBind) {
		t.Fatalf("err = %v, want ErrSync and ErrBind", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "invalid credentials") || strings.Contains(msg, "wrong-password-xyz") {
		t.Fatalf("error %q: want one line saying invalid credentials, without the password", msg)
	}
	if _, err := e.dir.Store().User("person001"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("after a refused bind person001 is there (%v)", err)
	}
	if rep == nil || rep.Status.Error == "" || strings.Contains(rep.Status.Error, "wrong-password-xyz") {
		t.Fatalf("status = %v: want the error, without the password", rep)
	}
}

func TestSync_BadEntriesReportedWithDNWhileTheRestApplies(t *testing.T) {
	tree := slapdtest.Tree(20) + `dn: ou=contractors,dc=example,dc=com
objectClass: organizationalUnit
ou: contractors

dn: uid=person001,ou=contractors,dc=example,dc=com
objectClass: inetOrgPerson
uid: person001
cn: Duplicate
sn: Duplicate

dn: uid=badmail,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: badmail
cn: Bad Mail
sn: Mail
mail: not-an-address

dn: uid=badphone,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: badphone
cn: Bad Phone
sn: Phone
mobile: call me maybe

dn: cn=loop-a,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: loop-a
member: cn=loop-b,ou=groups,dc=example,dc=com
member: uid=person002,ou=people,dc=example,dc=com

dn: cn=loop-b,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: loop-b
member: cn=loop-a,ou=groups,dc=example,dc=com

`
	e := start(t, tree)
	rep := e.sync(t, false)
	for _, want := range []string{
		"uid=person001,ou=contractors,dc=example,dc=com: duplicate id",
		"uid=badmail,ou=people,dc=example,dc=com: contact.email",
		"uid=badphone,ou=people,dc=example,dc=com: mobile",
		"group cycle",
	} {
		if !slices.ContainsFunc(rep.Status.Problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("no problem containing %q in %q", want, rep.Status.Problems)
		}
	}
	if !slices.ContainsFunc(rep.Status.Problems, func(p string) bool {
		return strings.Contains(p, "group cycle") && strings.Contains(p, "cn=loop-a,ou=groups,dc=example,dc=com")
	}) {
		t.Errorf("the cycle is not reported with its DN: %q", rep.Status.Problems)
	}
	if !slices.ContainsFunc(rep.Status.Problems, func(p string) bool { return strings.HasPrefix(p, slapdtest.PersonDN(1)+": duplicate id") }) {
		t.Errorf("the first person001 is not reported: %q", rep.Status.Problems)
	}
	for _, id := range []string{"badmail", "badphone", "person001"} {
		if _, err := e.dir.Store().User(id); !errors.Is(err, persistence.ErrNotFound) {
			t.Errorf("%s was created (%v)", id, err)
		}
	}
	if rep.Status.Created != 2*19+groups+2 {
		t.Errorf("created = %d, want 19 people (person001 is ambiguous), their lines and the %d groups", rep.Status.Created, groups+2)
	}
	for _, id := range []string{"loop-a", "loop-b"} {
		if m := member(e.group(t, id), "person002"); m == nil {
			t.Errorf("%s lacks person002 (reached through the cycle)", id)
		}
	}
}

func TestSync_ExistingUserTakenOverOnlyWhenAdopting(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Tree(5))
	e := withConfig(t, srv, load(t, mapping(srv, srv.URL, ""), srv.AdminPassword))
	e.apply(t, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "person001", DisplayName: "Hand", PasswordHash: "hash"}}}})
	rep := e.sync(t, false)
	if !slices.ContainsFunc(rep.Status.Problems, func(p string) bool {
		return strings.HasPrefix(p, slapdtest.PersonDN(1)+": ") && strings.Contains(p, "adopt_existing")
	}) {
		t.Fatalf("problems %q: want person001 reported with its DN", rep.Status.Problems)
	}
	if u := e.user(t, "person001"); u.DisplayName != "Hand" || u.Synced != nil {
		t.Fatalf("unadopted person001 = %v, want left alone", u)
	}
	e2 := withConfig(t, srv, load(t, mapping(srv, srv.URL, "adopt_existing: true\n"), srv.AdminPassword))
	e2.apply(t, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "person001", DisplayName: "Hand", PasswordHash: "hash"}}}})
	e2.sync(t, false)
	if u := e2.user(t, "person001"); u.DisplayName != "Person 1" || u.Synced == nil || u.PasswordHash != "hash" {
		t.Fatalf("adopted person001 = %v, want synced with its password kept", u)
	}
}

func TestSync_LDAPSAndStartTLSWithTheCAFile(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Tree(5))
	for _, tc := range []struct{ name, url, extra string }{
		{"ldaps", srv.LDAPSURL, "ca_file: " + srv.CAFile + "\n"},
		{"starttls", srv.URL, "start_tls: true\nca_file: " + srv.CAFile + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := withConfig(t, srv, load(t, mapping(srv, tc.url, tc.extra), srv.AdminPassword))
			if rep := e.sync(t, false); rep.Status.Created != 2*5+groups {
				t.Fatalf("created %d over %s", rep.Status.Created, tc.name)
			}
		})
	}
	t.Run("ldaps without the CA", func(t *testing.T) {
		e := withConfig(t, srv, load(t, mapping(srv, srv.LDAPSURL, ""), srv.AdminPassword))
		if _, err := e.r.Sync(context.Background(), false); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v, want the server's certificate refused", err)
		}
	})
}

func TestRunner_FollowerRefusesNamingTheLeader(t *testing.T) {
	// A closed directory is no leader: the sync is refused before any
	// connection, as on a follower.
	srv := slapdtest.Start(t, slapdtest.Tree(1))
	e := withConfig(t, srv, load(t, mapping(srv, srv.URL, ""), srv.AdminPassword))
	if err := e.dir.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.r.Sync(ctx, false); !errors.Is(err, persistence.ErrNotLeader) {
		t.Fatalf("err = %v, want ErrNotLeader", err)
	}
}

func TestSync_HomeSitesFromTheDirectory(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Tree(people))
	text := mapping(srv, srv.URL, "")
	text = strings.Replace(text, "users:\n", "users:\n  site: businessCategory\n", 1)
	text = strings.Replace(text, "groups:\n", "groups:\n  site: businessCategory\n", 1)
	e := withConfig(t, srv, load(t, text, srv.AdminPassword))
	rep := e.sync(t, false)
	if len(rep.Status.Problems) != 0 {
		t.Fatalf("problems: %q", rep.Status.Problems)
	}
	dept := slapdtest.Departments[7%len(slapdtest.Departments)]
	if got := e.user(t, "person007").HomeSite; got != dept {
		t.Fatalf("person007's home site = %q, want %q (businessCategory)", got, dept)
	}
	if got := e.group(t, dept).HomeSite; got != dept {
		t.Fatalf("group %s's home site = %q, want %q", dept, got, dept)
	}
	if got := e.group(t, "staff").HomeSite; got != "" {
		t.Fatalf("staff (no businessCategory) has home site %q, want none", got)
	}
}
