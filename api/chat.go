package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// chatMessageJSON is one chat message as the API shows it (the answer of
// POST, the items of GET, the data of a "chat" event).
type chatMessageJSON struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
	Text string `json:"text"`
	Sent string `json:"sent"`
}

func chatMessageOut(m *dirpb.ChatMessage) chatMessageJSON {
	return chatMessageJSON{ID: m.Id, From: m.From, To: m.To, Text: m.Text,
		Sent: time.UnixMilli(m.SentUnixMs).UTC().Format(time.RFC3339Nano)}
}

type chatPostJSON struct {
	Text string `json:"text"`
}

// checkChatText accepts 1..MaxChatText bytes of UTF-8 without control
// characters other than line breaks and tabs.
func checkChatText(s string) error {
	switch {
	case s == "":
		return invalid("text", "empty")
	case len(s) > persistence.MaxChatText:
		return invalid("text", "longer than %d bytes", persistence.MaxChatText)
	case !utf8.ValidString(s):
		return invalid("text", "not UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return invalid("text", "holds a control character other than a line break or tab")
		}
	}
	return nil
}

// holdsChat reports whether user may chat: the chat service in the union
// of the global layer, their active groups and their own services.
func (h *Handler) holdsChat(user *dirpb.User) (bool, error) {
	t, err := dirrights.LoadTarget(h.store, user.Id)
	if err != nil {
		return false, err
	}
	own, err := rights.ParseServices(user.Services)
	if err != nil {
		return false, fmt.Errorf("api: stored services of user %q: %w", user.Id, err)
	}
	return rights.Services(user.Id, t.GlobalServices, t.Groups, own).Set.Has(rights.Chat), nil
}

// chatPeer reads and checks the {user} of a chat route: an existing user
// other than the caller.
func (h *Handler) chatPeer(r *http.Request, c *caller) (*dirpb.User, error) {
	id, err := pathID(r, "user")
	if err != nil {
		return nil, err
	}
	if id == c.id() {
		return nil, invalid("user", "%q is the caller: a chat is between two users", id)
	}
	return h.store.User(id)
}

// postChat answers POST /v1/chat/{user}: the caller sends user a message.
// Both must hold the chat service.
func (h *Handler) postChat(w http.ResponseWriter, r *http.Request, c *caller) error {
	peer, err := h.chatPeer(r, c)
	if err != nil {
		return err
	}
	var in chatPostJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := checkChatText(in.Text); err != nil {
		return err
	}
	for _, u := range []*dirpb.User{c.user, peer} {
		ok, err := h.holdsChat(u)
		if err != nil {
			return err
		}
		if !ok {
			return forbidden("chat: user %q does not hold the chat service (global, an active group or their own services)", u.Id)
		}
	}
	m := &dirpb.ChatMessage{From: c.id(), To: peer.Id, Text: in.Text, SentUnixMs: h.cfg.Now().UnixMilli()}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.WriteTimeout)
	defer cancel()
	index, err := h.dir.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_AppendChat{AppendChat: &dirpb.AppendChat{Message: m}}})
	if err != nil {
		return err
	}
	w.Header().Set(IndexHeader, strconv.FormatUint(index, 10))
	m.Id = persistence.ChatID(index)
	writeJSON(w, http.StatusCreated, chatMessageOut(m))
	return nil
}

// getChat answers GET /v1/chat/{user}: the conversation of the caller and
// user, newest first, paged with ?after= and ?limit=. Only the two users
// of a conversation can read it; no role reads others' chats.
func (h *Handler) getChat(w http.ResponseWriter, r *http.Request, c *caller) error {
	peer, err := h.chatPeer(r, c)
	if err != nil {
		return err
	}
	q := chatPageParams{}
	if err := q.parse(r); err != nil {
		return err
	}
	msgs, next, err := h.store.Chat(persistence.ChatQuery{A: c.id(), B: peer.Id, Before: q.after, Limit: q.limit})
	if err != nil {
		return err
	}
	out := page[chatMessageJSON]{Items: make([]chatMessageJSON, 0, len(msgs))}
	for _, m := range msgs {
		out.Items = append(out.Items, chatMessageOut(m))
	}
	if next != nil {
		out.Next = encodeCursor(next.SentUnix, next.ID)
	}
	return h.ok(w, out)
}

// chatPageParams are the paging parameters of GET /v1/chat/{user}.
type chatPageParams struct {
	after *persistence.ChatCursor
	limit int
}

func (p *chatPageParams) parse(r *http.Request) error {
	q := r.URL.Query()
	p.limit = defaultPageSize
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageSize {
			return invalid("limit", "%q is not a whole number from 1 to %d", raw, maxPageSize)
		}
		p.limit = n
	}
	if raw := q.Get("after"); raw != "" {
		sent, id, err := decodeCursor("after", raw)
		if err != nil {
			return err
		}
		p.after = &persistence.ChatCursor{SentUnix: sent, ID: id}
	}
	return nil
}
