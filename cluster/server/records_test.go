package server

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func openDirectory(t *testing.T) *persistence.Node {
	t.Helper()
	n, err := persistence.Open(context.Background(), persistence.Config{Dir: t.TempDir(),
		HeartbeatTimeout: 50 * time.Millisecond, ElectionTimeout: 50 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond, CommitTimeout: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustApply(t *testing.T, n *persistence.Node, cmds ...*dirpb.Command) {
	t.Helper()
	for _, c := range cmds {
		if _, err := n.Apply(context.Background(), c); err != nil {
			t.Fatalf("apply %v: %v", c, err)
		}
	}
}

// The sweeper deletes, through Raft, the journal entries and chat
// messages older than their own retention (a fake clock moves days
// ahead); 0 days keeps everything and proposes nothing.
func TestSweeper_PurgesExpiredRecordsByInjectedClock(t *testing.T) {
	n := openDirectory(t)
	day := int64(24 * 3600)
	t0 := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	user := func(id string) *dirpb.Command {
		return &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: id}}}}
	}
	mustApply(t, n, user("ann"), user("bob"))
	for i, age := range []int64{40, 20, 1} { // days before t0
		at := t0.Unix() - age*day
		mustApply(t, n,
			&dirpb.Command{Op: &dirpb.Command_AppendJournal{AppendJournal: &dirpb.AppendJournal{Entry: &dirpb.JournalEntry{
				Id: "e" + string(rune('0'+i)), Owner: "ann", Direction: "in", StartUnix: at}}}},
			&dirpb.Command{Op: &dirpb.Command_AppendChat{AppendChat: &dirpb.AppendChat{Message: &dirpb.ChatMessage{
				From: "ann", To: "bob", Text: "x", SentUnixMs: at * 1000}}}})
	}
	clock := t0
	sw := &sweeper{dir: n, now: func() time.Time { return clock }, logger: slog.New(slog.DiscardHandler)}
	count := func() (journal, chat int) {
		es, err := n.Store().Journal(persistence.JournalQuery{Owner: "ann"})
		if err != nil {
			t.Fatal(err)
		}
		ms, _, err := n.Store().Chat(persistence.ChatQuery{A: "ann", B: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		return len(es), len(ms)
	}
	setRetention := func(journal, chat int32) {
		mustApply(t, n, &dirpb.Command{Op: &dirpb.Command_PutGlobal{PutGlobal: &dirpb.PutGlobal{Global: &dirpb.Global{
			JournalRetentionDays: journal, ChatRetentionDays: chat}}}})
	}

	before := n.Applied()
	if err := sw.sweep(context.Background()); err != nil {
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
		if err := sw.sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if j, c := count(); j != step.journal || c != step.chat {
			t.Errorf("journal %d days, chat %d days, at %v: %d entries, %d messages; want %d, %d",
				step.journalDays, step.chatDays, clock, j, c, step.journal, step.chat)
		}
	}
	// A sweep with nothing due proposes nothing.
	setRetention(30, 10)
	if err := sw.sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if j, c := count(); j != 0 || c != 0 {
		t.Errorf("a year later with retention on: %d entries, %d messages", j, c)
	}
	before = n.Applied()
	if err := sw.sweep(context.Background()); err != nil {
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
