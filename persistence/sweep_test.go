package persistence

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// applyAll applies cmds in order and fails the test on any error.
func applyAll(t *testing.T, n *Node, cmds ...*dirpb.Command) {
	t.Helper()
	for _, c := range cmds {
		mustApply(t, n, c)
	}
}

// The sweeper deletes, through Raft, the journal entries and chat
// messages older than their own retention (a fake clock moves days
// ahead); 0 days keeps everything and proposes nothing.
func TestSweeper_RetentionPurgesExpiredRecordsByInjectedClock(t *testing.T) {
	n := newNode(t)
	day := int64(24 * 3600)
	t0 := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	user := func(id string) *dirpb.Command {
		return &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: id}}}}
	}
	applyAll(t, n, user("ann"), user("bob"))
	for i, age := range []int64{40, 20, 1} { // days before t0
		at := t0.Unix() - age*day
		applyAll(t, n,
			&dirpb.Command{Op: &dirpb.Command_AppendJournal{AppendJournal: &dirpb.AppendJournal{Entry: &dirpb.JournalEntry{
				Id: "e" + string(rune('0'+i)), Owner: "ann", Direction: "in", StartUnix: at}}}},
			&dirpb.Command{Op: &dirpb.Command_AppendChat{AppendChat: &dirpb.AppendChat{Message: &dirpb.ChatMessage{
				From: "ann", To: "bob", Text: "x", SentUnixMs: at * 1000}}}})
	}
	clock := t0
	sw := &sweeper{dir: n, now: func() time.Time { return clock }, logger: slog.New(slog.DiscardHandler)}
	count := func() (journal, chat int) {
		es, err := n.Store().Journal(JournalQuery{Owner: "ann"})
		if err != nil {
			t.Fatal(err)
		}
		ms, _, err := n.Store().Chat(ChatQuery{A: "ann", B: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		return len(es), len(ms)
	}
	setRetention := func(journal, chat int32) {
		applyAll(t, n, &dirpb.Command{Op: &dirpb.Command_PutGlobal{PutGlobal: &dirpb.PutGlobal{Global: &dirpb.Global{
			JournalRetentionDays: journal, ChatRetentionDays: chat}}}})
	}

	before := n.Applied()
	if err := sw.retention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if j, c := count(); j != 3 || c != 3 || n.Applied() != before {
		t.Fatalf("retention 0: %d entries, %d messages, applied %d→%d; want everything kept and nothing proposed", j, c, before, n.Applied())
	}

	for _, step := range []struct {
		journalDays, chatDays int32
		advance               time.Duration
		journal, chat         int
	}{
		{30, 0, 0, 2, 3},                    // the 40-day-old entry goes, chat is kept for ever
		{30, 10, 0, 2, 1},                   // chat: only the 1-day-old message is younger than 10 days
		{30, 10, 15 * 24 * time.Hour, 1, 0}, // 15 days later the 20-day-old entry is 35 days old
		{0, 0, 365 * 24 * time.Hour, 1, 0},  // retention off again: nothing more goes
	} {
		setRetention(step.journalDays, step.chatDays)
		clock = clock.Add(step.advance)
		if err := sw.retention(context.Background()); err != nil {
			t.Fatal(err)
		}
		if j, c := count(); j != step.journal || c != step.chat {
			t.Errorf("journal %d days, chat %d days, at %v: %d entries, %d messages; want %d, %d",
				step.journalDays, step.chatDays, clock, j, c, step.journal, step.chat)
		}
	}
	// A sweep with nothing due proposes nothing.
	setRetention(30, 10)
	if err := sw.retention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if j, c := count(); j != 0 || c != 0 {
		t.Errorf("a year later with retention on: %d entries, %d messages", j, c)
	}
	before = n.Applied()
	if err := sw.retention(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.Applied() != before {
		t.Errorf("a sweep with nothing expired proposed %d entries", n.Applied()-before)
	}
}

func TestRetentionCut(t *testing.T) {
	now := time.Date(2027, 3, 10, 8, 0, 0, 0, time.UTC)
	if _, ok := retentionCut(now, 0); ok {
		t.Error("0 days cuts")
	}
	if cut, ok := retentionCut(now, 7); !ok || cut != time.Date(2027, 3, 3, 8, 0, 0, 0, time.UTC).Unix() {
		t.Errorf("7 days: %d %v", cut, ok)
	}
}

// The leader purges exactly the tokens and registrations expired at its
// clock, through Raft, and proposes nothing when none is due.
func TestSweeper_PurgesExpiredTokensAndRegistrationsByInjectedClock(t *testing.T) {
	n := newNode(t)
	t0 := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	put := func(name string, ttl time.Duration) *dirpb.Command {
		d := sha256.Sum256([]byte(name))
		return &dirpb.Command{Op: &dirpb.Command_PutToken{PutToken: &dirpb.PutToken{MaxPerUser: 10, Token: &dirpb.BearerToken{
			Digest: d[:], User: "bob", IssuedUnixMs: t0.UnixMilli(), ExpiresUnixMs: t0.Add(ttl).UnixMilli()}}}}
	}
	reg := func(contact string, ttl time.Duration) *dirpb.Command {
		return &dirpb.Command{Op: &dirpb.Command_PutRegistration{PutRegistration: &dirpb.PutRegistration{Registration: &dirpb.Registration{
			Line: "100", Contact: contact, ExpiresAtUnix: t0.Add(ttl).Unix()}}}}
	}
	applyAll(t, n, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob"}}}},
		put("short", time.Hour), put("long", 24*time.Hour),
		&dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: "100", Owner: "bob"}}}},
		reg("sip:100@192.0.2.1", 2*time.Hour), reg("sip:100@192.0.2.2", 24*time.Hour))
	clock := t0.Add(30 * time.Minute)
	s := &sweeper{dir: n, now: func() time.Time { return clock }, logger: slog.New(slog.DiscardHandler)}

	ctx := context.Background()
	before := n.Applied()
	if purged, err := s.expired(ctx); err != nil || purged != 0 || n.Applied() != before {
		t.Fatalf("sweep before any expiry: purged=%d err=%v, applied %d → %d", purged, err, before, n.Applied())
	}
	clock = t0.Add(time.Hour)
	if purged, err := s.expired(ctx); err != nil || purged != 1 {
		t.Fatalf("sweep at the first token expiry: purged=%d err=%v, want 1 purge", purged, err)
	}
	if tks, err := n.Store().TokensOf("bob"); err != nil || len(tks) != 1 || tks[0].ExpiresUnixMs != t0.Add(24*time.Hour).UnixMilli() {
		t.Fatalf("tokens left: %v %v, want the long one", tks, err)
	}
	clock = t0.Add(2 * time.Hour)
	if purged, err := s.expired(ctx); err != nil || purged != 1 {
		t.Fatalf("sweep at the first registration expiry: purged=%d err=%v, want 1 purge", purged, err)
	}
	if regs, err := n.Store().Registrations("100"); err != nil || len(regs) != 1 || regs[0].Contact != "sip:100@192.0.2.2" {
		t.Fatalf("registrations left: %v %v, want the long one", regs, err)
	}
	if purged, err := s.expired(ctx); err != nil || purged != 0 {
		t.Fatalf("sweep with nothing more due: purged=%d err=%v", purged, err)
	}
}
