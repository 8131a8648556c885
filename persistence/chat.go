package persistence

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Chat tables (docs/keyspace.md). A conversation is keyed by its two users
// in byte order, so both see the same history under one prefix.
const (
	tChat     = "d/c/"  // low, high, sent(8) id → ChatMessage
	tChatID   = "d/ci/" // message id → ChatRef{low, high, sent_unix}
	tChatTime = "d/ct/" // sent(8) id, low, high → empty (retention sweeps)
	tChatUser = "d/cu/" // user, peer → empty (conversations of a user)
)

// MaxChatText bounds one chat message, in bytes of UTF-8.
const MaxChatText = 4096

// ChatID is the id the FSM gives the chat message of the command at
// index: the same on every node, and known to the proposer from the index
// Apply returns.
func ChatID(index uint64) string { return fmt.Sprintf("m%016x", index) }

// chatPair orders the two users of a conversation.
func chatPair(a, b string) (lo, hi string) {
	if a > b {
		return b, a
	}
	return a, b
}

// chatSec is the second a message was sent in (floor, negative times too).
func chatSec(ms int64) int64 {
	if ms < 0 {
		return -((-ms + 999) / 1000)
	}
	return ms / 1000
}

// chatRow locates one message in the chat tables.
type chatRow struct {
	lo, hi, id string
	sent       int64
}

func rowOf(m *dirpb.ChatMessage) chatRow {
	lo, hi := chatPair(m.From, m.To)
	return chatRow{lo: lo, hi: hi, id: m.Id, sent: chatSec(m.SentUnixMs)}
}

func (r chatRow) key() []byte     { return key(tChat, r.lo, r.hi, timeKey(r.sent)+r.id) }
func (r chatRow) timeKey() []byte { return key(tChatTime, timeKey(r.sent)+r.id, r.lo, r.hi) }

// conversationPrefix is the scan prefix of the messages of lo and hi.
func conversationPrefix(lo, hi string) []byte { return append(key(tChat, lo, hi), sep) }

func checkChatMessage(m *dirpb.ChatMessage) error {
	if m == nil {
		return invalidf("chat message is missing")
	}
	if err := checkID("chat sender", m.From); err != nil {
		return err
	}
	if err := checkID("chat recipient", m.To); err != nil {
		return err
	}
	switch {
	case m.From == m.To:
		return invalidf("chat message from %q to itself", m.From)
	case m.Text == "":
		return invalidf("chat text is empty")
	case len(m.Text) > MaxChatText:
		return invalidf("chat text is longer than %d bytes", MaxChatText)
	case !utf8.ValidString(m.Text):
		return invalidf("chat text is not UTF-8")
	}
	return nil
}

// appendChat stores a message between two existing users. The id is
// always derived from the Raft index: a proposer cannot choose it.
func (t *txn) appendChat(m *dirpb.ChatMessage) error {
	if err := checkChatMessage(m); err != nil {
		return err
	}
	for _, u := range []string{m.From, m.To} {
		if _, err := t.user(u); err != nil {
			return withContext(err, "chat message")
		}
	}
	m.Id = ChatID(t.index)
	r := rowOf(m)
	if err := t.put(r.key(), m); err != nil {
		return err
	}
	if err := t.put(key(tChatID, r.id), &dirpb.ChatRef{Low: r.lo, High: r.hi, SentUnix: r.sent}); err != nil {
		return err
	}
	for _, k := range [][]byte{r.timeKey(), key(tChatUser, m.From, m.To), key(tChatUser, m.To, m.From)} {
		if err := t.putEmpty(k); err != nil {
			return err
		}
	}
	t.emit(Change{Kind: KindChat, ID: m.Id})
	return nil
}

func (t *txn) deleteChatRows(rows []chatRow) error {
	for _, r := range rows {
		if err := t.del(r.key(), key(tChatID, r.id), r.timeKey()); err != nil {
			return err
		}
	}
	return nil
}

// purgeChat deletes every message sent before before (unix seconds),
// through the time index: only expired messages are scanned.
func (t *txn) purgeChat(before int64) error {
	lo := []byte(tChatTime)
	hi := []byte(tChatTime + timeKey(before))
	var rows []chatRow
	err := t.scan(lo, hi, func(k, _ []byte) error {
		r, err := parseChatTimeKey(k)
		rows = append(rows, r)
		return err
	})
	if err != nil {
		return err
	}
	if err := t.deleteChatRows(rows); err != nil {
		return err
	}
	if err := t.forgetEmptyConversations(rows); err != nil {
		return err
	}
	if len(rows) > 0 {
		t.emit(Change{Kind: KindChat, Deleted: true})
	}
	return nil
}

// forgetEmptyConversations removes the conversation index entries of the
// pairs of rows that hold no message any more: after retention, not even
// the fact that two users once chatted remains.
func (t *txn) forgetEmptyConversations(rows []chatRow) error {
	done := map[[2]string]bool{}
	for _, r := range rows {
		pair := [2]string{r.lo, r.hi}
		if done[pair] {
			continue
		}
		done[pair] = true
		empty := true
		err := t.scanPrefix(conversationPrefix(r.lo, r.hi), func(_, _ []byte) error {
			empty = false
			return errStop
		})
		if err != nil {
			return err
		}
		if empty {
			if err := t.del(key(tChatUser, r.lo, r.hi), key(tChatUser, r.hi, r.lo)); err != nil {
				return err
			}
		}
	}
	return nil
}

func parseChatTimeKey(k []byte) (chatRow, error) {
	rest := k[len(tChatTime):]
	sent, err := parseTimeKey(rest)
	if err != nil {
		return chatRow{}, err
	}
	parts := bytes.Split(rest[8:], []byte{sep})
	if len(parts) != 3 {
		return chatRow{}, fmt.Errorf("persistence: chat time key %q: %w", k, ErrInvalid)
	}
	return chatRow{id: string(parts[0]), lo: string(parts[1]), hi: string(parts[2]), sent: sent}, nil
}

// dropChatsOf deletes every conversation of user (user deletion).
func (t *txn) dropChatsOf(user string) error {
	peers, err := t.ids(prefix(tChatUser, user))
	if err != nil {
		return err
	}
	for _, peer := range peers {
		lo, hi := chatPair(user, peer)
		var rows []chatRow
		err := t.scanPrefix(conversationPrefix(lo, hi), func(k, val []byte) error {
			m, err := decode(k, val, &dirpb.ChatMessage{})
			rows = append(rows, rowOf(m))
			return err
		})
		if err != nil {
			return err
		}
		if err := t.deleteChatRows(rows); err != nil {
			return err
		}
		if err := t.del(key(tChatUser, user, peer), key(tChatUser, peer, user)); err != nil {
			return err
		}
	}
	if len(peers) > 0 {
		t.emit(Change{Kind: KindChat, Deleted: true})
	}
	return nil
}

// ChatCursor is a position in a conversation: the message it names is
// excluded from the next page.
type ChatCursor struct {
	SentUnix int64
	ID       string
}

// ChatQuery selects messages of the conversation of two users.
type ChatQuery struct {
	A, B string
	// Before, when set, pages back from that message (newest first).
	Before *ChatCursor
	// Limit caps the page; 0 (or above 1000) means 1000.
	Limit int
}

// Chat returns the conversation of q.A and q.B, newest first, and the
// cursor of the next (older) page, nil at the end.
func (s *Store) Chat(q ChatQuery) ([]*dirpb.ChatMessage, *ChatCursor, error) {
	p := conversationPrefix(chatPair(q.A, q.B))
	upper := prefixEnd(p)
	if q.Before != nil {
		upper = append(append([]byte(nil), p...), timeKey(q.Before.SentUnix)+q.Before.ID...)
	}
	limit := q.Limit
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	var out []*dirpb.ChatMessage
	var next *ChatCursor
	err := s.view().scanReverse(p, upper, func(k, val []byte) error {
		if len(out) == limit {
			last := out[len(out)-1]
			next = &ChatCursor{SentUnix: chatSec(last.SentUnixMs), ID: last.Id}
			return errStop
		}
		m, err := decode(k, val, &dirpb.ChatMessage{})
		out = append(out, m)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

// ChatMessage returns one message by id, or ErrNotFound (for instance
// after a purge).
func (s *Store) ChatMessage(id string) (*dirpb.ChatMessage, error) {
	v := s.view()
	ref, err := get(v, key(tChatID, id), &dirpb.ChatRef{}, "chat message", id)
	if err != nil {
		return nil, err
	}
	r := chatRow{lo: ref.Low, hi: ref.High, id: id, sent: ref.SentUnix}
	return get(v, r.key(), &dirpb.ChatMessage{}, "chat message", id)
}
