package actors

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/officehours"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// memberStatusTimeout bounds the gathering of the members' presence and
// line state for one ring plan. A member whose grains do not answer in
// time is not rung (unreachable) rather than delaying the caller.
const memberStatusTimeout = time.Second

// NewGroupKind returns the cluster kind of group grains.
func NewGroupKind() *cluster.Kind {
	return cluster.NewKind(KindGroup, actor.PropsFromProducer(func() actor.Actor { return &groupGrain{} }))
}

// groupGrain owns a call group's hunt state (round-robin position, last
// call per member) and answers ring plans: the office-hours verdict in the
// group's time zone with the receptionist override, and the members in
// order with their availability. The decisions are actors/hunt's and
// actors/officehours'; the grain gathers their inputs.
type groupGrain struct {
	grainBase

	dir    dirState
	record *dirpb.Group // nil when the directory has no such group
	sched  officehours.Compiled
	over   officehours.Override
	hunt   hunt.State
	// mem keeps hunt durable for the strategies that remember
	// (huntmemory.go).
	mem huntMemory
	// members are the members' user and line states, watched.
	members memberCache
}

func (g *groupGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		g.activate(ctx, KindGroup, m)
	case *actor.ReceiveTimeout:
		if g.idle() {
			ctx.Poison(ctx.Self())
		}
	case *actor.Stopping:
		g.members.unwatchAll(ctx, g.id)
		g.handOver()
	case *actor.Stopped:
		g.stopped(KindGroup)
	case *actorspb.GetRingPlan:
		g.ringPlan(ctx, m)
	case *actorspb.MemberState:
		g.members.apply(m, time.Now())
	case *memberFill:
		g.members.fill(m.epoch, m.states, time.Now())
	case *planOffer:
		g.planned(ctx, m, m.at)
	case *actorspb.GroupCallEvent:
		ctx.Respond(g.callEvent(ctx, m))
	case *huntWritten:
		g.written(ctx, m)
	case *actorspb.DirectoryChanged:
		g.dir.loaded = false
	case *actorspb.GroupHandover:
		g.takeOver(m)
		ctx.Respond(&actorspb.HandoverReply{})
	}
}

// idle: the hunt state lives only here; a group that took calls stays.
func (g *groupGrain) idle() bool { return g.hunt.RoundRobinLast == "" && len(g.hunt.LastCall) == 0 }

func (g *groupGrain) load() error {
	if g.dir.current(g.now) {
		return nil
	}
	at := g.deps.Applied()
	rec, err := g.deps.Store.Group(g.id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		rec = nil
	case err != nil:
		return err
	}
	g.record = rec
	g.sched, g.over = officehours.Compile(scheduleOf(rec)), overrideOf(rec)
	g.loadMemory()
	g.hunt = hunt.Prune(g.hunt, huntGroupOf(rec, nil))
	g.dir.markLoaded(at, membersUntil(rec))
	return nil
}

// membersUntil is the earliest end of a membership of rec (unix seconds;
// 0: none ends): the store left out the ended ones, so the record is read
// again then.
func membersUntil(rec *dirpb.Group) int64 {
	var until int64
	for _, m := range rec.GetMembers() {
		if u := m.GetUntilUnix(); u != 0 && (until == 0 || u < until) {
			until = u
		}
	}
	return until
}

func (g *groupGrain) hasRecord() bool { return g.record != nil }

func (g *groupGrain) prepare(min uint64) *actorspb.Error {
	if e := g.dir.prepare(g.deps, min, g, "no such group"); e != nil {
		return e
	}
	if !g.record.TakesSIPCalls() {
		return refusal(CodeNotFound, "the group has no call group")
	}
	return nil
}

// ringPlan answers a GetRingPlan. The members' presence and line state
// come from the group's watched copy (memberwatch.go) when it holds all of
// them; else their grains are asked (and watched from then on) in
// parallel outside the grain, so that it keeps taking messages, and the
// reply goes straight to the requester.
func (g *groupGrain) ringPlan(ctx actor.Context, m *actorspb.GetRingPlan) {
	if e := g.prepare(m.GetMinIndex()); e != nil {
		ctx.Respond(&actorspb.GetRingPlanReply{Error: e})
		return
	}
	now := time.Now()
	verdict := g.sched.Verdict(g.over, now)
	st := g.hunt
	if !verdict.Open {
		ctx.Respond(ringPlanPB(hunt.RingPlan(huntGroupOf(g.record, nil), st, verdict, now), verdict))
		return
	}
	g.members.sync(g.deps.topology.Load())
	if statuses, ok := g.cachedStatuses(now, m.GetMinIndex()); ok {
		reply := planReply(g.record, statuses, st, verdict, now)
		g.planned(ctx, &planOffer{users: firstOffered(g.record, reply)}, now)
		ctx.Respond(reply)
		return
	}
	sender, self, root, deps, rec, epoch := ctx.Sender(), ctx.Self(), ctx.ActorSystem().Root, g.deps, g.record, g.members.epoch
	watch := &actorspb.WatchMember{Group: g.id, Watcher: pidHub(self)}
	deps.goAside(func() {
		statuses, states := memberStatuses(deps, rec.GetMembers(), watch)
		reply := planReply(rec, statuses, st, verdict, now)
		root.Send(self, &planOffer{users: firstOffered(rec, reply), at: now})
		root.Send(sender, reply)
		root.Send(self, &memberFill{epoch: epoch, states: states})
	})
}

// planOffer is the first stage of a round_robin plan just handed out:
// its members count as offered the call at once, before the proxy's
// Offered report arrives (asynchronously, after its INVITEs went out), so
// that the next call, however soon it follows, starts after them. The
// report then changes nothing.
type planOffer struct {
	users []string
	at    time.Time
}

// firstOffered are the members of reply's first stage when rec's
// strategy is round_robin (the only one whose order an offer moves).
func firstOffered(rec *dirpb.Group, reply *actorspb.GetRingPlanReply) []string {
	if rec.GetCallGroup().GetStrategy() != hunt.RoundRobin.String() || len(reply.GetStages()) == 0 {
		return nil
	}
	return reply.GetStages()[0].GetMembers()
}

// planned steps the hunt state by the offer of a plan's first stage.
func (g *groupGrain) planned(ctx actor.Context, m *planOffer, at time.Time) {
	before := g.hunt
	for _, u := range m.users {
		g.hunt = hunt.Step(g.hunt, hunt.Event{Kind: hunt.Offered, User: u}, at)
	}
	if !sameHunt(before, g.hunt) {
		g.mem.stepped = true
		g.persist(ctx)
	}
}

func planReply(rec *dirpb.Group, statuses map[string]memberStatus, st hunt.State, verdict officehours.Result, now time.Time) *actorspb.GetRingPlanReply {
	reply := ringPlanPB(hunt.RingPlan(huntGroupOf(rec, statuses), st, verdict, now), verdict)
	reply.Targets = ringTargets(reply.GetStages(), statuses)
	return reply
}

// memberStatus is what a ring plan needs to know of a member now, and
// where they ring: their primary line's unexpired bindings.
type memberStatus struct {
	dnd, busy, reachable bool
	line                 string
	bindings             []*actorspb.Binding
}

// cachedStatuses are the members' statuses from the watched copy; false
// when it lacks one of them. The line a member rings on comes from their
// user grain's state; a caller that asks for the directory as of index
// minIndex (read-your-writes) gets it from the group's node's directory.
func (g *groupGrain) cachedStatuses(now time.Time, minIndex uint64) (map[string]memberStatus, bool) {
	members := g.record.GetMembers()
	out := make(map[string]memberStatus, len(members))
	for _, m := range members {
		if m.GetLoggedOut() {
			continue
		}
		user, ok := g.members.get(KindUser, m.GetUser(), now)
		if !ok {
			return nil, false
		}
		line := user.GetRingLine()
		if minIndex != 0 {
			line = ringLine(g.deps, m.GetUser())
		}
		var ls *actorspb.MemberState
		if line != "" {
			if ls, ok = g.members.get(KindLine, line, now); !ok {
				return nil, false
			}
		}
		out[m.GetUser()] = statusOf(line, user, ls, now)
	}
	return out, true
}

// statusOf is a member's status from their user's and line's states
// (nil: none; the line's bindings unexpired at now).
func statusOf(line string, user, ls *actorspb.MemberState, now time.Time) memberStatus {
	bindings := dirpb.LiveOnly(ls.GetBindings(), now)
	return memberStatus{dnd: user.GetDnd(), busy: user.GetBusy() || ls.GetBusy(), reachable: len(bindings) > 0,
		line: line, bindings: bindings}
}

// memberStatuses asks the members' user and primary-line grains for
// presence, line state and bindings, and to send the group watch.Watcher
// every change from now on: all the asks at once, each on its own
// goroutine, so the plan waits for the slowest ask only. It returns the
// statuses and the states the grains answered (for the group's copy).
func memberStatuses(deps *Deps, members []*dirpb.Member, watch *actorspb.WatchMember) (map[string]memberStatus, []*actorspb.MemberState) {
	ctx, cancel := context.WithTimeout(context.Background(), memberStatusTimeout)
	defer cancel()
	// Each goroutine writes its own fields of one answer.
	type answer struct {
		user, line string
		us, ls     *actorspb.MemberState
	}
	answers := make([]answer, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		if m.GetLoggedOut() {
			continue // not rung whatever their state
		}
		a := &answers[i]
		a.user, a.line = m.GetUser(), ringLine(deps, m.GetUser())
		wg.Go(func() { a.us = presenceOf(ctx, deps, a.user, watch) })
		if a.line != "" {
			wg.Go(func() { a.ls = contactsOf(ctx, deps, a.line, watch) })
		}
	}
	wg.Wait()
	now := time.Now()
	out := make(map[string]memberStatus, len(members))
	var states []*actorspb.MemberState
	for _, a := range answers {
		if a.user == "" {
			continue
		}
		out[a.user] = statusOf(a.line, a.us, a.ls, now)
		for _, s := range []*actorspb.MemberState{a.us, a.ls} {
			if s.GetGrain() != nil {
				states = append(states, s)
			}
		}
	}
	return out, states
}

// presenceOf asks user's grain whether they set DND or busy, and to watch
// it (an empty state when it does not answer: available).
func presenceOf(ctx context.Context, deps *Deps, user string, watch *actorspb.WatchMember) *actorspb.MemberState {
	if r, err := Ask[*actorspb.MemberState](ctx, RequestFunc(deps.Request), user, KindUser, watch); err == nil {
		return r
	}
	return &actorspb.MemberState{Kind: KindUser, Id: user}
}

// contactsOf asks line's grain for its bindings and whether it is busy,
// and to watch it. When the grain does not answer (it is moving between
// nodes, or its node just failed), the bindings come from the directory,
// where every REGISTER is durable, and the line counts as not busy:
// ringing a phone that turns out busy costs a 486 on one branch, while
// skipping every member whose grain is moving fails the whole call with
// 480. Such a state names no grain and is not kept.
func contactsOf(ctx context.Context, deps *Deps, line string, watch *actorspb.WatchMember) *actorspb.MemberState {
	r, err := Ask[*actorspb.MemberState](ctx, RequestFunc(deps.Request), line, KindLine, watch)
	if err == nil {
		return r
	}
	s := &actorspb.MemberState{Kind: KindLine, Id: line}
	regs, rerr := deps.Store.Registrations(line)
	if rerr != nil {
		return s
	}
	regs = deps.regs.view(line, regs)
	deps.Logger.Debug("actors: ring plan took a line's contacts from the directory: its grain did not answer", "err", err)
	s.Bindings = unexpired(regs, time.Now())
	return s
}

// ringTargets are the lines and bindings of the members the stages ring,
// in stage order, each member once.
func ringTargets(stages []*actorspb.RingStage, statuses map[string]memberStatus) []*actorspb.RingTarget {
	var out []*actorspb.RingTarget
	seen := map[string]bool{}
	for _, s := range stages {
		for _, u := range s.GetMembers() {
			st, ok := statuses[u]
			if !ok || seen[u] || !st.reachable {
				continue
			}
			seen[u] = true
			out = append(out, &actorspb.RingTarget{User: u, Line: st.line, Bindings: st.bindings})
		}
	}
	return out
}

// ringLine is the number a member rings on (persistence.Store.RingLine:
// their primary line, "" when they have none or are disabled, so the plan
// skips them as unreachable whatever the strategy).
func ringLine(deps *Deps, user string) string {
	n, err := deps.Store.RingLine(user)
	if err != nil {
		deps.Logger.Warn("actors: ring plan: line of member", "err", err)
		return ""
	}
	return n
}

func (g *groupGrain) callEvent(ctx actor.Context, m *actorspb.GroupCallEvent) *actorspb.GroupCallEventReply {
	kind, err := hunt.ParseEventKind(m.GetKind())
	if err != nil {
		return &actorspb.GroupCallEventReply{Error: refusal(CodeInvalid, err.Error())}
	}
	at := time.UnixMilli(m.GetAtUnixMs())
	if m.GetAtUnixMs() == 0 {
		at = time.Now()
	}
	before := g.hunt
	g.hunt = hunt.Step(g.hunt, hunt.Event{Kind: kind, User: m.GetUser()}, at)
	for _, u := range m.GetUsers() {
		g.hunt = hunt.Step(g.hunt, hunt.Event{Kind: kind, User: u}, at)
	}
	if !sameHunt(before, g.hunt) {
		g.mem.stepped = true
		g.persist(ctx)
	}
	return &actorspb.GroupCallEventReply{}
}

func (g *groupGrain) handOver() {
	if g.deps == nil || g.deps.Request == nil || g.idle() {
		return
	}
	h := &actorspb.GroupHandover{Group: g.id, RoundRobinLast: g.hunt.RoundRobinLast, LastCallUnixMs: map[string]int64{}}
	for u, t := range g.hunt.LastCall {
		h.LastCallUnixMs[u] = t.UnixMilli()
	}
	g.deps.handOver(KindGroup, g.id, h)
}

// takeOver merges the previous activation's hunt state: its round-robin
// position unless a call moved it here since activation, each member's
// later last call. It is newer than the stored memory (the previous
// activation wrote no later than it handed over).
func (g *groupGrain) takeOver(m *actorspb.GroupHandover) {
	g.hunt = mergeHunt(g.hunt, stateOf(m.GetRoundRobinLast(), m.GetLastCallUnixMs()), !g.mem.stepped)
}

// sameHunt reports whether a and b remember the same.
func sameHunt(a, b hunt.State) bool {
	return a.RoundRobinLast == b.RoundRobinLast && maps.EqualFunc(a.LastCall, b.LastCall, time.Time.Equal)
}

// huntGroupOf is the hunt configuration of a group record, with the
// members' availability from statuses (nil: configuration only).
func huntGroupOf(rec *dirpb.Group, statuses map[string]memberStatus) hunt.Group {
	cg := rec.GetCallGroup()
	strategy, err := hunt.ParseStrategy(cg.GetStrategy())
	if err != nil {
		strategy = hunt.RingAll // the API validates; an unknown stored value rings everyone
	}
	g := hunt.Group{
		ID: rec.GetId(), Strategy: strategy,
		RingTimeout:    time.Duration(cg.GetRingTimeoutS()) * time.Second,
		MemberTimeout:  time.Duration(cg.GetMemberTimeoutS()) * time.Second,
		SkipBusy:       cg.GetSkipBusy(),
		NoAnswerTarget: cg.GetNoAnswerTarget(),
		ClosedTarget:   cg.GetClosedTarget(),
	}
	for _, m := range rec.GetMembers() {
		st := statuses[m.GetUser()]
		g.Members = append(g.Members, hunt.Member{User: m.GetUser(), LoggedIn: !m.GetLoggedOut(),
			Busy: st.busy, DND: st.dnd, Reachable: st.reachable,
			RingDelay: time.Duration(m.GetRingDelayS()) * time.Second})
	}
	return g
}

// scheduleOf is the office-hours schedule of a group record, read in the
// group's time zone. Holidays are closed all day (open hours on a holiday
// are not modelled by officehours yet).
func scheduleOf(rec *dirpb.Group) officehours.Schedule {
	s := officehours.Schedule{TimeZone: rec.GetTimezone()}
	for _, d := range rec.GetOfficeHours().GetDays() {
		if d.GetWeekday() < 0 || d.GetWeekday() > 6 {
			continue // persistence refuses these
		}
		s.Weekly[d.GetWeekday()] = append(s.Weekly[d.GetWeekday()], intervalsOf(d.GetOpen())...)
		s.Breaks[d.GetWeekday()] = append(s.Breaks[d.GetWeekday()], intervalsOf(d.GetBreaks())...)
	}
	for _, h := range rec.GetOfficeHours().GetHolidays() {
		if date, err := officehours.ParseDate(h.GetDate()); err == nil {
			s.Holidays = append(s.Holidays, officehours.Holiday{Date: date, Name: h.GetName()})
		}
	}
	return s
}

func intervalsOf(ivs []*dirpb.Interval) []officehours.Interval {
	out := make([]officehours.Interval, len(ivs))
	for i, iv := range ivs {
		out[i] = officehours.Span(officehours.Clock(iv.GetFromMin()), officehours.Clock(iv.GetToMin()))
	}
	return out
}

// overrideOf is the receptionist override of a group record.
func overrideOf(rec *dirpb.Group) officehours.Override {
	mode, err := officehours.ParseMode(rec.GetOverride())
	if err != nil {
		mode = officehours.ModeAuto // "" and unknown values follow the schedule
	}
	o := officehours.Override{Mode: mode}
	if u := rec.GetOverrideUntilUnix(); u != 0 {
		o.Until = time.Unix(u, 0)
	}
	return o
}

func ringPlanPB(p hunt.Plan, verdict officehours.Result) *actorspb.GetRingPlanReply {
	r := &actorspb.GetRingPlanReply{Closed: p.Closed, FallbackTarget: p.Fallback.Target,
		FallbackStatus: int32(p.Fallback.Status), Reason: verdict.String()}
	for _, s := range p.Stages {
		r.Stages = append(r.Stages, &actorspb.RingStage{Members: s.Members, DelayMs: s.Delay.Milliseconds(),
			NotBeforeMs: s.NotBefore.Milliseconds(), TimeoutMs: s.Timeout.Milliseconds()})
	}
	for _, s := range p.Skipped {
		r.Skipped = append(r.Skipped, &actorspb.RingSkip{User: s.User, Reason: s.Reason.String()})
	}
	return r
}
