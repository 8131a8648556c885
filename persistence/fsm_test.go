package persistence

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func memberIDs(ms []Membership, group bool) []string {
	var out []string
	for _, m := range ms {
		if group {
			out = append(out, m.Group)
		} else {
			out = append(out, m.User)
		}
	}
	return out
}

func TestGroup_PutMaintainsMembershipIndexesBothWays(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putUser("bob"), putUser("carol"))
	h.mustApply(putGroup(group("sales", "700", "alice", "bob")))
	h.mustApply(putGroup(group("support", "", "bob")))

	if got, _ := h.s.MembersOf("sales"); !slices.Equal(memberIDs(got, false), []string{"alice", "bob"}) {
		t.Errorf("MembersOf(sales) = %v", got)
	}
	if got, _ := h.s.GroupsOf("bob"); !slices.Equal(memberIDs(got, true), []string{"sales", "support"}) {
		t.Errorf("GroupsOf(bob) = %v", got)
	}

	// Replace the member list: alice leaves, carol joins.
	h.mustApply(putGroup(group("sales", "700", "bob", "carol")))
	if got, _ := h.s.GroupsOf("alice"); len(got) != 0 {
		t.Errorf("GroupsOf(alice) after leaving = %v, want none", got)
	}
	if got, _ := h.s.MembersOf("sales"); !slices.Equal(memberIDs(got, false), []string{"bob", "carol"}) {
		t.Errorf("MembersOf(sales) = %v", got)
	}
	if got, _ := h.s.GroupsOf("carol"); len(got) != 1 || got[0].Role != "user" {
		t.Errorf("GroupsOf(carol) = %+v, want sales with default role user", got)
	}
}

func TestGroup_CallNumberIndexFollowsChanges(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putGroup(group("sales", "700", "alice")))
	if g, err := h.s.GroupByNumber("700"); err != nil || g.Id != "sales" {
		t.Fatalf("GroupByNumber(700) = %v, %v", g, err)
	}
	h.mustApply(putGroup(group("sales", "701", "alice")))
	if _, err := h.s.GroupByNumber("700"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old number 700 still resolves: %v", err)
	}
	if g, err := h.s.GroupByNumber("701"); err != nil || g.Id != "sales" {
		t.Errorf("GroupByNumber(701) = %v, %v", g, err)
	}
	h.mustApply(deleteGroup("sales"))
	if _, err := h.s.GroupByNumber("701"); !errors.Is(err, ErrNotFound) {
		t.Errorf("number of a deleted group still resolves: %v", err)
	}
	if got, _ := h.s.GroupsOf("alice"); len(got) != 0 {
		t.Errorf("memberships of a deleted group remain: %v", got)
	}
}

func TestGroup_LeaderAndDeputyIndexedWithoutMembership(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("boss"), putUser("vice"), putUser("alice"))
	g := group("sales", "", "alice")
	g.Leader, g.Deputy = "boss", "vice"
	h.mustApply(putGroup(g))
	led, _ := h.s.GroupsLedBy("boss")
	if len(led) != 1 || led[0].Group != "sales" || led[0].Role != "leader" {
		t.Errorf("GroupsLedBy(boss) = %+v", led)
	}
	led, _ = h.s.GroupsLedBy("vice")
	if len(led) != 1 || led[0].Role != "deputy" {
		t.Errorf("GroupsLedBy(vice) = %+v", led)
	}
	if got, _ := h.s.GroupsOf("boss"); len(got) != 0 {
		t.Errorf("leader became a member: %v", got)
	}
}

func TestLine_IndexesAndSecretsKept(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putUser("bob"))
	h.mustApply(putLine(&dirpb.Line{Number: "100", Owner: "alice", Realm: "pbx", Ha1Md5: "md5", Ha1Sha256: "sha"}))
	h.mustApply(putLine(&dirpb.Line{Number: "101", Owner: "alice"}))
	lines, _ := h.s.LinesOf("alice")
	if len(lines) != 2 || lines[0].Kind != "primary" || lines[1].Kind != "secondary" {
		t.Fatalf("LinesOf(alice) = %v, want the first line primary and the second secondary by default", lines)
	}
	// A forwarding change without credentials keeps them; the owner moves.
	h.mustApply(putLine(&dirpb.Line{Number: "100", Owner: "bob", Forwarding: &dirpb.Forwarding{Enabled: true, Destination: "555"}}))
	l, _ := h.s.Line("100")
	if l.Ha1Md5 != "md5" || l.Ha1Sha256 != "sha" || l.Realm != "pbx" || !l.Forwarding.Enabled {
		t.Errorf("Line(100) = %v, want credentials kept and forwarding set", l)
	}
	if lines, _ := h.s.LinesOf("alice"); len(lines) != 1 || lines[0].Number != "101" {
		t.Errorf("LinesOf(alice) after move = %v", lines)
	}
	if lines, _ := h.s.LinesOf("bob"); len(lines) != 1 {
		t.Errorf("LinesOf(bob) = %v", lines)
	}
}

func TestGrant_IndexedByTargetAndViewerPerLayer(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("a"), putUser("b"), putUser("c"))
	h.mustApply(putGrant("a", "b", "team"), putGrant("a", "c", "business"), putGrant("c", "b", "personal"))
	h.mustApply(putPreset("a", "b", "public"))

	on, _ := h.s.GrantsOn(LayerUser, "a")
	if len(on) != 2 || on[0].Viewer != "b" || on[1].Viewer != "c" {
		t.Errorf("GrantsOn(user, a) = %v", on)
	}
	held, _ := h.s.GrantsHeldBy(LayerUser, "b")
	if len(held) != 2 || held[0].Target != "a" || held[0].Grant.Level != "team" || held[1].Target != "c" {
		t.Errorf("GrantsHeldBy(user, b) = %v", held)
	}
	if g, err := h.s.Grant(LayerPreset, "a", "b"); err != nil || g.Level != "public" {
		t.Errorf("Grant(preset, a, b) = %v, %v", g, err)
	}
	if _, err := h.s.Grant(LayerPreset, "a", "c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Grant(preset, a, c) = %v, want ErrNotFound", err)
	}
	h.mustApply(deleteGrant("a", "b"))
	if held, _ := h.s.GrantsHeldBy(LayerUser, "b"); len(held) != 1 || held[0].Target != "c" {
		t.Errorf("GrantsHeldBy(user, b) after delete = %v", held)
	}
}

func TestUser_DeleteRemovesEverythingThatNamesIt(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putUser("bob"))
	g := group("sales", "700", "alice", "bob")
	g.Leader = "alice"
	h.mustApply(putGroup(g), putGrant("alice", "bob", "team"), putGrant("bob", "alice", "team"),
		putPreset("bob", "alice", "public"), putLine(&dirpb.Line{Number: "100", Owner: "alice"}),
		putRegistration("100", "sip:100@192.0.2.1", 1000),
		appendJournal(&dirpb.JournalEntry{Owner: "alice", StartUnix: 10}))
	before := dump(t, h.s)
	h.mustApply(deleteUser("alice"))

	got, _ := h.s.Group("sales")
	if len(got.Members) != 1 || got.Members[0].User != "bob" || got.Leader != "" {
		t.Errorf("group after delete = %v, want bob only and no leader", got)
	}
	for k := range dump(t, h.s) {
		if contains(k, "alice") {
			t.Errorf("key %q still names the deleted user", k)
		}
	}
	if len(before) == len(dump(t, h.s)) {
		t.Error("delete changed nothing")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestRegistration_ExpireRemovesOnlyDueContacts(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putLine(&dirpb.Line{Number: "100", Owner: "alice"}))
	h.mustApply(putRegistration("100", "sip:a@1", 100), putRegistration("100", "sip:b@2", 200))
	// Refreshing a contact moves its expiry.
	h.mustApply(putRegistration("100", "sip:a@1", 300))
	h.mustApply(&dirpb.Command{Op: &dirpb.Command_ExpireRegistrations{ExpireRegistrations: &dirpb.ExpireRegistrations{NowUnix: 250}}})
	regs, _ := h.s.Registrations("100")
	if len(regs) != 1 || regs[0].Contact != "sip:a@1" {
		t.Errorf("Registrations after expiry at 250 = %v, want only sip:a@1", regs)
	}
}

// One REGISTER is one entry: removals (listed or all) and refreshes apply
// together.
func TestRegistration_UpdateAppliesRemovalsThenPuts(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putLine(&dirpb.Line{Number: "100", Owner: "alice"}))
	h.mustApply(putRegistration("100", "sip:a@1", 100), putRegistration("100", "sip:b@2", 200))
	contacts := func() []string {
		regs, err := h.s.Registrations("100")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range regs {
			out = append(out, fmt.Sprintf("%s@%d", r.Contact, r.ExpiresAtUnix))
		}
		return out
	}
	h.mustApply(updateRegistrations("100", false, []string{"sip:a@1", "sip:gone@9"},
		&dirpb.Registration{Line: "100", Contact: "sip:c@3", ExpiresAtUnix: 300}))
	if got := fmt.Sprint(contacts()); got != "[sip:b@2@200 sip:c@3@300]" {
		t.Errorf("after removing a and adding c: %s", got)
	}
	h.mustApply(updateRegistrations("100", true, nil, &dirpb.Registration{Line: "100", Contact: "sip:b@2", ExpiresAtUnix: 400}))
	if got := fmt.Sprint(contacts()); got != "[sip:b@2@400]" {
		t.Errorf("after removing all and refreshing b: %s", got)
	}
	// Expiry follows the refreshed time, not the old one.
	h.mustApply(&dirpb.Command{Op: &dirpb.Command_ExpireRegistrations{ExpireRegistrations: &dirpb.ExpireRegistrations{NowUnix: 399}}})
	if got := fmt.Sprint(contacts()); got != "[sip:b@2@400]" {
		t.Errorf("after expiry at 399: %s", got)
	}
}

// A line keeps at most MaxContactsPerLine bindings: a REGISTER that
// would bind more replaces the oldest, and one carrying more than the
// cap keeps its last ones. Refreshing a binding does not add one.
func TestRegistration_AtMostTenContactsOldestReplaced(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putLine(&dirpb.Line{Number: "100", Owner: "alice"}))
	reg := func(i int) *dirpb.Registration {
		return &dirpb.Registration{Line: "100", Contact: fmt.Sprintf("sip:p%02d@10.0.0.1", i), ExpiresAtUnix: 9999, RegisteredUnix: int64(100 + i)}
	}
	for i := range MaxContactsPerLine {
		h.mustApply(updateRegistrations("100", false, nil, reg(i)))
	}
	h.mustApply(updateRegistrations("100", false, nil, reg(3))) // a refresh
	contacts := func() string {
		regs, err := h.s.Registrations("100")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range regs {
			out = append(out, strings.TrimPrefix(strings.TrimSuffix(r.Contact, "@10.0.0.1"), "sip:"))
		}
		return strings.Join(out, " ")
	}
	if got, want := contacts(), "p00 p01 p02 p03 p04 p05 p06 p07 p08 p09"; got != want {
		t.Fatalf("ten bindings: %s, want %s", got, want)
	}
	h.mustApply(updateRegistrations("100", false, nil, reg(10), reg(11)))
	if got, want := contacts(), "p02 p03 p04 p05 p06 p07 p08 p09 p10 p11"; got != want {
		t.Errorf("after two more: %s, want %s (the two oldest replaced)", got, want)
	}
	var many []*dirpb.Registration
	for i := 20; i < 50; i++ {
		many = append(many, reg(i))
	}
	h.mustApply(updateRegistrations("100", false, nil, many...))
	if got, want := contacts(), "p40 p41 p42 p43 p44 p45 p46 p47 p48 p49"; got != want {
		t.Errorf("after one REGISTER of 30: %s, want %s", got, want)
	}
	h.mustApply(putRegistration("100", "sip:p99@10.0.0.1", 9999))
	if regs, _ := h.s.Registrations("100"); len(regs) != MaxContactsPerLine {
		t.Errorf("PutRegistration past the cap: %d bindings", len(regs))
	}
}

func TestJournal_QueryUpdateAndPurge(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putUser("bob"))
	for i, start := range []int64{100, 200, 300, -50} {
		h.mustApply(appendJournal(&dirpb.JournalEntry{Owner: "alice", StartUnix: start, RemoteNumber: string(rune('a' + i))}))
	}
	h.mustApply(appendJournal(&dirpb.JournalEntry{Owner: "bob", StartUnix: 150}))

	all, _ := h.s.Journal(JournalQuery{Owner: "alice", FromUnix: -1000})
	if len(all) != 4 || all[0].StartUnix != -50 || all[3].StartUnix != 300 {
		t.Fatalf("Journal(alice) = %v", all)
	}
	some, _ := h.s.Journal(JournalQuery{Owner: "alice", FromUnix: 100, ToUnix: 300})
	if len(some) != 2 {
		t.Errorf("Journal(alice, [100,300)) = %d entries, want 2", len(some))
	}
	newest, _ := h.s.Journal(JournalQuery{Owner: "alice", FromUnix: -1000, Limit: 1, Newest: true})
	if len(newest) != 1 || newest[0].StartUnix != 300 {
		t.Errorf("newest = %v", newest)
	}

	id := all[1].Id
	note, private := "called back", true
	h.mustApply(&dirpb.Command{Op: &dirpb.Command_UpdateJournal{UpdateJournal: &dirpb.UpdateJournal{Id: id, Note: &note, Private: &private}}})
	if e, _ := h.s.JournalEntry(id); e.Note != note || !e.Private || e.RemoteNumber != all[1].RemoteNumber {
		t.Errorf("updated entry = %v", e)
	}

	h.mustApply(&dirpb.Command{Op: &dirpb.Command_PurgeJournal{PurgeJournal: &dirpb.PurgeJournal{BeforeUnix: 200, Owner: "alice"}}})
	if left, _ := h.s.Journal(JournalQuery{Owner: "alice", FromUnix: -1000}); len(left) != 2 {
		t.Errorf("after owner purge alice has %d entries, want 2", len(left))
	}
	h.mustApply(&dirpb.Command{Op: &dirpb.Command_PurgeJournal{PurgeJournal: &dirpb.PurgeJournal{BeforeUnix: 250}}})
	if left, _ := h.s.Journal(JournalQuery{Owner: "bob"}); len(left) != 0 {
		t.Errorf("after global purge bob has %v", left)
	}
	if _, err := h.s.JournalEntry(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("purged entry still found by id: %v", err)
	}
}

func TestJournal_AppendWithoutIDGetsIndexID(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"))
	h.mustApply(appendJournal(&dirpb.JournalEntry{Owner: "alice", StartUnix: 1}))
	if _, err := h.s.JournalEntry(JournalID(h.index)); err != nil {
		t.Errorf("JournalEntry(JournalID(%d)): %v", h.index, err)
	}
}

// Every rejected command returns its typed error and leaves the directory
// byte for byte as it was.
func TestFSM_RejectedCommandsChangeNothing(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putUser("bob"), putGroup(group("sales", "700", "alice")),
		putLine(&dirpb.Line{Number: "100", Owner: "alice"}),
		appendJournal(&dirpb.JournalEntry{Id: "j1", Owner: "alice"}))

	tests := []struct {
		name string
		cmd  *dirpb.Command
		want error
	}{
		{"empty command is unknown", &dirpb.Command{}, ErrUnknownCommand},
		{"user without id", putUser(""), ErrInvalid},
		{"user id with NUL", putUser("a\x00b"), ErrInvalid},
		{"unknown system role", &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "x", SystemRole: "god"}}}}, ErrInvalid},
		{"group with missing member", putGroup(group("g2", "", "nobody")), ErrNotFound},
		{"group number used by other group", putGroup(group("g2", "700", "bob")), ErrConflict},
		{"group number is a line", putGroup(group("g2", "100", "bob")), ErrConflict},
		{"group member listed twice", putGroup(group("g2", "", "bob", "bob")), ErrInvalid},
		{"bad office hours", putGroup(&dirpb.Group{Id: "g2", OfficeHours: &dirpb.OfficeHours{Days: []*dirpb.DayHours{{Weekday: 1, Open: []*dirpb.Interval{{FromMin: 600, ToMin: 500}}}}}}), ErrInvalid},
		{"line number is a group number", putLine(&dirpb.Line{Number: "700", Owner: "bob"}), ErrConflict},
		{"second primary line", putLine(&dirpb.Line{Number: "101", Owner: "alice", Kind: "primary"}), ErrConflict},
		{"line of missing owner", putLine(&dirpb.Line{Number: "102", Owner: "nobody"}), ErrNotFound},
		{"grant to self", putGrant("alice", "alice", "team"), ErrInvalid},
		{"grant with level and rights", &dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: "alice", Viewer: "bob", Grant: &dirpb.Grant{Level: "team", Rights: map[string]string{"see_presence": "true"}}}}}, ErrInvalid},
		{"grant from missing user", putGrant("nobody", "bob", "team"), ErrNotFound},
		{"delete missing grant", deleteGrant("alice", "bob"), ErrNotFound},
		{"delete missing user", deleteUser("nobody"), ErrNotFound},
		{"delete missing line", deleteLine("999"), ErrNotFound},
		{"registration of missing line", putRegistration("999", "sip:x@y", 10), ErrNotFound},
		{"register update with a foreign line", updateRegistrations("100", true, nil, &dirpb.Registration{Line: "101", Contact: "sip:x@y"}), ErrInvalid},
		{"register update with a bad contact after a good one", updateRegistrations("100", true, nil,
			&dirpb.Registration{Line: "100", Contact: "sip:x@y", ExpiresAtUnix: 10}, &dirpb.Registration{Line: "100"}), ErrInvalid},
		{"journal id taken", appendJournal(&dirpb.JournalEntry{Id: "j1", Owner: "alice"}), ErrConflict},
		{"journal of missing owner", appendJournal(&dirpb.JournalEntry{Owner: "nobody"}), ErrNotFound},
		{"trunk with bad CIDR", &dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "t", Addresses: []string{"10.0.0.0/33"}}}}}, ErrInvalid},
		{"negative retention", &dirpb.Command{Op: &dirpb.Command_PutGlobal{PutGlobal: &dirpb.PutGlobal{Global: &dirpb.Global{JournalRetentionDays: -1}}}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := dump(t, h.s)
			err := h.apply(tt.cmd)[0]
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var ce *CommandError
			if !errors.As(err, &ce) {
				t.Errorf("err %T is not a *CommandError", err)
			}
			if d := diffDumps(before, dump(t, h.s)); d != "" {
				t.Errorf("rejected command changed the directory:\n%s", d)
			}
		})
	}
}

func TestFSM_UndecodableEntryIsRejected(t *testing.T) {
	h := newHarness(t)
	before := dump(t, h.s)
	h.index++
	resp := h.f.ApplyBatch([]*raftLog{{Index: h.index, Term: 1, Type: logCommand, Data: []byte{0xff, 0xff, 0xff}}})
	if err, _ := resp[0].(error); !errors.Is(err, ErrUnknownCommand) {
		t.Errorf("response = %v, want ErrUnknownCommand", resp[0])
	}
	if d := diffDumps(before, dump(t, h.s)); d != "" {
		t.Errorf("changed:\n%s", d)
	}
	if h.f.applied.Load() != h.index {
		t.Errorf("applied = %d, want %d (the entry is consumed)", h.f.applied.Load(), h.index)
	}
}

// A batch mixing accepted and rejected commands applies the accepted ones,
// and a later command sees the earlier ones of the same batch.
func TestFSM_BatchSeesItsOwnWrites(t *testing.T) {
	h := newHarness(t)
	errs := h.apply(putUser("alice"), putGroup(group("g", "", "alice", "ghost")), putGroup(group("g", "", "alice")))
	if errs[0] != nil || !errors.Is(errs[1], ErrNotFound) || errs[2] != nil {
		t.Fatalf("errs = %v", errs)
	}
	if got, _ := h.s.MembersOf("g"); len(got) != 1 {
		t.Errorf("MembersOf(g) = %v", got)
	}
}

func TestFSM_ReplayedEntriesAreSkipped(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"))
	before := dump(t, h.s)
	// Raft replays entry 1 after a restart: it must not be applied twice.
	resp := h.f.ApplyBatch([]*raftLog{{Index: 1, Term: 1, Type: logCommand, Data: mustMarshal(putGroup(group("g", "", "alice")))}})
	if resp[0] != nil {
		t.Fatalf("replayed entry response = %v", resp[0])
	}
	if d := diffDumps(before, dump(t, h.s)); d != "" {
		t.Errorf("replayed entry changed the store:\n%s", d)
	}
}

func TestStore_UserPasswordHashKeptWhenOmitted(t *testing.T) {
	h := newHarness(t)
	u := &dirpb.User{Id: "alice", PasswordHash: "argon2id$x", CreatedUnix: 5}
	h.mustApply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: u}}})
	h.mustApply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "alice", DisplayName: "Alice"}}}})
	got, _ := h.s.User("alice")
	want := &dirpb.User{Id: "alice", DisplayName: "Alice", PasswordHash: "argon2id$x", CreatedUnix: 5}
	if !proto.Equal(got, want) {
		t.Errorf("User = %v, want %v", got, want)
	}
}

func TestStore_ListPagesWithCursor(t *testing.T) {
	h := newHarness(t)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		h.mustApply(putUser(id))
	}
	var seen []string
	cursor := ""
	for range 10 {
		page, next, err := h.s.ListUsers(cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page {
			seen = append(seen, u.Id)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(seen, []string{"a", "b", "c", "d", "e"}) {
		t.Errorf("paged ids = %v", seen)
	}
}

func TestRegistration_ExpiredAtAgreesWithExpire(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putLine(&dirpb.Line{Number: "100", Owner: "alice"}), putRegistration("100", "sip:a@1", 100))
	for _, tc := range []struct {
		now  int64
		want bool
	}{{99, false}, {100, true}, {500, true}} {
		if got, err := h.s.RegistrationsExpiredAt(tc.now); err != nil || got != tc.want {
			t.Errorf("RegistrationsExpiredAt(%d) = %v, %v; want %v", tc.now, got, err, tc.want)
		}
	}
	h.mustApply(&dirpb.Command{Op: &dirpb.Command_ExpireRegistrations{ExpireRegistrations: &dirpb.ExpireRegistrations{NowUnix: 100}}})
	if got, _ := h.s.RegistrationsExpiredAt(500); got {
		t.Error("a registration is still due after ExpireRegistrations")
	}
}
