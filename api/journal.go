package api

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// journalEntryJSON is one journal entry as the API shows it.
type journalEntryJSON struct {
	ID           string `json:"id"`
	Owner        string `json:"owner"`
	Line         string `json:"line"`
	Direction    string `json:"direction"`
	RemoteNumber string `json:"remote_number"`
	RemoteName   string `json:"remote_name"`
	Start        string `json:"start"`
	RingS        int32  `json:"ring_s"`
	TalkS        int32  `json:"talk_s"`
	Outcome      string `json:"outcome"`
	Group        string `json:"group"`
	Private      bool   `json:"private"`
	Note         string `json:"note"`
	// TransferredBy and TransferredTo say who transferred the call and
	// to which number ("" = not transferred).
	TransferredBy string `json:"transferred_by"`
	TransferredTo string `json:"transferred_to"`
}

func journalEntryOut(e *dirpb.JournalEntry) journalEntryJSON {
	return journalEntryJSON{ID: e.Id, Owner: e.Owner, Line: e.Line, Direction: e.Direction, RemoteNumber: e.RemoteNumber,
		RemoteName: e.RemoteName, Start: time.Unix(e.StartUnix, 0).UTC().Format(time.RFC3339), RingS: e.RingS,
		TalkS: e.TalkS, Outcome: e.Outcome, Group: e.Group, Private: e.Private, Note: e.Note,
		TransferredBy: e.TransferredBy, TransferredTo: e.TransferredTo}
}

// journalPatchJSON is the body of PATCH /v1/journal/{entry}: the fields
// to change (at least one).
type journalPatchJSON struct {
	Private *bool   `json:"private"`
	Note    *string `json:"note"`
}

// maxNote bounds a journal note.
const maxNote = maxLongText

// journalAccessFor decides what c may do with owner's journal
// (journalAccessOf) from the directory.
func (h *Handler) journalAccessFor(c *caller, owner string) (journalAccess, error) {
	if c.id() == owner {
		return journalAccessOf(c.id(), owner, false, nil, nil), nil
	}
	ms, err := h.store.GroupsOf(owner)
	if err != nil {
		return journalAccess{}, err
	}
	groups := make([]*dirpb.Group, 0, len(ms))
	for _, m := range ms {
		g, err := h.store.Group(m.Group)
		if errors.Is(err, persistence.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return journalAccess{}, err
		}
		groups = append(groups, g)
	}
	mine, err := h.store.GroupsOf(c.id())
	if err != nil {
		return journalAccess{}, err
	}
	callerGroups := make(map[string]bool, len(mine))
	for _, m := range mine {
		callerGroups[m.Group] = true
	}
	return journalAccessOf(c.id(), owner, c.subject.IsSystem(), groups, callerGroups), nil
}

// audit records a non-owner's access to a journal: who, whose, through
// what, how many entries. Never the entries' content.
func (h *Handler) auditJournal(c *caller, owner, action string, a journalAccess, n int) {
	if a.self {
		return
	}
	h.cfg.Logger.Info("journal access", "action", action, "by", c.id(), "owner", owner, "via", a.via, "entries", n)
}

// journalQuery is a parsed GET /v1/users/{id}/journal.
type journalQuery struct {
	from, to  int64 // to 0 = no upper bound
	after     *persistence.JournalCursor
	oldest    bool
	limit     int
	direction string // "" = both
}

func parseJournalQuery(r *http.Request) (journalQuery, error) {
	q := r.URL.Query()
	jq := journalQuery{from: minUnix, limit: defaultPageSize}
	var err error
	if jq.from, err = parseTimeParam(q.Get("from"), "from", minUnix); err != nil {
		return jq, err
	}
	if jq.to, err = parseTimeParam(q.Get("to"), "to", 0); err != nil {
		return jq, err
	}
	if jq.to != 0 && jq.to <= jq.from {
		return jq, invalid("to", "%q is not after from %q: give a range with from < to", q.Get("to"), q.Get("from"))
	}
	if raw := q.Get("limit"); raw != "" {
		if jq.limit, err = strconv.Atoi(raw); err != nil || jq.limit < 1 || jq.limit > maxPageSize {
			return jq, invalid("limit", "%q is not a whole number from 1 to %d", raw, maxPageSize)
		}
	}
	switch o := q.Get("order"); o {
	case "", "newest":
	case "oldest":
		jq.oldest = true
	default:
		return jq, invalid("order", "%q: give newest (default) or oldest", o)
	}
	switch d := q.Get("direction"); d {
	case "", "in", "out":
		jq.direction = d
	default:
		return jq, invalid("direction", "%q: give in or out", d)
	}
	if raw := q.Get("after"); raw != "" {
		start, id, err := decodeCursor("after", raw)
		if err != nil {
			return jq, err
		}
		jq.after = &persistence.JournalCursor{StartUnix: start, ID: id}
	}
	return jq, nil
}

// minUnix is the earliest time a journal query reaches when from is
// not given (entries cannot start earlier: times are 64-bit seconds).
const minUnix = -1 << 62

// parseTimeParam reads an RFC 3339 time ("" = def).
func parseTimeParam(raw, field string, def int64) (int64, error) {
	if raw == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return 0, invalid(field, "%q is not an RFC 3339 time (e.g. 2026-03-02T09:00:00Z)", raw)
	}
	return t.Unix(), nil
}

// encodeCursor makes the opaque page cursor of a (time, id) position.
func encodeCursor(unix int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(unix, 10) + ":" + id))
}

func decodeCursor(field, raw string) (int64, string, error) {
	bad := invalid(field, "not a cursor of this route: pass the next value of the previous page unchanged")
	if len(raw) > 2*maxText {
		return 0, "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return 0, "", bad
	}
	ts, id, ok := strings.Cut(string(b), ":")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || !idPattern.MatchString(id) {
		return 0, "", bad
	}
	return unix, id, nil
}

// getJournal answers GET /v1/users/{id}/journal.
func (h *Handler) getJournal(w http.ResponseWriter, r *http.Request, c *caller) error {
	owner, err := pathID(r, "id")
	if err != nil {
		return err
	}
	jq, err := parseJournalQuery(r)
	if err != nil {
		return err
	}
	if _, err := h.store.User(owner); err != nil {
		return err
	}
	a, err := h.journalAccessFor(c, owner)
	if err != nil {
		return err
	}
	if !a.read {
		return forbidden("the journal of user %q is shown to the user, to leaders and members of their groups where the group allows it, and to system roles", owner)
	}
	keep := func(e *dirpb.JournalEntry) bool {
		return a.shows(e) && (jq.direction == "" || e.Direction == jq.direction)
	}
	entries, next, err := h.store.JournalPage(persistence.JournalPageQuery{Owner: owner, FromUnix: jq.from, ToUnix: jq.to,
		After: jq.after, Oldest: jq.oldest, Limit: jq.limit, Keep: keep})
	if err != nil {
		return err
	}
	out := page[journalEntryJSON]{Items: make([]journalEntryJSON, 0, len(entries))}
	for _, e := range entries {
		out.Items = append(out.Items, journalEntryOut(e))
	}
	if next != nil {
		out.Next = encodeCursor(next.StartUnix, next.ID)
	}
	h.auditJournal(c, owner, "read", a, len(entries))
	return h.ok(w, out)
}

// patchJournal answers PATCH /v1/journal/{entry}. An entry the caller may
// not see (another's private one, or of a journal they may not read) is
// 404 exactly like an id that does not exist.
func (h *Handler) patchJournal(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "entry")
	if err != nil {
		return err
	}
	var in journalPatchJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.Private == nil && in.Note == nil {
		return invalid("request body", "give private, note or both")
	}
	if in.Note != nil {
		if err := checkText("note", *in.Note, maxNote); err != nil {
			return err
		}
	}
	unknown := notFound("journal entry", id)
	e, err := h.store.JournalEntry(id)
	if errors.Is(err, persistence.ErrNotFound) {
		return unknown
	}
	if err != nil {
		return err
	}
	a, err := h.journalAccessFor(c, e.Owner)
	if err != nil {
		return err
	}
	switch {
	case !a.shows(e):
		return unknown
	case !a.modify:
		return forbidden("journal entries of %q may be changed by the owner, or where a group of theirs allows modifying (journal_modifiable)", e.Owner)
	case in.Private != nil && !a.self:
		return forbidden("private: only the owner marks their journal entries private")
	}
	u := &dirpb.UpdateJournal{Id: id, Private: in.Private, Note: in.Note}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_UpdateJournal{UpdateJournal: u}}); err != nil {
		if errors.Is(err, persistence.ErrNotFound) {
			return unknown // purged or its owner deleted meanwhile
		}
		return err
	}
	if in.Private != nil {
		e.Private = *in.Private
	}
	if in.Note != nil {
		e.Note = *in.Note
	}
	h.auditJournal(c, e.Owner, "modify", a, 1)
	return h.ok(w, journalEntryOut(e))
}
