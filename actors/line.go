package actors

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// registerTimeout bounds the directory write of one REGISTER. It is
// shorter than the SIP layer's BackendTimeout (5 s): a REGISTER that
// arrives in the first seconds of a cut, before the node knows it is cut
// off, gives up on the leader in time to keep the binding on the node and
// answer 200, instead of timing out into a 500.
const registerTimeout = 3 * time.Second

// NewLineKind returns the cluster kind of line grains.
func NewLineKind() *cluster.Kind {
	return cluster.NewKind(KindLine, actor.PropsFromProducer(func() actor.Actor { return &lineGrain{} }))
}

// lineGrain owns one line's runtime state: its calls (memory only; the SIP
// layer reports them), the registered contacts (durable in the directory,
// held here for the proxy), and the watchers of its state (BLF keys, the
// console), each sent only what the line rights of rights.tsv let them see.
type lineGrain struct {
	grainBase

	dir      dirState
	record   *dirpb.Line // nil when the directory has no such line
	bindings []*dirpb.Registration
	rights   viewerRights // over the line's owner
	state    linestate.Line
	watchers watchers
	// groups are the call groups watching the line (memberwatch.go), and
	// groupBindings the bindings as they are sent (nil: to convert).
	groups        memberWatchers
	groupBindings []*actorspb.Binding
	ends          endWake // re-evaluates the watchers when a right ends
}

func (g *lineGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		g.activate(ctx, KindLine, m)
		g.watchers = watchers{}
		g.state.Number = g.id
	case *actor.ReceiveTimeout:
		g.prune(ctx)
		g.tellGroups(ctx)
		if g.idle() {
			ctx.Poison(ctx.Self())
		}
	case *actor.Stopping:
		g.ends.stop()
		g.groups.stop(ctx, KindLine, g.id)
		g.handOver()
	case *actor.Stopped:
		if g.deps != nil {
			g.deps.local.setOwner(g.id, "")
		}
		g.stopped(KindLine)
	case *actorspb.GetLineState:
		g.respond(ctx, g.getState(ctx, m))
	case *actorspb.WatchLine:
		g.respond(ctx, g.watch(ctx, m))
	case *actorspb.Unwatch:
		g.watchers.remove(hubRefOf(m.GetHub()), m.GetSession())
		ctx.Respond(&actorspb.UnwatchReply{})
	case *actorspb.LineCall:
		g.respond(ctx, g.call(ctx, m))
	case *actorspb.RegisterLine:
		g.respond(ctx, g.register(m))
	case *actorspb.WatchMember:
		ctx.Respond(g.watchMember(m))
	case *actorspb.UnwatchMember:
		delete(g.groups.groups, m.GetGroup())
	case *actorspb.GetContacts:
		ctx.Respond(g.contacts())
	case *actorspb.GetLineCalls:
		ctx.Respond(g.lineCalls(ctx))
	case *actorspb.DirectoryChanged:
		g.dir.loaded = false
		g.publish(ctx)
		g.tellGroups(ctx)
	case *actorspb.LineHandover:
		g.takeOver(ctx, m)
		g.respond(ctx, &actorspb.HandoverReply{})
	}
}

// respond tells the watching call groups what changed, then answers: a
// ring plan asked after the answer finds the change.
func (g *lineGrain) respond(ctx actor.Context, reply any) {
	g.tellGroups(ctx)
	ctx.Respond(reply)
}

// tellGroups sends the watching call groups the line's state when it
// changed for them.
func (g *lineGrain) tellGroups(ctx actor.Context) {
	if len(g.groups.groups) == 0 {
		return
	}
	// Most calls' steps leave busy and the bindings as they were: say
	// nothing without building a message.
	if last := g.groups.last; last != nil && last.GetError() == nil && g.dir.loaded && g.groupBindings != nil &&
		last.GetBusy() == (g.state.State() == linestate.Busy) && sameBindings(last.GetBindings(), g.groupBindings) {
		return
	}
	g.groups.publish(ctx, g.memberState())
}

// watchMember answers a call group's watch with the line's state now.
func (g *lineGrain) watchMember(m *actorspb.WatchMember) *actorspb.MemberState {
	s := g.memberState()
	if s.GetError() != nil {
		return s
	}
	return g.groups.add(m, s)
}

// memberState is the line as a ring plan needs it: busy, and its
// bindings (none when the directory has no such line).
func (g *lineGrain) memberState() *actorspb.MemberState {
	s := &actorspb.MemberState{Kind: KindLine, Id: g.id, Grain: pidHub(g.self)}
	if e := g.prepare(0); e != nil {
		if e.GetCode() != CodeNotFound {
			s.Error = e
		}
		return s
	}
	if g.groupBindings == nil {
		g.groupBindings = make([]*actorspb.Binding, len(g.bindings))
		for i, r := range g.bindings {
			g.groupBindings[i] = BindingOf(r)
		}
	}
	s.Busy, s.Bindings = g.state.State() == linestate.Busy, g.groupBindings
	return s
}

// idle: nothing lives only here. Bindings are durable and reload.
func (g *lineGrain) idle() bool { return len(g.state.Calls) == 0 && g.watchers.len() == 0 }

// load reads the line, its bindings and the rights inputs of its owner.
func (g *lineGrain) load() error {
	if g.dir.current(g.now) {
		return nil
	}
	now := g.deps.Store.Now()
	at := g.deps.Applied()
	l, err := g.deps.Store.Line(g.id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		g.record, g.bindings, g.groupBindings = nil, nil, nil
		g.rights.reset(nil)
		g.deps.local.setOwner(g.id, "")
		g.dir.markLoaded(at, 0)
		return nil
	case err != nil:
		return err
	}
	regs, err := g.deps.Store.Registrations(g.id)
	if err != nil {
		return err
	}
	regs = g.deps.regs.view(g.id, regs)
	t, err := dirrights.LoadTarget(g.deps.Store, l.GetOwner())
	if errors.Is(err, persistence.ErrNotFound) {
		t, err = nil, nil // an owner deleted under the line: nobody sees it
	}
	if err != nil {
		return err
	}
	g.record, g.bindings, g.groupBindings = l, regs, nil
	g.rights.reset(t)
	g.state.Kind = dirrights.LineKind(l)
	g.state.Forwarding = dirrights.Forwarding(l)
	g.deps.local.setOwner(g.id, l.GetOwner())
	g.dir.markLoaded(at, targetUntil(t))
	g.ends.arm(&g.grainBase, targetUntil(t), now)
	return nil
}

// loadOrFailClosed loads; a directory that cannot be read leaves nobody
// any rights over the line.
func (g *lineGrain) loadOrFailClosed() {
	if err := g.load(); err != nil {
		g.deps.Logger.Error("actors: load line", "line", g.id, "err", err)
		g.rights.reset(nil)
	}
}

// prepare readies the grain for a request carrying consistency index min.
func (g *lineGrain) hasRecord() bool { return g.record != nil }

func (g *lineGrain) prepare(min uint64) *actorspb.Error {
	return g.dir.prepare(g.deps, min, g, "no such line")
}

func (g *lineGrain) owner() string { return g.record.GetOwner() }

func (g *lineGrain) viewFor(viewer string) *actorspb.LineView {
	return lineViewPB(linestate.ViewFor(g.state, g.rights.of(viewer)), g.owner())
}

func (g *lineGrain) getState(ctx actor.Context, m *actorspb.GetLineState) *actorspb.GetLineStateReply {
	if e := g.prepare(m.GetMinIndex()); e != nil {
		return &actorspb.GetLineStateReply{Error: e}
	}
	g.prune(ctx)
	return &actorspb.GetLineStateReply{View: g.viewFor(m.GetViewer())}
}

func (g *lineGrain) watch(ctx actor.Context, m *actorspb.WatchLine) *actorspb.WatchLineReply {
	if e := g.prepare(m.GetMinIndex()); e != nil {
		return &actorspb.WatchLineReply{Error: e}
	}
	g.prune(ctx)
	w := g.watchers.add(hubRefOf(m.GetHub()), m.GetSession(), m.GetViewer())
	v := linestate.ViewFor(g.state, g.rights.forWatcher(w))
	w.line, w.lineSent = v, true
	return &actorspb.WatchLineReply{View: lineViewPB(v, g.owner()), GrainAddress: g.self.GetAddress()}
}

// call applies one reported call step and tells the watchers.
func (g *lineGrain) call(ctx actor.Context, m *actorspb.LineCall) *actorspb.LineCallReply {
	phase, err := linestate.ParsePhase(m.GetPhase())
	if err != nil {
		return &actorspb.LineCallReply{Error: refusal(CodeInvalid, err.Error())}
	}
	if e := g.prepare(0); e != nil {
		return &actorspb.LineCallReply{Error: e}
	}
	at := time.UnixMilli(m.GetAtUnixMs())
	if m.GetAtUnixMs() == 0 {
		at = time.Now()
	}
	dir := linestate.Incoming
	if m.GetOutgoing() {
		dir = linestate.Outgoing
	}
	ending, ends := endingCall(g.state, m.GetCallId(), phase)
	if m.GetTransferredBy() != "" || m.GetTransferredTo() != "" {
		ending.TransferredBy, ending.TransferredTo = m.GetTransferredBy(), m.GetTransferredTo()
	}
	g.state = linestate.Apply(g.state, linestate.Step{ID: m.GetCallId(), Phase: phase, Direction: dir, Remote: m.GetRemote(), At: at, Group: m.GetGroup(),
		TransferredBy: m.GetTransferredBy(), TransferredTo: m.GetTransferredTo(), Node: m.GetNode()})
	g.publish(ctx)
	if ends {
		g.writeJournal(ending, at, m.GetOutcome())
	}
	return &actorspb.LineCallReply{}
}

// prune drops calls nobody reported as ended in time (their node failed).
func (g *lineGrain) prune(ctx actor.Context) {
	if next, dropped := linestate.Prune(g.state, time.Now()); dropped {
		g.state = next
		g.publish(ctx)
	}
}

// register writes one REGISTER through the directory, then answers with
// the line's bindings as the directory now holds them. The write goes
// through group commit: the REGISTERs of many lines arriving together
// share one Raft entry, and each binding is committed and applied before
// the answer (and so before the 200).
//
// Only the line's existence and its bindings matter here, so a grain
// whose state is not loaded (the usual case: the previous REGISTER's
// change marked it stale) reads just the line record instead of loading
// the owner's rights inputs too; the next message that needs them loads
// them. After the write only the bindings are read again.
func (g *lineGrain) register(m *actorspb.RegisterLine) *actorspb.RegisterLineReply {
	if e := g.registerTarget(); e != nil {
		return &actorspb.RegisterLineReply{Error: e}
	}
	u := &dirpb.UpdateRegistrations{Line: g.id, Remove: m.GetRemove(), RemoveAll: m.GetRemoveAll()}
	for _, b := range m.GetPut() {
		u.Put = append(u.Put, RegistrationOf(g.id, b))
	}
	if e := g.writeRegistrations(u); e != nil {
		return &actorspb.RegisterLineReply{Error: e}
	}
	// Answer with the bindings the write left in the directory: applied
	// here before applyGrouped returned (with those this node keeps while
	// no leader takes them).
	regs, err := g.deps.Store.Registrations(g.id)
	if err != nil {
		return &actorspb.RegisterLineReply{Error: errDirectory()}
	}
	regs = g.deps.regs.view(g.id, regs)
	if g.dir.loaded {
		// Newer than the rest of the state: loadedAt stays its lower
		// bound. The groups' copy is converted again, so the watching
		// call groups are told of the new bindings (respond).
		g.bindings, g.groupBindings = regs, nil
	}
	return &actorspb.RegisterLineReply{Bindings: unexpired(regs, time.Now())}
}

// writeRegistrations writes u through the directory. When no leader
// takes it (the node is cut off from the majority) the node keeps u
// (localRegistrations) and the REGISTER succeeds; so it does when older
// updates of the line wait there, behind which u queues.
func (g *lineGrain) writeRegistrations(u *dirpb.UpdateRegistrations) *actorspb.Error {
	if g.deps.regs.has(g.id) {
		g.deps.regs.add(g.deps, u)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	_, err := g.deps.applyGrouped(ctx, &dirpb.Command{Op: &dirpb.Command_UpdateRegistrations{UpdateRegistrations: u}})
	var ce *persistence.CommandError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, persistence.ErrNoLeader), errors.Is(err, persistence.ErrOutcomeUnknown),
		errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		// Not written, or not known to be: kept, and written (again:
		// the update is idempotent) once a leader takes writes.
		g.deps.regs.add(g.deps, u)
		return nil
	case errors.As(err, &ce) && (errors.Is(err, persistence.ErrInvalid) || errors.Is(err, persistence.ErrNotFound)):
		return refusal(CodeInvalid, err.Error())
	}
	return refusal(CodeUnavailable, err.Error())
}

// registerTarget checks that the line exists, from the loaded state or,
// when it is stale, from the line record alone (see register).
func (g *lineGrain) registerTarget() *actorspb.Error {
	if g.dir.loaded {
		return g.prepare(0)
	}
	_, err := g.deps.Store.Line(g.id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return refusal(CodeNotFound, "no such line")
	case err != nil:
		return errDirectory()
	}
	return nil
}

func (g *lineGrain) contacts() *actorspb.GetContactsReply {
	if e := g.prepare(0); e != nil {
		return &actorspb.GetContactsReply{Error: e}
	}
	return &actorspb.GetContactsReply{Bindings: g.current(), State: g.state.State().String()}
}

// lineCalls answers what the line has now: its calls with the node
// holding each (pickup, sip/pickup.go). Calls nobody ended in time are
// dropped first.
func (g *lineGrain) lineCalls(ctx actor.Context) *actorspb.GetLineCallsReply {
	if e := g.prepare(0); e != nil {
		return &actorspb.GetLineCallsReply{Error: e}
	}
	g.prune(ctx)
	out := make([]*actorspb.LineCall, 0, len(g.state.Calls))
	for _, c := range g.state.Calls {
		phase := linestate.PhaseRinging
		if c.Answered {
			phase = linestate.PhaseAnswered
		}
		out = append(out, &actorspb.LineCall{CallId: c.ID, Phase: phase.String(), Outgoing: c.Direction == linestate.Outgoing,
			Remote: c.Remote, AtUnixMs: c.Since.UnixMilli(), StartedUnixMs: c.Started.UnixMilli(), Group: c.Group, Node: c.Node})
	}
	return &actorspb.GetLineCallsReply{Calls: out}
}

// current are the unexpired bindings.
func (g *lineGrain) current() []*actorspb.Binding { return unexpired(g.bindings, time.Now()) }

// unexpired are the registrations still valid at now (dirpb.Live), as
// grain messages: the directory keeps expired ones until a sweep removes
// them.
func unexpired(regs []*dirpb.Registration, now time.Time) []*actorspb.Binding {
	out := make([]*actorspb.Binding, 0, len(regs))
	for _, r := range regs {
		if dirpb.Live(r, now) {
			out = append(out, BindingOf(r))
		}
	}
	return out
}

// publish sends every line watcher what changed for them.
func (g *lineGrain) publish(ctx actor.Context) {
	if g.watchers.len() == 0 {
		return
	}
	g.loadOrFailClosed()
	for h, b := range lineFanOut(g.watchers, g.state, g.owner(), g.rights.forWatcher) {
		b.Line = g.id
		ctx.Send(actor.NewPID(h.address, h.id), b)
	}
}

// handOver gives calls and watchers to the next activation when the grain
// moves to another node.
func (g *lineGrain) handOver() {
	if g.deps == nil || g.deps.Request == nil || g.idle() {
		return
	}
	h := &actorspb.LineHandover{Line: g.id}
	for _, c := range g.state.Calls {
		phase := linestate.PhaseRinging
		if c.Answered {
			phase = linestate.PhaseAnswered
		}
		h.Calls = append(h.Calls, &actorspb.LineCall{CallId: c.ID, Phase: phase.String(),
			Outgoing: c.Direction == linestate.Outgoing, Remote: c.Remote, AtUnixMs: c.Since.UnixMilli(),
			StartedUnixMs: c.Started.UnixMilli(), Group: c.Group, TransferredBy: c.TransferredBy, TransferredTo: c.TransferredTo, Node: c.Node})
	}
	h.Watchers = handoverWatchers(g.watchers)
	g.deps.handOver(KindLine, g.id, h)
}

// takeOver merges the state of the previous activation: steps reported
// here since activation are newer and win (Apply ignores repeats).
func (g *lineGrain) takeOver(ctx actor.Context, m *actorspb.LineHandover) {
	for _, c := range m.GetCalls() {
		if slices.ContainsFunc(g.state.Calls, func(have linestate.Call) bool { return have.ID == c.GetCallId() }) {
			continue
		}
		phase, err := linestate.ParsePhase(c.GetPhase())
		if err != nil {
			continue
		}
		dir := linestate.Incoming
		if c.GetOutgoing() {
			dir = linestate.Outgoing
		}
		st := linestate.Step{ID: c.GetCallId(), Phase: phase, Direction: dir, Remote: c.GetRemote(), At: time.UnixMilli(c.GetAtUnixMs()), Group: c.GetGroup(),
			TransferredBy: c.GetTransferredBy(), TransferredTo: c.GetTransferredTo(), Node: c.GetNode()}
		if c.GetStartedUnixMs() != 0 {
			st.Started = time.UnixMilli(c.GetStartedUnixMs())
		}
		g.state = linestate.Apply(g.state, st)
	}
	takeOverWatchers(ctx, KindLine, g.id, g.watchers, m.GetWatchers())
	g.publish(ctx)
}

// RegistrationOf is the directory record of binding b of line.
func RegistrationOf(line string, b *actorspb.Binding) *dirpb.Registration {
	return &dirpb.Registration{Line: line, Contact: b.GetContact(), ExpiresAtUnix: b.GetExpiresAtUnix(),
		CallId: b.GetCallId(), Cseq: b.GetCseq(), Source: b.GetSource(), UserAgent: b.GetUserAgent(),
		RegisteredUnix: b.GetRegisteredUnix(), Instance: b.GetInstance(), Nat: b.GetNat(), Path: b.GetPath()}
}

// BindingOf is the grain message of registration r.
func BindingOf(r *dirpb.Registration) *actorspb.Binding {
	return &actorspb.Binding{Contact: r.GetContact(), ExpiresAtUnix: r.GetExpiresAtUnix(), CallId: r.GetCallId(),
		Cseq: r.GetCseq(), Source: r.GetSource(), UserAgent: r.GetUserAgent(), RegisteredUnix: r.GetRegisteredUnix(),
		Instance: r.GetInstance(), Nat: r.GetNat(), Path: r.GetPath()}
}
