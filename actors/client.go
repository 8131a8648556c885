package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Client calls the user, line and group grains wherever in the cluster
// they live, in the pure types of the packages below (presence,
// linestate, hunt, rights, dirpb): the messages are built and read here,
// once. Refusals are *GrainError, matched with errors.Is against
// ErrForbidden, ErrNotFound, ErrInvalid, …. The API's services and the
// SIP layer's Backend are small interfaces that Client satisfies.
type Client struct {
	To Requester
	// Write writes a command through the directory (Raft) from any node
	// and returns its index once applied (persistence.Node.Apply): the
	// directory changes the SIP layer makes for a phone's feature codes.
	// nil: those methods fail.
	Write func(ctx context.Context, cmd *dirpb.Command) (uint64, error)
}

// errNoWriter is what the write methods of a Client without Write answer.
var errNoWriter = errors.New("actors: this client cannot write to the directory (Client.Write is nil)")

// SetLineForwarding stores the forwards of f named in set
// (dirpb.SetLineForwarding's names; all of f when empty) and nothing else
// of the line, so a concurrent change of the line's password or of
// another forward cannot undo it. The caller has checked it with
// linestate.SetForwarding, under the rights of whoever asked.
func (c Client) SetLineForwarding(ctx context.Context, number string, f linestate.Forwarding, set ...string) error {
	if c.Write == nil {
		return errNoWriter
	}
	_, err := c.Write(ctx, &dirpb.Command{Op: &dirpb.Command_SetLineForwarding{SetLineForwarding: &dirpb.SetLineForwarding{
		Number: number, Forwarding: dirrights.ForwardingRecord(f), Set: set}}})
	return err
}

// SetMemberAvailability logs user in to or out of the calls of groups, or
// of every group they are a member of when groups is empty
// (dirpb.SetMemberAvailability). A group user is not a member of fails
// with persistence.ErrNotFound and changes nothing.
func (c Client) SetMemberAvailability(ctx context.Context, user string, groups []string, loggedIn bool) error {
	if c.Write == nil {
		return errNoWriter
	}
	_, err := c.Write(ctx, &dirpb.Command{Op: &dirpb.Command_SetMemberAvailability{SetMemberAvailability: &dirpb.SetMemberAvailability{
		User: user, Groups: groups, LoggedIn: loggedIn}}})
	return err
}

// Presence is target's presence as viewer may see it; visible is false
// when viewer may not see it at all. The grain answers with rights at
// least as new as directory index minIndex.
func (c Client) Presence(ctx context.Context, viewer, target string, minIndex uint64) (v presence.View, visible bool, err error) {
	r, err := Ask[*actorspb.GetPresenceReply](ctx, c.To, target, KindUser, &actorspb.GetPresence{Viewer: viewer, MinIndex: minIndex})
	if err != nil {
		return presence.View{}, false, err
	}
	return PresenceViewOf(r.GetView())
}

// SetPresence changes target's presence on behalf of actor and returns it
// as actor now sees it.
func (c Client) SetPresence(ctx context.Context, actor, target string, u presence.Update, minIndex uint64) (presence.View, error) {
	m := &actorspb.SetPresence{Actor: actor, Note: u.Note, Idle: u.Idle, MinIndex: minIndex}
	if u.State != nil {
		st := u.State.String()
		m.State = &st
	}
	r, err := Ask[*actorspb.SetPresenceReply](ctx, c.To, target, KindUser, m)
	if err != nil {
		return presence.View{}, err
	}
	v, _, err := PresenceViewOf(r.GetView())
	return v, err
}

// LineState is the line as viewer may see it.
func (c Client) LineState(ctx context.Context, viewer, number string, minIndex uint64) (LineView, error) {
	r, err := Ask[*actorspb.GetLineStateReply](ctx, c.To, number, KindLine, &actorspb.GetLineState{Viewer: viewer, MinIndex: minIndex})
	if err != nil {
		return LineView{}, err
	}
	return LineViewOf(r.GetView()), nil
}

// Audience is who holds r over target: everyone (the global layer gives
// it), or the users listed.
func (c Client) Audience(ctx context.Context, target string, r rights.Right, minIndex uint64) (everyone bool, users []string, err error) {
	return c.users(ctx, target, &actorspb.Audience{Right: r.String(), MinIndex: minIndex})
}

// Reach is over whom viewer holds r: everyone, or the users listed.
func (c Client) Reach(ctx context.Context, viewer string, r rights.Right, minIndex uint64) (everyone bool, users []string, err error) {
	return c.users(ctx, viewer, &actorspb.Reach{Right: r.String(), MinIndex: minIndex})
}

func (c Client) users(ctx context.Context, user string, msg proto.Message) (bool, []string, error) {
	r, err := Ask[*actorspb.UsersReply](ctx, c.To, user, KindUser, msg)
	if err != nil {
		return false, nil, err
	}
	return r.GetEveryone(), r.GetUsers(), nil
}

// PresenceViewOf reads a presence view message; visible is false when the
// viewer may see nothing. A state this node does not know is an error.
func PresenceViewOf(pv *actorspb.PresenceView) (v presence.View, visible bool, err error) {
	if !pv.GetVisible() {
		return presence.View{}, false, nil
	}
	st, err := presence.ParseState(pv.GetState())
	if err != nil {
		return presence.View{}, false, fmt.Errorf("actors: grain answered %w", err)
	}
	return presence.View{State: st, Note: pv.GetNote(), Idle: pv.GetIdle()}, true, nil
}

// LineView is a line as one viewer sees it, and its owner.
type LineView struct {
	linestate.View
	Owner string
}

// ShowsNothing reports whether the viewer may see nothing of the line.
func (v LineView) ShowsNothing() bool {
	return !v.SeesState && !v.SeesForwarding && !v.CanPickup && !v.CanForward
}

// LineViewOf reads a line view message (lineViewPB's inverse). A state,
// direction or indicator this node does not know reads as its zero value
// (idle, hidden), shown to nobody as more than the message says.
func LineViewOf(pb *actorspb.LineView) LineView {
	v := LineView{Owner: pb.GetOwner(), View: linestate.View{Number: pb.GetNumber(), SeesState: pb.GetSeesState(),
		SeesForwarding: pb.GetSeesForwarding(), CanPickup: pb.GetCanPickup(), CanForward: pb.GetCanForward(),
		Forwarding: linestate.Forwarding{Enabled: pb.GetForwardingEnabled(), Destination: pb.GetForwardingDestination(),
			Busy: pb.GetForwardingOnBusy(), BusyDestination: pb.GetForwardingBusyDestination(),
			NoAnswer: pb.GetForwardingOnNoAnswer(), NoAnswerDestination: pb.GetForwardingNoAnswerDestination(),
			NoAnswerS: int(pb.GetForwardingNoAnswerS())}}}
	v.AV, _ = rights.ParseAVDisplay(pb.GetAv())
	if v.SeesState {
		v.State, _ = linestate.ParseState(pb.GetState())
		v.Calls = make([]linestate.CallView, len(pb.GetCalls()))
		for i, c := range pb.GetCalls() {
			d, _ := linestate.ParseDirection(c.GetDirection())
			v.Calls[i] = linestate.CallView{Direction: d, Remote: c.GetRemote(), Answered: c.GetAnswered()}
		}
	}
	return v
}

// RegisterUpdate is one REGISTER request, decided: the bindings to add or
// refresh, the contacts to remove, or (RemoveAll, Contact "*") all of them.
type RegisterUpdate struct {
	Put       []*dirpb.Registration
	Remove    []string
	RemoveAll bool
}

// Register applies one REGISTER to line's bindings and returns the
// bindings the line has afterwards (expired ones left out); they are
// durable (written through the directory) when it returns.
func (c Client) Register(ctx context.Context, line string, u RegisterUpdate) ([]*dirpb.Registration, error) {
	m := &actorspb.RegisterLine{Remove: u.Remove, RemoveAll: u.RemoveAll}
	for _, r := range u.Put {
		m.Put = append(m.Put, BindingOf(r))
	}
	r, err := Ask[*actorspb.RegisterLineReply](ctx, c.To, line, KindLine, m)
	if err != nil {
		return nil, err
	}
	return registrations(line, r.GetBindings()), nil
}

// Contacts are line's current, unexpired bindings.
func (c Client) Contacts(ctx context.Context, line string) ([]*dirpb.Registration, error) {
	r, err := Ask[*actorspb.GetContactsReply](ctx, c.To, line, KindLine, &actorspb.GetContacts{})
	if err != nil {
		return nil, err
	}
	return registrations(line, r.GetBindings()), nil
}

func registrations(line string, bs []*actorspb.Binding) []*dirpb.Registration {
	out := make([]*dirpb.Registration, len(bs))
	for i, b := range bs {
		out[i] = RegistrationOf(line, b)
	}
	return out
}

// RingPlan is how to ring one call to a group, and where its members ring.
type RingPlan struct {
	hunt.Plan
	// Targets are, per member (user id), the primary line and the contacts
	// it had when the plan was made, so a call forks to them without
	// asking for the contacts again; a member without an entry is not
	// rung. nil: no targets were given, and each member's primary line
	// (from the directory) and its contacts are looked up.
	Targets map[string]RingTarget
}

// RingTarget is where a group member rings: a line and its contacts.
type RingTarget struct {
	Line     string
	Contacts []*dirpb.Registration
}

// RingPlan asks the group's grain how to ring a call to the group now:
// office-hours verdict, members in order with delays and timeouts, the
// fallback, and where each member rings (the grain asked the line grains
// while making it, so the caller forks without asking them again). A
// group that does not exist or takes no SIP calls is ErrNotFound.
func (c Client) RingPlan(ctx context.Context, group string) (RingPlan, error) {
	start := time.Now()
	r, err := Ask[*actorspb.GetRingPlanReply](ctx, c.To, group, KindGroup, &actorspb.GetRingPlan{})
	if err != nil {
		return RingPlan{}, err
	}
	p := RingPlan{Plan: hunt.Plan{Group: group, Start: start, Closed: r.GetClosed(),
		Fallback: hunt.Fallback{Target: r.GetFallbackTarget(), Status: int(r.GetFallbackStatus())}},
		Targets: make(map[string]RingTarget, len(r.GetTargets()))}
	for _, s := range r.GetStages() {
		p.Stages = append(p.Stages, hunt.Stage{Members: s.GetMembers(),
			Delay: time.Duration(s.GetDelayMs()) * time.Millisecond, NotBefore: time.Duration(s.GetNotBeforeMs()) * time.Millisecond,
			Timeout: time.Duration(s.GetTimeoutMs()) * time.Millisecond})
	}
	for _, t := range r.GetTargets() {
		p.Targets[t.GetUser()] = RingTarget{Line: t.GetLine(), Contacts: registrations(t.GetLine(), t.GetBindings())}
	}
	return p, nil
}

// GroupEvent reports what happened to members during a group call, in
// order; events of one kind in a row travel as one message.
func (c Client) GroupEvent(ctx context.Context, group string, evs ...hunt.Event) error {
	at := time.Now().UnixMilli()
	for len(evs) > 0 {
		m := &actorspb.GroupCallEvent{Kind: evs[0].Kind.String(), User: evs[0].User, AtUnixMs: at}
		n := 1
		for ; n < len(evs) && evs[n].Kind == evs[0].Kind; n++ {
			m.Users = append(m.Users, evs[n].User)
		}
		if _, err := Ask[*actorspb.GroupCallEventReply](ctx, c.To, group, KindGroup, m); err != nil {
			return err
		}
		evs = evs[n:]
	}
	return nil
}

// CallEvent is one step of one call on a line.
type CallEvent struct {
	// CallID identifies the call on the line (the SIP Call-ID of the leg).
	CallID string
	Phase  linestate.Phase
	// Outgoing is true when the line placed the call.
	Outgoing bool
	// Remote is the other party's number (From for incoming calls).
	Remote string
	// At is when the step happened; zero means now.
	At time.Time
	// Outcome says, on the ended step of a call not answered on this line,
	// why it ended when the SIP layer knows: "answered_elsewhere" (another
	// branch took it), "cancelled" (the caller gave up on an outgoing
	// call). "" = not known: the journal decides from the steps.
	Outcome string
	// Group is the call group the call came through ("" = none).
	Group string
	// Node is the SIP URI (sip:HOST:PORT) at which the other nodes reach
	// the proxy holding the call: where a pickup of it is sent. "" = not
	// said (an earlier step said it).
	Node string
	// TransferredBy is the number that transferred the call (a REFER's
	// sender, or the new call's Referred-By), TransferredTo the number it
	// went to; "" = no transfer. Set on any step, they stay with the call
	// and reach its journal entry.
	TransferredBy, TransferredTo string
}

// LineCall reports a step of a call on a line: its state (idle, ringing,
// busy), the line-state events of its watchers and its journal follow it.
func (c Client) LineCall(ctx context.Context, line string, ev CallEvent) error {
	if ev.Phase < linestate.PhaseRinging || ev.Phase > linestate.PhaseEnded {
		return fmt.Errorf("actors: call phase %d", ev.Phase)
	}
	at := ev.At
	if at.IsZero() {
		at = time.Now()
	}
	_, err := Ask[*actorspb.LineCallReply](ctx, c.To, line, KindLine,
		&actorspb.LineCall{CallId: ev.CallID, Phase: ev.Phase.String(), Outgoing: ev.Outgoing, Remote: ev.Remote, AtUnixMs: at.UnixMilli(),
			Outcome: ev.Outcome, Group: ev.Group, Node: ev.Node,
			TransferredBy: ev.TransferredBy, TransferredTo: ev.TransferredTo})
	return err
}

// LineCallInfo is one call a line has now, as its grain knows it.
type LineCallInfo struct {
	CallID   string
	Answered bool // false while it rings
	Outgoing bool // the line placed it
	Remote   string
	// Since is when the call reached its phase (rang, was answered);
	// Started when it began on the line.
	Since, Started time.Time
	Group          string
	// Node is the SIP URI of the node holding the call ("" = not known).
	Node string
}

// LineCalls are the calls line has now (ringing and answered), with the
// node holding each: what a pickup looks for. A line the directory does
// not have is ErrNotFound.
func (c Client) LineCalls(ctx context.Context, line string) ([]LineCallInfo, error) {
	r, err := Ask[*actorspb.GetLineCallsReply](ctx, c.To, line, KindLine, &actorspb.GetLineCalls{})
	if err != nil {
		return nil, err
	}
	out := make([]LineCallInfo, 0, len(r.GetCalls()))
	for _, m := range r.GetCalls() {
		out = append(out, LineCallInfo{CallID: m.GetCallId(), Answered: m.GetPhase() == linestate.PhaseAnswered.String(),
			Outgoing: m.GetOutgoing(), Remote: m.GetRemote(), Since: time.UnixMilli(m.GetAtUnixMs()),
			Started: time.UnixMilli(m.GetStartedUnixMs()), Group: m.GetGroup(), Node: m.GetNode()})
	}
	return out, nil
}

// Rights is what viewer holds over target (user ids).
func (c Client) Rights(ctx context.Context, viewer, target string) (rights.Set, error) {
	r, err := Ask[*actorspb.CheckRightsReply](ctx, c.To, target, KindUser, &actorspb.CheckRights{Viewer: viewer})
	if err != nil {
		return 0, err
	}
	return rights.Set(r.GetSet()), nil
}
