package sip

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/officehours"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/internal/testlog"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

const testDomain = "test.ucgrid"

func TestMain(m *testing.M) {
	// Short transaction timers, so finished transactions (Timer D etc.)
	// end within the tests' leak checks.
	sip.SetTimers(50*time.Millisecond, 400*time.Millisecond, 500*time.Millisecond)
	sip.Timer_D = 500 * time.Millisecond
	os.Exit(m.Run())
}

// dirBackend is the tests' Backend: bindings through the real directory
// (Raft + Pebble in a temp dir), ring plans from the pure hunt package over
// the stored groups, rights from the pure rights engine over the stored
// grants, and a record of every report.
type dirBackend struct {
	node *persistence.Node

	mu        sync.Mutex
	closed    map[string]bool
	state     map[string]hunt.State
	lineCalls []lineCall
	groupEvs  []groupEv
	// noTargets makes ring plans carry no targets (a Backend that does
	// not know them): the SIP layer then asks Contacts per member.
	noTargets bool
	// dropTarget is left out of the plans' targets (still in the stages).
	dropTarget string
	// contactAsks counts Contacts calls.
	contactAsks int
	// dnd are the users whose presence is DND (featurecodes_test.go).
	dnd map[string]bool
}

type lineCall struct {
	line string
	ev   actors.CallEvent
}

type groupEv struct {
	group string
	ev    hunt.Event
}

func (b *dirBackend) store() *persistence.Store { return b.node.Store() }

func (b *dirBackend) Register(ctx context.Context, line string, u actors.RegisterUpdate) ([]*dirpb.Registration, error) {
	remove := u.Remove
	if u.RemoveAll {
		regs, err := b.store().Registrations(line)
		if err != nil {
			return nil, err
		}
		for _, r := range regs {
			remove = append(remove, r.Contact)
		}
	}
	for _, c := range remove {
		_, err := b.node.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_DeleteRegistration{DeleteRegistration: &dirpb.DeleteRegistration{Line: line, Contact: c}}})
		if err != nil && !errors.Is(err, persistence.ErrNotFound) {
			return nil, err
		}
	}
	for _, r := range u.Put {
		if _, err := b.node.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_PutRegistration{PutRegistration: &dirpb.PutRegistration{Registration: r}}}); err != nil {
			return nil, err
		}
	}
	return b.contactsOf(line)
}

func (b *dirBackend) Contacts(_ context.Context, line string) ([]*dirpb.Registration, error) {
	b.mu.Lock()
	b.contactAsks++
	b.mu.Unlock()
	return b.contactsOf(line)
}

func (b *dirBackend) contactAsksSoFar() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.contactAsks
}

// contactsOf reads line's unexpired bindings (dirpb.Live) from the
// directory.
func (b *dirBackend) contactsOf(line string) ([]*dirpb.Registration, error) {
	regs, err := b.store().Registrations(line)
	if err != nil {
		return nil, err
	}
	return dirpb.LiveOnly(regs, time.Now()), nil
}

func (b *dirBackend) RingPlan(ctx context.Context, group string) (actors.RingPlan, error) {
	g, err := b.store().Group(group)
	if errors.Is(err, persistence.ErrNotFound) {
		return actors.RingPlan{}, actors.ErrNotFound
	}
	if err != nil {
		return actors.RingPlan{}, err
	}
	cg := g.GetCallGroup()
	strategy, err := hunt.ParseStrategy(cg.GetStrategy())
	if err != nil {
		return actors.RingPlan{}, err
	}
	hg := hunt.Group{ID: g.Id, Strategy: strategy, RingTimeout: time.Duration(cg.GetRingTimeoutS()) * time.Second,
		MemberTimeout: time.Duration(cg.GetMemberTimeoutS()) * time.Second, SkipBusy: cg.GetSkipBusy(),
		NoAnswerTarget: cg.GetNoAnswerTarget(), ClosedTarget: cg.GetClosedTarget()}
	targets := map[string]actors.RingTarget{}
	for _, m := range g.Members {
		// The group grain's rule (persistence.Store.RingLine): the
		// primary line, none for a disabled member.
		if n, err := b.store().RingLine(m.User); err == nil && n != "" {
			if regs, _ := b.contactsOf(n); len(regs) > 0 {
				targets[m.User] = actors.RingTarget{Line: n, Contacts: regs}
			}
		}
		_, reachable := targets[m.User]
		hg.Members = append(hg.Members, hunt.Member{User: m.User, LoggedIn: !m.LoggedOut, Reachable: reachable,
			RingDelay: time.Duration(m.GetRingDelayS()) * time.Second})
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := actors.RingPlan{Plan: hunt.RingPlan(hg, b.state[group], officehours.Result{Open: !b.closed[group]}, time.Now()), Targets: targets}
	delete(p.Targets, b.dropTarget)
	if b.noTargets {
		p.Targets = nil
	}
	return p, nil
}

func (b *dirBackend) GroupEvent(_ context.Context, group string, evs ...hunt.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == nil {
		b.state = map[string]hunt.State{}
	}
	for _, ev := range evs {
		b.state[group] = hunt.Step(b.state[group], ev, time.Now())
		b.groupEvs = append(b.groupEvs, groupEv{group, ev})
	}
	return nil
}

func (b *dirBackend) LineCall(_ context.Context, line string, ev actors.CallEvent) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lineCalls = append(b.lineCalls, lineCall{line, ev})
	return nil
}

// LineCalls are line's calls as a line grain derives them from the
// reports of every server sharing this Backend (linestate.Apply).
func (b *dirBackend) LineCalls(_ context.Context, line string) ([]actors.LineCallInfo, error) {
	if _, err := b.store().Line(line); errors.Is(err, persistence.ErrNotFound) {
		return nil, actors.ErrNotFound
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var st linestate.Line
	for _, lc := range b.lineCalls {
		if lc.line != line {
			continue
		}
		dir := linestate.Incoming
		if lc.ev.Outgoing {
			dir = linestate.Outgoing
		}
		st = linestate.Apply(st, linestate.Step{ID: lc.ev.CallID, Phase: lc.ev.Phase, Direction: dir, Remote: lc.ev.Remote,
			At: lc.ev.At, Group: lc.ev.Group, Node: lc.ev.Node})
	}
	out := make([]actors.LineCallInfo, 0, len(st.Calls))
	for _, c := range st.Calls {
		out = append(out, actors.LineCallInfo{CallID: c.ID, Answered: c.Answered, Outgoing: c.Direction == linestate.Outgoing,
			Remote: c.Remote, Since: c.Since, Started: c.Started, Group: c.Group, Node: c.Node})
	}
	return out, nil
}

func (b *dirBackend) Rights(_ context.Context, viewer, target string) (rights.Set, error) {
	t, err := dirrights.LoadTarget(b.store(), target)
	if err != nil {
		return 0, err
	}
	return rights.Effective(t.Pair(viewer)), nil
}

// phases returns the phases reported for line, in order.
func (b *dirBackend) phases(line string) []linestate.Phase {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []linestate.Phase
	for _, lc := range b.lineCalls {
		if lc.line == line && !lc.ev.Outgoing {
			out = append(out, lc.ev.Phase)
		}
	}
	return out
}

func (b *dirBackend) groupKinds(group string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, e := range b.groupEvs {
		if e.group == group {
			out = append(out, e.ev.Kind.String()+":"+e.ev.User)
		}
	}
	return out
}

// env is one SIP server on a real directory.
type env struct {
	t   testing.TB
	be  *dirBackend
	srv *Server
	reg *prometheus.Registry
}

func newEnv(t testing.TB, tweak ...func(*Config)) *env {
	t.Helper()
	return newEnvWith(t, func(f func() error) error { return f() }, tweak...)
}

// newEnvWith is newEnv starting the server through run: netlab's Host.Do
// starts it inside a network namespace.
func newEnvWith(t testing.TB, run func(func() error) error, tweak ...func(*Config)) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := persistence.Open(ctx, persistence.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := node.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := node.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, be: &dirBackend{node: node, closed: map[string]bool{}}, reg: prometheus.NewRegistry()}
	cfg := Config{Addr: "127.0.0.1:0", Domain: testDomain, Store: node.Store(), Backend: e.be,
		Logger: testLogger(t), Registerer: e.reg}
	for _, f := range tweak {
		f(&cfg)
	}
	if err = run(func() (err error) { e.srv, err = Start(ctx, cfg); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := e.srv.Shutdown(sctx); err != nil {
			t.Error(err)
		}
	})
	return e
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SIP_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return testlog.New(t, slog.LevelDebug)
}

func (e *env) apply(cmds ...*dirpb.Command) {
	e.t.Helper()
	for _, c := range cmds {
		if _, err := e.be.node.Apply(context.Background(), c); err != nil {
			e.t.Fatalf("apply %v: %v", c, err)
		}
	}
}

// user creates a user with a primary line number and SIP password pw.
func (e *env) user(id, number, pw string) {
	e.t.Helper()
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: id, DisplayName: id}}}})
	e.line(id, number, "primary", pw)
}

// setDisabled disables or re-enables user id (a profile edit keeping the
// rest of the record).
func (e *env) setDisabled(id string, disabled bool) {
	e.t.Helper()
	u, err := e.be.store().User(id)
	if err != nil {
		e.t.Fatal(err)
	}
	u.Disabled = disabled
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: u}}})
}

func (e *env) line(owner, number, kind, pw string, fw ...*dirpb.Forwarding) {
	e.t.Helper()
	l := &dirpb.Line{Number: number, Owner: owner, Kind: kind, Realm: testDomain,
		Ha1Md5: hexHash(md5.New(), number+":"+testDomain+":"+pw), Ha1Sha256: hexSHA256(number + ":" + testDomain + ":" + pw)}
	if len(fw) > 0 {
		l.Forwarding = fw[0]
	}
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: l}}})
}

func (e *env) group(id, number, strategy string, members []string, cg func(*dirpb.CallGroup)) {
	e.t.Helper()
	g := &dirpb.Group{Id: id, Name: id, Active: true, CallGroup: &dirpb.CallGroup{Mode: "sip", Number: number, Strategy: strategy}}
	for _, m := range members {
		g.Members = append(g.Members, &dirpb.Member{User: m, Role: "user"})
	}
	if cg != nil {
		cg(g.CallGroup)
	}
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: g}}})
}

func hexHash(h interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}, s string) string {
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for an event
	}
}

// noLeaks checks that the server holds no call and goroutines fall back
// to the baseline.
func noLeaks(t testing.TB, e *env, baseline int) {
	t.Helper()
	eventually(t, 10*time.Second, "calls still held", func() bool { return e.srv.calls.len() == 0 })
	var n int
	eventually(t, 15*time.Second, "goroutines leaked", func() bool {
		n = runtime.NumGoroutine()
		return n <= baseline
	})
}
