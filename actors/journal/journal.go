// Package journal turns an ended call leg on a line into the journal
// entry of the line's owner: direction, remote party, start, ring and
// talk time, outcome. It is pure; the line grain writes the entry
// through the directory. Calls on private lines are never journaled.
package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Outcomes of a journal entry.
const (
	// Answered: the call was connected on this line.
	Answered = "answered"
	// Missed: an incoming call nobody answered (the caller gave up, or
	// the ringing timed out).
	Missed = "missed"
	// AnsweredElsewhere: an incoming call rang here but was taken on
	// another line (a group or forked call).
	AnsweredElsewhere = "answered_elsewhere"
	// Cancelled: an outgoing call the user ended before it was answered.
	Cancelled = "cancelled"
	// Busy, Rejected, Failed: an outgoing call the far end refused, or
	// that could not be placed, when the SIP layer says so.
	Busy     = "busy"
	Rejected = "rejected"
	Failed   = "failed"
)

// Leg is one call on one line, as the line grain knew it when it ended.
type Leg struct {
	Line  string
	Owner string
	// Private lines are excluded from the journal.
	Private bool
	Call    linestate.Call
	// Ended is when the call ended.
	Ended time.Time
	// Reason is the SIP layer's word on an unanswered call
	// (actorspb.LineCall.outcome): "" when not known.
	Reason string
	// RemoteName is the remote party's display name, when known.
	RemoteName string
}

// EntryID is the id of the journal entry of call callID on line: derived
// from both, so a repeated report of the same end (a retry, a second
// activation of the grain) is rejected by the directory as a duplicate
// instead of being written twice.
func EntryID(line, callID string) string {
	sum := sha256.Sum256([]byte(line + "\x00" + callID))
	return "c" + hex.EncodeToString(sum[:12])
}

// Entry returns the journal entry of leg, or false when the leg is not
// journaled (a private line, or no owner).
func Entry(leg Leg) (*dirpb.JournalEntry, bool) {
	if leg.Private || leg.Owner == "" || leg.Call.ID == "" {
		return nil, false
	}
	c := leg.Call
	started := c.Started
	if started.IsZero() {
		started = c.Since
	}
	e := &dirpb.JournalEntry{
		Id: EntryID(leg.Line, c.ID), Owner: leg.Owner, Line: leg.Line, Direction: c.Direction.String(),
		RemoteNumber: c.Remote, RemoteName: leg.RemoteName, StartUnix: started.Unix(),
		Outcome: outcome(c, leg.Reason), Group: c.Group, CallId: c.ID,
		TransferredBy: c.TransferredBy, TransferredTo: c.TransferredTo,
	}
	ringEnd := leg.Ended
	if c.Answered {
		ringEnd = c.Since
		e.TalkS = seconds(leg.Ended.Sub(c.Since))
	}
	e.RingS = seconds(ringEnd.Sub(started))
	return e, true
}

func outcome(c linestate.Call, reason string) string {
	switch {
	case c.Answered:
		return Answered
	case c.Direction == linestate.Incoming && reason == AnsweredElsewhere:
		return AnsweredElsewhere
	case c.Direction == linestate.Incoming:
		return Missed
	case reason == Busy || reason == Rejected || reason == Failed:
		return reason
	}
	return Cancelled
}

// seconds rounds d to whole seconds; clock skew between the reports never
// makes a duration negative.
func seconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32(d.Round(time.Second) / time.Second)
}
