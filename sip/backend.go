package sip

import (
	"context"
	"errors"
	"time"

	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Backend is what the SIP layer needs from the rest of its node: the line,
// group and user grains (wherever in the cluster they live). The node
// implements it on its grains; tests may implement it on a directory.
//
// Directory records (lines with their digest HA1 values, trunks, groups by
// number, a user's lines) are read from the node's local directory copy
// (persistence.Store), not through the Backend.
type Backend interface {
	// Register applies one REGISTER to line's bindings and returns the
	// bindings the line has afterwards (expired ones left out). The
	// bindings are durable (written through the directory) when it returns.
	Register(ctx context.Context, line string, u RegisterUpdate) ([]*dirpb.Registration, error)
	// Contacts are line's current, unexpired bindings.
	Contacts(ctx context.Context, line string) ([]*dirpb.Registration, error)
	// RingPlan asks the group's grain how to ring a call to the group now:
	// office-hours verdict, members in order with delays and timeouts, the
	// fallback, and where each member rings. The grain takes members'
	// presence (DND, busy), their logged-in flag and reachability into
	// account.
	RingPlan(ctx context.Context, group string) (RingPlan, error)
	// GroupEvent reports what happened to members during a group call
	// (offered, answered, ended), in order, for the group's round-robin
	// position and longest-idle times: several at once when a stage is
	// offered to several members.
	GroupEvent(ctx context.Context, group string, evs ...hunt.Event) error
	// LineCall reports call progress on a line: its state (idle, ringing,
	// busy) and the line-state events of its watchers (BLF) follow it.
	LineCall(ctx context.Context, line string, ev CallEvent) error
	// Rights is what viewer holds over target (user ids), for pickup and
	// subscriptions.
	Rights(ctx context.Context, viewer, target string) (rights.Set, error)
}

// RingPlan is how to ring one call to a group, and where its members ring.
type RingPlan struct {
	hunt.Plan
	// Targets are, per member (user id), the primary line and the contacts
	// it had when the plan was made. The call forks to them without asking
	// Backend.Contacts again; a member without an entry is not rung. nil:
	// the Backend gives no targets, and each member's primary line (from
	// the directory) and its contacts (Backend.Contacts) are looked up.
	Targets map[string]RingTarget
}

// RingTarget is where a group member rings: a line and its contacts.
type RingTarget struct {
	Line     string
	Contacts []*dirpb.Registration
}

// RegisterUpdate is one REGISTER request, decided: the bindings to add or
// refresh, the contacts to remove, or (RemoveAll, Contact "*") all of them.
type RegisterUpdate struct {
	Put       []*dirpb.Registration
	Remove    []string
	RemoveAll bool
}

// CallPhase is where a call on a line is.
type CallPhase uint8

// The call phases a line is told about.
const (
	CallRinging  CallPhase = iota + 1 // the line's phones ring (in) or the far end rings (out)
	CallAnswered                      // the call is connected
	CallEnded                         // the call is over (any outcome)
)

// CallEvent is one step of one call on a line.
type CallEvent struct {
	// CallID identifies the call on the line (the SIP Call-ID of the leg).
	CallID string
	Phase  CallPhase
	// Outgoing is true when the line placed the call.
	Outgoing bool
	// Remote is the other party's number (From for incoming calls).
	Remote string
	At     time.Time
	// Outcome says, on the ended step of a call not answered on this line,
	// why it ended when the SIP layer knows: "answered_elsewhere" (another
	// branch took it), "cancelled" (the caller gave up on an outgoing
	// call). "" = not known: the journal decides from the steps.
	Outcome string
	// Group is the call group the call came through ("" = none).
	Group string
}

// ErrNoSuchGroup is returned by Backend.RingPlan for a group that does not
// exist (any more) or has no SIP call group.
var ErrNoSuchGroup = errors.New("sip: no such call group")
