package persistence

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func appendChat(from, to, text string, sentMs int64) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_AppendChat{AppendChat: &dirpb.AppendChat{Message: &dirpb.ChatMessage{
		From: from, To: to, Text: text, SentUnixMs: sentMs}}}}
}

func purgeChat(before int64) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PurgeChat{PurgeChat: &dirpb.PurgeChat{BeforeUnix: before}}}
}

func chatTexts(ms []*dirpb.ChatMessage) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return strings.Join(out, ",")
}

// Both users see one conversation, newest first, paged by cursor; the
// FSM gives each message an id derived from its Raft index.
func TestChat_ConversationIsSharedAndPaged(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putUser("bob"), putUser("carol"))
	for i := range 5 {
		from, to := "alice", "bob"
		if i%2 == 1 {
			from, to = to, from
		}
		h.mustApply(appendChat(from, to, fmt.Sprint(i), 1000_000+int64(i)*10)) // several per second
	}
	h.mustApply(appendChat("alice", "carol", "other", 1000_000))

	a, _, err := h.s.Chat(ChatQuery{A: "alice", B: "bob"})
	if err != nil || chatTexts(a) != "4,3,2,1,0" {
		t.Fatalf("alice↔bob = %q, %v", chatTexts(a), err)
	}
	b, _, _ := h.s.Chat(ChatQuery{A: "bob", B: "alice"})
	if chatTexts(b) != chatTexts(a) {
		t.Errorf("bob↔alice = %q, want the same as alice↔bob", chatTexts(b))
	}
	var pages []string
	var cur *ChatCursor
	for {
		page, next, err := h.s.Chat(ChatQuery{A: "bob", B: "alice", Before: cur, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, chatTexts(page))
		if next == nil {
			break
		}
		cur = next
	}
	if got := strings.Join(pages, "|"); got != "4,3|2,1|0" {
		t.Errorf("pages = %q", got)
	}
	m, err := h.s.ChatMessage(a[0].Id)
	if err != nil || m.Text != "4" || !strings.HasPrefix(m.Id, "m") {
		t.Errorf("ChatMessage(%q) = %v, %v", a[0].Id, m, err)
	}
}

// The chat purge removes exactly the messages sent before the cut, from
// every table; deleting a user removes their conversations.
func TestChat_PurgeAndUserDeletion(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putUser("bob"), putUser("carol"))
	h.mustApply(appendChat("alice", "bob", "old", -5_500), appendChat("alice", "bob", "new", 7_000),
		appendChat("carol", "alice", "c-old", 1_000), appendChat("carol", "bob", "c-new", 9_000))
	old, _, _ := h.s.Chat(ChatQuery{A: "alice", B: "bob"})

	h.mustApply(purgeChat(7)) // before second 7: "old" and "c-old"
	if got, _, _ := h.s.Chat(ChatQuery{A: "alice", B: "bob"}); chatTexts(got) != "new" {
		t.Errorf("alice↔bob after purge = %q", chatTexts(got))
	}
	if got, _, _ := h.s.Chat(ChatQuery{A: "alice", B: "carol"}); len(got) != 0 {
		t.Errorf("alice↔carol after purge = %q", chatTexts(got))
	}
	if _, ok := dump(t, h.s)[string(key(tChatUser, "alice", "carol"))]; ok {
		t.Error("the purge left the index of the emptied conversation alice↔carol")
	}
	if _, err := h.s.ChatMessage(old[1].Id); !errors.Is(err, ErrNotFound) {
		t.Errorf("purged message found by id: %v", err)
	}

	h.mustApply(deleteUser("bob"))
	for k := range dump(t, h.s) {
		if strings.HasPrefix(k, tChat) || strings.HasPrefix(k, tChatID) || strings.HasPrefix(k, tChatTime) || strings.HasPrefix(k, tChatUser) {
			t.Errorf("after deleting bob (all chats were with bob) key %q remains", k)
		}
	}
}

// Bad messages are rejected and change nothing.
func TestChat_RejectsBadMessages(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putUser("bob"))
	before := dump(t, h.s)
	for name, cmd := range map[string]*dirpb.Command{
		"to self":      appendChat("alice", "alice", "x", 1),
		"empty":        appendChat("alice", "bob", "", 1),
		"too long":     appendChat("alice", "bob", strings.Repeat("x", MaxChatText+1), 1),
		"unknown user": appendChat("alice", "zed", "x", 1),
		"missing":      {Op: &dirpb.Command_AppendChat{AppendChat: &dirpb.AppendChat{}}},
	} {
		if err := h.apply(cmd)[0]; !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want invalid or not found", name, err)
		}
	}
	if d := diffDumps(before, dump(t, h.s)); d != "" {
		t.Errorf("rejected messages changed the directory:\n%s", d)
	}
}

// JournalBefore and ChatBefore tell a retention sweeper whether a purge
// at a cut would delete anything.
func TestStore_BeforeProbes(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("alice"), putUser("bob"))
	if j, _ := h.s.JournalBefore(1 << 40); j {
		t.Error("empty journal reports entries")
	}
	h.mustApply(appendJournal(&dirpb.JournalEntry{Owner: "alice", StartUnix: 100}), appendChat("alice", "bob", "x", 50_000))
	for _, tc := range []struct {
		cut        int64
		jour, chat bool
	}{{50, false, false}, {51, false, true}, {100, false, true}, {101, true, true}} {
		j, err1 := h.s.JournalBefore(tc.cut)
		c, err2 := h.s.ChatBefore(tc.cut)
		if j != tc.jour || c != tc.chat || err1 != nil || err2 != nil {
			t.Errorf("cut %d: journal %v chat %v (%v %v), want %v %v", tc.cut, j, c, err1, err2, tc.jour, tc.chat)
		}
	}
}
