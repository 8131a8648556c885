package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
	"github.com/ucgrid/ucgrid/sip"
)

// grainBackend is the SIP layer's Backend on the line, group and user
// grains, wherever in the cluster they live.
type grainBackend struct{ node actors.Requester }

var _ sip.Backend = grainBackend{}

// sipBackend is the Backend the node's SIP server uses.
func (s *Server) sipBackend() sip.Backend { return grainBackend{node: grainClient{s}} }

func (b grainBackend) Register(ctx context.Context, line string, u sip.RegisterUpdate) ([]*dirpb.Registration, error) {
	m := &actorspb.RegisterLine{Remove: u.Remove, RemoveAll: u.RemoveAll}
	for _, r := range u.Put {
		m.Put = append(m.Put, actors.BindingOf(r))
	}
	r, err := actors.Ask[*actorspb.RegisterLineReply](ctx, b.node, line, actors.KindLine, m)
	if err != nil {
		return nil, err
	}
	return registrations(line, r.GetBindings()), nil
}

func (b grainBackend) Contacts(ctx context.Context, line string) ([]*dirpb.Registration, error) {
	r, err := actors.Ask[*actorspb.GetContactsReply](ctx, b.node, line, actors.KindLine, &actorspb.GetContacts{})
	if err != nil {
		return nil, err
	}
	return registrations(line, r.GetBindings()), nil
}

func registrations(line string, bs []*actorspb.Binding) []*dirpb.Registration {
	out := make([]*dirpb.Registration, len(bs))
	for i, b := range bs {
		out[i] = actors.RegistrationOf(line, b)
	}
	return out
}

// RingPlan asks the group grain for a plan; the members' lines and
// contacts come with it (the grain asked the line grains while making
// it), so the SIP layer forks without asking them again.
func (b grainBackend) RingPlan(ctx context.Context, group string) (sip.RingPlan, error) {
	start := time.Now()
	r, err := actors.Ask[*actorspb.GetRingPlanReply](ctx, b.node, group, actors.KindGroup, &actorspb.GetRingPlan{})
	var ge *actors.GrainError
	if errors.As(err, &ge) && errors.Is(ge, actors.ErrNotFound) {
		return sip.RingPlan{}, fmt.Errorf("%w: %s", sip.ErrNoSuchGroup, ge.Message)
	}
	if err != nil {
		return sip.RingPlan{}, err
	}
	p := sip.RingPlan{Plan: hunt.Plan{Group: group, Start: start, Closed: r.GetClosed(),
		Fallback: hunt.Fallback{Target: r.GetFallbackTarget(), Status: int(r.GetFallbackStatus())}},
		Targets: make(map[string]sip.RingTarget, len(r.GetTargets()))}
	for _, s := range r.GetStages() {
		p.Stages = append(p.Stages, hunt.Stage{Members: s.GetMembers(),
			Delay: time.Duration(s.GetDelayMs()) * time.Millisecond, Timeout: time.Duration(s.GetTimeoutMs()) * time.Millisecond})
	}
	for _, t := range r.GetTargets() {
		p.Targets[t.GetUser()] = sip.RingTarget{Line: t.GetLine(), Contacts: registrations(t.GetLine(), t.GetBindings())}
	}
	return p, nil
}

// GroupEvent sends events of one kind in a row as one message.
func (b grainBackend) GroupEvent(ctx context.Context, group string, evs ...hunt.Event) error {
	at := time.Now().UnixMilli()
	for len(evs) > 0 {
		m := &actorspb.GroupCallEvent{Kind: evs[0].Kind.String(), User: evs[0].User, AtUnixMs: at}
		n := 1
		for ; n < len(evs) && evs[n].Kind == evs[0].Kind; n++ {
			m.Users = append(m.Users, evs[n].User)
		}
		if _, err := actors.Ask[*actorspb.GroupCallEventReply](ctx, b.node, group, actors.KindGroup, m); err != nil {
			return err
		}
		evs = evs[n:]
	}
	return nil
}

func (b grainBackend) LineCall(ctx context.Context, line string, ev sip.CallEvent) error {
	var phase string
	switch ev.Phase {
	case sip.CallRinging:
		phase = "ringing"
	case sip.CallAnswered:
		phase = "answered"
	case sip.CallEnded:
		phase = "ended"
	default:
		return fmt.Errorf("server: call phase %d", ev.Phase)
	}
	at := ev.At
	if at.IsZero() {
		at = time.Now()
	}
	_, err := actors.Ask[*actorspb.LineCallReply](ctx, b.node, line, actors.KindLine,
		&actorspb.LineCall{CallId: ev.CallID, Phase: phase, Outgoing: ev.Outgoing, Remote: ev.Remote, AtUnixMs: at.UnixMilli(),
			Outcome: ev.Outcome, Group: ev.Group})
	return err
}

func (b grainBackend) Rights(ctx context.Context, viewer, target string) (rights.Set, error) {
	r, err := actors.Ask[*actorspb.CheckRightsReply](ctx, b.node, target, actors.KindUser, &actorspb.CheckRights{Viewer: viewer})
	if err != nil {
		return 0, err
	}
	return rights.Set(r.GetSet()), nil
}
