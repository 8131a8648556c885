package sip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/presence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// maxRedirects bounds forwarding chains (line → line → group → …).
const maxRedirects = 8

// call is one INVITE outside a dialog, from its arrival until its dialog
// ends (BYE) or it fails. The INVITE handler's goroutine runs it (run);
// branch goroutines send it their responses through events.
type call struct {
	s   *Server
	req *sip.Request
	// forkReq, when set, is what the branches of the stage being rung are
	// made from instead of req (a pickup's INVITE with Replaces or a
	// pickup grant). Only the call's own goroutine reads and writes it:
	// req itself is never replaced, as in-dialog requests read it.
	forkReq *sip.Request
	tx      sip.ServerTransaction
	id      string
	caller  party
	resDest string // where responses to the caller go
	// fromTag and callerIP are the caller's side of the dialog: the
	// INVITE's From tag and the address it came from.
	fromTag  string
	callerIP string
	start    time.Time
	kind     string // metrics label: line, group, pickup, none

	// ctx ends when the caller cancels or the server shuts down.
	ctx      context.Context
	cancel   context.CancelFunc
	events   chan branchEvent // unbuffered: a send succeeds only while run reads
	loopDone chan struct{}    // closed when run stops reading events
	reports  chan func(context.Context)

	mu        sync.Mutex
	stages    int  // stages forked so far
	closedQ   bool // reports is closed
	branches  []*branch
	winner    *branch
	ringing   bool // an 18x went to the caller
	finished  bool // the dialog ended or the call failed
	cancelled bool // the caller sent CANCEL
	pickedUp  bool // another line picked the call up (Replaces)
	// rung are the lines whose phones rang (for their ended report), and
	// group is the call group of a group call (for member events).
	rung  map[string]bool
	group string
	xfer  transferInfo // who transferred the call, to whom (transfer.go)
	// forwardedBy is the line whose forwarding led to the number being
	// rung now: a number beyond the directory is dialled with its owner's
	// class of service (outbound.go).
	forwardedBy *dirpb.Line
}

// branchEvent is one response (or the end) of one branch.
type branchEvent struct {
	b   *branch
	res *sip.Response // nil when the transaction ended without one
}

func (ev branchEvent) provisional() bool { return ev.res != nil && ev.res.IsProvisional() }

func (s *Server) newCall(req *sip.Request, tx sip.ServerTransaction, caller party, resDest string) *call {
	c := &call{
		s: s, req: req, tx: tx, id: req.CallID().Value(), caller: caller, resDest: resDest,
		start: time.Now(), kind: "none", events: make(chan branchEvent), loopDone: make(chan struct{}),
		reports: make(chan func(context.Context), 64), rung: map[string]bool{},
		callerIP: sourceIP(req),
	}
	c.fromTag, _ = req.From().Params.Get("tag")
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	if !s.calls.add(c) {
		c.cancel()
		return nil
	}
	tx.OnCancel(func(*sip.Request) {
		c.mu.Lock()
		c.cancelled = true
		c.mu.Unlock()
		c.cancel()
	})
	s.m.activeCalls.Inc()
	s.goTracked(c.drainReports)
	return c
}

// run rings the dialled number, following forwarding and fallbacks, and
// answers the caller. It returns when the INVITE transaction is done.
func (c *call) run() {
	defer close(c.loopDone)
	number := c.req.Recipient.User
	if !c.s.ourURI(c.req.Recipient) && !c.s.servesHost(c.req.Recipient.Host) {
		c.fail(sip.StatusForbidden, "Relaying Denied", nil)
		return
	}
	if fc, ok := parseFeatureCode(number); ok {
		c.kind = "feature_code"
		c.runFeatureCode(fc)
		return
	}
	c.noteReferred()
	c.outgoing(linestate.PhaseRinging)
	if target, ok := pickupTarget(number, c.req); ok && c.s.isPickup(c.req, target) {
		c.kind = "pickup"
		c.finish(c.s.pickup(c, target))
		return
	}
	if c.req.GetHeader("Replaces") != nil {
		if o, ok := c.replacing(number); ok {
			c.finish(o)
			return
		}
	}
	for hop := 0; ; hop++ {
		if hop == maxRedirects {
			c.finish(outcome{status: sip.StatusLoopDetected, reason: "Forwarding Loop"})
			return
		}
		o := c.ringNumber(number)
		if o.redirect == "" {
			c.finish(o)
			return
		}
		number = o.redirect
	}
}

// outcome is how ringing one number ended.
type outcome struct {
	answered  bool
	cancelled bool
	redirect  string        // ring this number next
	res       *sip.Response // a branch's final response to forward
	status    int           // else answer with this
	reason    string
	// retryAfter, in seconds, goes with status in a Retry-After.
	retryAfter int
}

func (c *call) ringNumber(number string) outcome {
	kind, line, group, err := c.s.lookup(number)
	switch {
	case err != nil:
		c.s.log.Warn("sip: lookup", "err", err)
		return outcome{status: sip.StatusInternalServerError, reason: "Directory Unavailable"}
	case kind == destLine:
		if c.kind == "none" {
			c.kind = "line"
		}
		o := c.ringLine(line)
		if o.redirect != "" {
			c.forwardedBy = line
		}
		return o
	case kind == destGroup:
		if c.kind == "none" {
			c.kind = "group"
		}
		o := c.ringGroup(group)
		if o.redirect != "" {
			c.forwardedBy = nil // a fallback out is dialled with the caller's class
		}
		return o
	}
	return c.ringElsewhere(number)
}

// ringLine rings every contact of line, applying its forwarding:
// unconditional at once, on busy when every phone said busy or the owner
// is DND (else DND answers 486), on no answer after its timeout. A line whose owner is disabled is answered
// 480 at once, as if no phone were registered, and its forwarding is not
// followed (docs/sip.md, "Disabled users").
func (c *call) ringLine(line *dirpb.Line) outcome {
	if !c.s.inService(line) {
		return outcome{status: sip.StatusTemporarilyUnavailable, reason: "Temporarily Unavailable"}
	}
	fw := line.GetForwarding()
	if fw.GetEnabled() && fw.GetDestination() != "" {
		return outcome{redirect: fw.GetDestination()}
	}
	dnd := make(chan bool, 1) // asked alongside the contacts: one round trip, not two
	go func() { dnd <- c.ownerDND(line.GetOwner()) }()
	contacts := c.contacts(line.GetNumber())
	if <-dnd { // docs/sip.md, "Do not disturb"
		if fw.GetOnBusy() != "" {
			return outcome{redirect: fw.GetOnBusy()}
		}
		return outcome{status: sip.StatusBusyHere, reason: "Busy Here"}
	}
	if len(contacts) == 0 {
		if fw.GetOnNoAnswer() != "" {
			return outcome{redirect: fw.GetOnNoAnswer()}
		}
		return outcome{status: sip.StatusTemporarilyUnavailable, reason: "Temporarily Unavailable"}
	}
	timeout := c.s.cfg.RingTimeout
	if fw.GetOnNoAnswer() != "" {
		timeout = c.s.cfg.NoAnswerTimeout
		if n := fw.GetNoAnswerTimeoutS(); n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	st := c.ringStage([]ringTarget{{line: line.GetNumber(), contacts: contacts}}, timeout)
	switch {
	case st.answered, st.cancelled:
		return outcome{answered: st.answered, cancelled: st.cancelled}
	case st.timedOut && fw.GetOnNoAnswer() != "":
		return outcome{redirect: fw.GetOnNoAnswer()}
	case st.timedOut:
		return outcome{status: sip.StatusTemporarilyUnavailable, reason: "No Answer"}
	case isBusy(st.best) && fw.GetOnBusy() != "":
		return outcome{redirect: fw.GetOnBusy()}
	}
	return outcome{res: st.best, status: sip.StatusTemporarilyUnavailable, reason: "Temporarily Unavailable"}
}

// ownerDND reports whether line's owner set their presence to DND (their
// own view of it). When the grain does not answer, the line rings: a
// missed DND costs a ring, a wrong one a lost call. The state is neither
// logged nor counted.
func (c *call) ownerDND(owner string) bool {
	ctx, cancel := c.s.backendCtx()
	defer cancel()
	v, visible, err := c.s.cfg.Backend.Presence(ctx, owner, owner, 0)
	return err == nil && visible && v.State == presence.DND
}

func isBusy(res *sip.Response) bool {
	return res != nil && (res.StatusCode == sip.StatusBusyHere || res.StatusCode == sip.StatusGlobalBusyEverywhere)
}

// ringGroup runs the group's ring plan (ringStages), then the fallback.
func (c *call) ringGroup(g *dirpb.Group) outcome {
	ctx, cancel := c.s.backendCtx()
	plan, err := c.s.cfg.Backend.RingPlan(ctx, g.GetId())
	cancel()
	if errors.Is(err, actors.ErrNotFound) {
		return outcome{status: sip.StatusNotFound, reason: "Not Found"}
	}
	if err != nil {
		c.s.log.Warn("sip: ring plan", "group", g.GetId(), "err", err)
		return outcome{status: sip.StatusServiceUnavailable, reason: "Group Unavailable"}
	}
	c.group = g.GetId()
	// The plan counts its delays from when the grain made it: a slow
	// answer (a grain activating) must not eat into the ringing.
	if st := c.ringStages(plan, time.Now()); st.answered || st.cancelled {
		return outcome{answered: st.answered, cancelled: st.cancelled}
	}
	if plan.Fallback.Target != "" {
		return outcome{redirect: plan.Fallback.Target}
	}
	status := plan.Fallback.Status
	if status == 0 {
		status = hunt.StatusTemporarilyUnavailable
	}
	return outcome{status: status, reason: reasonFor(status)}
}

// stageRun is one stage of a group call's plan while it is carried out.
// Instants are durations since the call reached the group.
type stageRun struct {
	hunt.Stage
	fork     int       // the fork's stage number (branch.stage); 0 before it started, -1 when it forked nothing
	branches []*branch // its branches; open counts those without a final response
	open     int
	until    time.Duration // when it stops ringing
	done     bool          // it ended: timed out, or every branch answered finally
}

// ringStages rings the plan's stages as they come due, overlapping in
// time: a stage starts at its Delay after reached (when the plan came),
// earlier stages keep ringing until their own end, and the
// plan's last end bounds the whole. When nothing rings any more (every
// member rung so far refused, or was not reachable) the next stage starts
// at once, but never before its NotBefore (the members' ring delay):
// stages always start in plan order. It returns when a branch answers,
// the caller cancels, or every stage has ended.
func (c *call) ringStages(plan actors.RingPlan, reached time.Time) stageResult {
	runs := make([]*stageRun, len(plan.Stages))
	for i, s := range plan.Stages {
		runs[i] = &stageRun{Stage: s}
	}
	next := 0 // the first stage not started
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Since(reached)
		endDueStages(c, runs, now)
		for next < len(runs) && now >= startAt(runs, next, now) {
			c.startStage(plan, runs[next], now, plan.Duration())
			next++
			now = time.Since(reached)
		}
		wake, ringing := nextWake(runs, next, now)
		if !ringing && next == len(runs) {
			return stageResult{}
		}
		timer.Reset(max(wake-time.Since(reached), 0))
		select {
		case ev := <-c.events:
			if c.onEvent(ev) {
				return stageResult{answered: true}
			}
			if r := runOf(runs, ev.b.stage); r != nil && !ev.provisional() {
				r.open--
			}
		case <-timer.C:
		case <-c.ctx.Done():
			for _, r := range runs {
				if r.fork != 0 && !r.done {
					c.cancelBranches(r.branches, nil, "")
					c.endStage(r.branches)
				}
			}
			return stageResult{cancelled: true}
		}
		timer.Stop()
	}
}

// startAt is when stage i (the first not started) is due: at its Delay,
// or as soon as nothing rings any more but not before its NotBefore.
func startAt(runs []*stageRun, i int, now time.Duration) time.Duration {
	if anyRinging(runs) {
		return runs[i].Delay
	}
	return min(max(now, runs[i].NotBefore), runs[i].Delay)
}

// startStage forks the stage to its members' contacts; a stage with none
// (nobody reachable any more) ends at once. It rings for its Timeout, and
// never beyond end (the plan's last end).
func (c *call) startStage(plan actors.RingPlan, r *stageRun, now, end time.Duration) {
	r.until = min(now+r.Timeout, end)
	if targets := c.memberTargets(plan, r.Members); len(targets) > 0 {
		r.branches = c.fork(targets)
	}
	r.open = len(r.branches)
	r.fork, r.done = -1, true
	if len(r.branches) > 0 {
		r.fork, r.done = r.branches[0].stage, false
	}
}

// endDueStages ends the stages that timed out (their branches cancelled)
// and those whose every branch has answered finally.
func endDueStages(c *call, runs []*stageRun, now time.Duration) {
	for _, r := range runs {
		if r.fork == 0 || r.done {
			continue
		}
		switch {
		case r.open <= 0:
			r.done = true
			c.endStage(r.branches)
		case now >= r.until:
			r.done = true
			c.cancelBranches(r.branches, nil, "")
			c.endStage(r.branches)
		}
	}
}

// anyRinging reports whether a started stage still rings.
func anyRinging(runs []*stageRun) bool {
	return slices.ContainsFunc(runs, func(r *stageRun) bool { return r.fork != 0 && !r.done })
}

// nextWake is the next instant something is due (a stage's end, or the
// next stage's start), and whether a stage still rings.
func nextWake(runs []*stageRun, next int, now time.Duration) (time.Duration, bool) {
	wake := now + time.Hour
	ringing := false
	for _, r := range runs {
		if r.fork != 0 && !r.done {
			ringing = true
			wake = min(wake, r.until)
		}
	}
	if next < len(runs) {
		wake = min(wake, startAt(runs, next, now))
	}
	return wake, ringing
}

// runOf is the stage whose fork number is fork (nil: a branch of no stage
// of this plan, e.g. one cancelled before the call was forwarded here).
func runOf(runs []*stageRun, fork int) *stageRun {
	if fork <= 0 {
		return nil
	}
	for _, r := range runs {
		if r.fork == fork {
			return r
		}
	}
	return nil
}

func reasonFor(status int) string {
	if status == sip.StatusTemporarilyUnavailable {
		return "Temporarily Unavailable"
	}
	return "Unavailable"
}

// ringTarget is one line to ring: its contacts, and the group member it
// belongs to in a group call.
type ringTarget struct {
	line     string
	member   string
	contacts []*dirpb.Registration
}

// memberTargets are the lines and contacts members ring on: the plan's
// targets, or when the Backend gave none, each member's ring line (their
// primary line unless they are disabled) and its contacts looked up now.
func (c *call) memberTargets(plan actors.RingPlan, members []string) []ringTarget {
	var out []ringTarget
	for _, m := range members {
		var t actors.RingTarget
		if plan.Targets != nil {
			t = plan.Targets[m]
			t.Contacts = dirpb.LiveOnly(t.Contacts, time.Now())
		} else if t.Line = c.s.ringLine(m); t.Line != "" {
			t.Contacts = c.contacts(t.Line)
		}
		if t.Line != "" && len(t.Contacts) > 0 {
			out = append(out, ringTarget{line: t.Line, member: m, contacts: t.Contacts})
		}
	}
	return out
}

// contacts returns line's unexpired bindings (none on a Backend error).
func (c *call) contacts(line string) []*dirpb.Registration {
	ctx, cancel := c.s.backendCtx()
	defer cancel()
	regs, err := c.s.cfg.Backend.Contacts(ctx, line)
	if err != nil {
		c.s.log.Warn("sip: contacts", "line", line, "err", err)
		return nil
	}
	return dirpb.LiveOnly(regs, time.Now())
}

// stageResult is how one stage of ringing ended.
type stageResult struct {
	answered, cancelled, timedOut bool
	best                          *sip.Response // best final response of the stage's branches
}

// ringStage forks to every contact of targets and waits until a branch
// answers, all fail, timeout passes or the caller cancels. Branches still
// ringing when it returns unanswered are cancelled.
func (c *call) ringStage(targets []ringTarget, timeout time.Duration) stageResult {
	stage := c.fork(targets)
	if len(stage) == 0 {
		return stageResult{}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var r stageResult
	open := len(stage)
	for open > 0 {
		select {
		case ev := <-c.events:
			if c.onEvent(ev) {
				return stageResult{answered: true}
			}
			if ev.b.stage == stage[0].stage && !ev.provisional() {
				open--
				r.best = betterFinal(r.best, ev.res)
			}
		case <-timer.C:
			r.timedOut = true
			c.cancelBranches(stage, nil, "")
			c.endStage(stage)
			return r
		case <-c.ctx.Done():
			c.cancelBranches(stage, nil, "")
			c.endStage(stage)
			return stageResult{cancelled: true}
		}
	}
	c.endStage(stage)
	return r
}

// onEvent handles one branch event; it returns true when the call was
// answered by it.
func (c *call) onEvent(ev branchEvent) bool {
	res := ev.res
	switch {
	case res == nil:
		return false
	case res.IsProvisional():
		c.provisional(ev.b, res)
		return false
	case res.IsSuccess():
		return c.answer(ev.b, res)
	}
	return false
}

// provisional forwards 18x responses to the caller.
func (c *call) provisional(b *branch, res *sip.Response) {
	if res.StatusCode == sip.StatusTrying {
		return
	}
	c.mu.Lock()
	first := !c.ringing
	c.ringing = true
	done := c.winner != nil || c.cancelled
	c.mu.Unlock()
	if done {
		return
	}
	if first {
		c.s.m.ringLatency.Observe(time.Since(c.start).Seconds())
	}
	c.forward(res)
}

// answer makes b the winner when nobody answered yet: its 2xx goes to
// the caller and every other branch is cancelled as completed elsewhere.
// A later 2xx (a race with the cancel) is acknowledged and hung up.
func (c *call) answer(b *branch, res *sip.Response) bool {
	c.mu.Lock()
	won := c.winner == nil && !c.cancelled
	if won {
		c.winner = b
	}
	others := append([]*branch(nil), c.branches...)
	c.mu.Unlock()
	if !won {
		c.s.goTracked(func() { c.s.hangUpLate(b, res) })
		return false
	}
	b.noteTag(res) // the dialog's To tag and the callee side's address
	c.forward(res)
	c.cancelBranches(others, b, `SIP;cause=200;text="Call completed elsewhere"`)
	c.s.calls.answered(c, b, res)
	for _, o := range others {
		if o.line != b.line && c.isRung(o.line) {
			c.note(o.line, actors.CallEvent{Phase: linestate.PhaseEnded, Remote: c.caller.number, Outcome: "answered_elsewhere"})
		}
	}
	c.note(b.line, actors.CallEvent{Phase: linestate.PhaseAnswered, Remote: c.caller.number})
	if c.group != "" && b.member != "" {
		c.groupEvent(hunt.Event{Kind: hunt.Answered, User: b.member})
	}
	c.outgoing(linestate.PhaseAnswered)
	return true
}

// endStage reports the end of ringing for the stage's lines that did not
// answer.
func (c *call) endStage(stage []*branch) {
	for _, b := range stage {
		if c.isRung(b.line) {
			c.note(b.line, actors.CallEvent{Phase: linestate.PhaseEnded, Remote: c.caller.number})
		}
	}
}

// connected reports whether a branch answered the call.
func (c *call) connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.winner != nil
}

func (c *call) isRung(line string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rung[line]
}

// betterFinal picks the final response to give the caller when nobody
// answers (RFC 3261 §16.7 step 6, simplified): 6xx over busy over the
// lowest class.
func betterFinal(cur, res *sip.Response) *sip.Response {
	if res == nil {
		return cur
	}
	if res.StatusCode == sip.StatusRequestTerminated {
		return cur
	}
	switch {
	case cur == nil:
		return res
	case res.StatusCode >= 600 && cur.StatusCode < 600:
		return res
	case cur.StatusCode >= 600:
		return cur
	case isBusy(res) && !isBusy(cur):
		return res
	case isBusy(cur):
		return cur
	case res.StatusCode/100 < cur.StatusCode/100:
		return res
	}
	return cur
}

// finish sends the caller the final answer of an unanswered call and
// ends it; an answered call stays until its BYE.
func (c *call) finish(o outcome) {
	switch {
	case o.answered:
		c.s.m.calls.WithLabelValues(c.kind, "answered").Inc()
		return
	case o.cancelled:
		c.s.m.calls.WithLabelValues(c.kind, "cancelled").Inc()
	case c.wasPickedUp():
		c.s.m.calls.WithLabelValues(c.kind, "picked_up").Inc()
		c.fail(sip.StatusRequestTerminated, "Call Picked Up", nil)
	case o.res != nil:
		c.s.m.calls.WithLabelValues(c.kind, "unanswered").Inc()
		c.forward(o.res)
	default:
		c.s.m.calls.WithLabelValues(c.kind, "rejected").Inc()
		c.fail(o.status, o.reason, o.headers())
		c.end()
		return
	}
	c.end()
}

func (c *call) wasPickedUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pickedUp
}

// fail answers the caller with an error status (unless it cancelled or
// a shutdown cancelled the call).
func (c *call) fail(code int, reason string, extra []sip.Header) {
	c.mu.Lock()
	cancelled := c.cancelled
	c.mu.Unlock()
	if cancelled {
		return
	}
	if c.s.closing.Load() && c.ctx.Err() != nil {
		code, reason = sip.StatusServiceUnavailable, "Shutting Down"
	}
	res := sip.NewResponseFromRequest(c.req, code, reason, nil)
	for _, h := range extra {
		res.AppendHeader(h)
	}
	c.s.send(c.tx, res)
}

// forward relays a branch's response to the caller without our Via, with
// the caller's own From (a trunk's branch shows the upstream another one:
// trunkRequest).
func (c *call) forward(res *sip.Response) {
	out := res.Clone()
	out.RemoveHeader("Via")
	if from, own := out.From(), c.req.From(); from != nil && own != nil {
		presentAs(&from.DisplayName, &from.Address, own.DisplayName, own.Address)
	}
	out.SetDestination(c.resDest)
	out.SetTransport(c.req.Transport())
	c.s.send(c.tx, out)
}

// end ends the call: the lines still marked ringing or answered are
// told, the group learns the end of its member's call, the call leaves
// the table.
func (c *call) end() {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished = true
	lines := make([]string, 0, len(c.rung))
	for l := range c.rung {
		lines = append(lines, l)
	}
	winner, x := c.winner, c.xfer
	c.mu.Unlock()
	for _, l := range lines {
		ev := actors.CallEvent{CallID: c.id, Phase: linestate.PhaseEnded, Remote: c.caller.number, At: time.Now(), Group: c.group,
			TransferredBy: x.by, TransferredTo: x.to}
		c.queue(func(ctx context.Context) error { return c.s.cfg.Backend.LineCall(ctx, l, ev) })
	}
	if winner != nil && c.group != "" && winner.member != "" {
		c.groupEvent(hunt.Event{Kind: hunt.Ended, User: winner.member})
	}
	c.outgoing(linestate.PhaseEnded)
	c.s.calls.remove(c)
	c.cancel()
	c.mu.Lock()
	c.closedQ = true
	close(c.reports)
	c.mu.Unlock()
	c.s.m.activeCalls.Dec()
}

// note queues a line call report (in order, per call).
func (c *call) note(line string, ev actors.CallEvent) {
	if line == "" {
		return
	}
	ev.CallID, ev.At, ev.Group, ev.Node = c.id, time.Now(), c.group, c.s.nodeURI()
	c.mu.Lock()
	ev.TransferredBy, ev.TransferredTo = c.xfer.by, c.xfer.to
	if ev.Phase == linestate.PhaseEnded {
		delete(c.rung, line)
	} else {
		c.rung[line] = true
	}
	c.mu.Unlock()
	c.queue(func(ctx context.Context) error { return c.s.cfg.Backend.LineCall(ctx, line, ev) })
}

// outgoing reports the caller's own line (an outgoing call).
func (c *call) outgoing(phase linestate.Phase) {
	if c.caller.line == nil {
		return
	}
	x := c.transfer()
	ev := actors.CallEvent{CallID: c.id, Phase: phase, Outgoing: true, Remote: c.req.Recipient.User, At: time.Now(),
		TransferredBy: x.by, TransferredTo: x.to}
	if phase == linestate.PhaseEnded {
		c.mu.Lock()
		if c.winner == nil && c.cancelled {
			ev.Outcome = "cancelled"
		}
		c.mu.Unlock()
	}
	line := c.caller.line.GetNumber()
	c.queue(func(ctx context.Context) error { return c.s.cfg.Backend.LineCall(ctx, line, ev) })
}

func (c *call) groupEvent(evs ...hunt.Event) {
	group := c.group
	c.queue(func(ctx context.Context) error { return c.s.cfg.Backend.GroupEvent(ctx, group, evs...) })
}

// queue hands a report to the call's reporter; a full queue drops it
// (logged): a slow backend must not stall the call.
func (c *call) queue(f func(context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closedQ {
		return // the call ended: nothing more to say
	}
	select {
	case c.reports <- func(ctx context.Context) {
		if err := f(ctx); err != nil {
			c.s.log.Debug("sip: report", "call", c.id, "err", err)
		}
	}:
	default:
		c.s.log.Warn("sip: report queue full, report dropped", "call", c.id)
	}
}

func (c *call) drainReports() {
	for f := range c.reports {
		ctx, cancel := c.s.backendCtx()
		f(ctx)
		cancel()
	}
}

func (c *call) String() string { return fmt.Sprintf("call %s", strings.TrimSpace(c.id)) }

func huntOffered(user string) hunt.Event { return hunt.Event{Kind: hunt.Offered, User: user} }
