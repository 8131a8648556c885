package sip

import (
	"context"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Backend is what the SIP layer needs from the rest of its node: the line,
// group and user grains (wherever in the cluster they live). The node
// gives it actors.Client; tests may implement it on a directory.
//
// Directory records (lines with their digest HA1 values, trunks, groups by
// number, a user's lines) are read from the node's local directory copy
// (persistence.Store), not through the Backend.
type Backend interface {
	// Register applies one REGISTER to line's bindings and returns the
	// bindings the line has afterwards (expired ones left out). The
	// bindings are durable (written through the directory) when it returns.
	Register(ctx context.Context, line string, u actors.RegisterUpdate) ([]*dirpb.Registration, error)
	// Contacts are line's current, unexpired bindings.
	Contacts(ctx context.Context, line string) ([]*dirpb.Registration, error)
	// RingPlan asks the group's grain how to ring a call to the group now:
	// office-hours verdict, members in order with delays and timeouts, the
	// fallback, and where each member rings. The grain takes members'
	// presence (DND, busy), their logged-in flag and reachability into
	// account. A group that does not exist or takes no SIP calls is
	// actors.ErrNotFound.
	RingPlan(ctx context.Context, group string) (actors.RingPlan, error)
	// GroupEvent reports what happened to members during a group call
	// (offered, answered, ended), in order, for the group's round-robin
	// position and longest-idle times: several at once when a stage is
	// offered to several members.
	GroupEvent(ctx context.Context, group string, evs ...hunt.Event) error
	// LineCall reports call progress on a line: its state (idle, ringing,
	// busy) and the line-state events of its watchers (BLF) follow it.
	LineCall(ctx context.Context, line string, ev actors.CallEvent) error
	// LineCalls are the calls line has now, ringing and answered, with
	// the node holding each (from the LineCall reports of every node):
	// where pickup finds a call another node holds. A line the directory
	// does not have is actors.ErrNotFound.
	LineCalls(ctx context.Context, line string) ([]actors.LineCallInfo, error)
	// Rights is what viewer holds over target (user ids), for pickup and
	// subscriptions.
	Rights(ctx context.Context, viewer, target string) (rights.Set, error)
	// Presence is target's presence as viewer sees it (visible false: not
	// at all). The proxy asks a line owner's own view (viewer = target) to
	// answer direct calls to a DND owner with 486. Presence is never
	// logged nor a metric label.
	Presence(ctx context.Context, viewer, target string, minIndex uint64) (v presence.View, visible bool, err error)
	// SetLineForwarding stores the forwards of f named in set
	// (dirpb.SetLineForwarding's names: "unconditional", "busy",
	// "no_answer", "no_answer_s") of a line, the others as they are (a
	// phone's feature code, checked by the SIP layer with
	// linestate.SetForwarding under the caller's rights); durable when it
	// returns.
	SetLineForwarding(ctx context.Context, number string, f linestate.Forwarding, set ...string) error
	// SetMemberAvailability logs user in to or out of the calls of groups
	// (all of theirs when empty); durable when it returns. A group user is
	// not a member of fails with persistence.ErrNotFound.
	SetMemberAvailability(ctx context.Context, user string, groups []string, loggedIn bool) error
}
