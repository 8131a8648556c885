package actors

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ucgrid/ucgrid/actors/journal"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// journalTimeout bounds the directory write of one journal entry.
const journalTimeout = 5 * time.Second

// endingCall returns the call an ended step ends: one the line holds now
// (a repeated or unknown end ends nothing, so it journals nothing).
func endingCall(l linestate.Line, id string, phase linestate.Phase) (linestate.Call, bool) {
	if phase != linestate.PhaseEnded {
		return linestate.Call{}, false
	}
	i := slices.IndexFunc(l.Calls, func(c linestate.Call) bool { return c.ID == id })
	if i < 0 {
		return linestate.Call{}, false
	}
	return l.Calls[i], true
}

// writeJournal writes the journal entry of a call that ended on the line
// through the directory. Private lines write nothing. The entry is built
// here; its Raft commit runs aside, so the grain answers the next call's
// questions meanwhile (the journal is read from the directory, never from
// the grain). The entry id is derived from line and call, so a second
// write of the same leg is refused by the directory and ignored here.
func (g *lineGrain) writeJournal(c linestate.Call, ended time.Time, reason string) {
	e, ok := journal.Entry(journal.Leg{Line: g.id, Owner: g.owner(), Private: g.record.GetPrivate(), Call: c,
		Ended: ended, Reason: reason, RemoteName: g.remoteName(c.Remote)})
	if !ok {
		return
	}
	deps, line := g.deps, g.id
	deps.goAside(func() {
		ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		defer cancel()
		_, err := deps.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_AppendJournal{AppendJournal: &dirpb.AppendJournal{Entry: e}}})
		if err != nil && !errors.Is(err, persistence.ErrConflict) {
			// No call data in the log: the entry id identifies the leg.
			deps.Logger.Warn("actors: journal entry not written", "line", line, "entry", e.Id, "err", err)
		}
	})
}

// remoteName is the display name behind a remote number that is a line or
// call group of this directory ("" otherwise). Names are not filtered by
// rights: contact search shows them to everyone.
func (g *lineGrain) remoteName(number string) string {
	if number == "" {
		return ""
	}
	if l, err := g.deps.Store.Line(number); err == nil {
		if u, err := g.deps.Store.User(l.GetOwner()); err == nil {
			return u.GetDisplayName()
		}
		return ""
	}
	if gr, err := g.deps.Store.GroupByNumber(number); err == nil {
		return gr.GetName()
	}
	return ""
}
