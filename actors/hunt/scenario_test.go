package hunt

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/ucgrid/ucgrid/actors/officehours"
)

// Scenario files under testdata/scenarios drive a group through calls in
// the format of github.com/cockroachdb/datadriven: a command line, its
// input lines, "----" and the expected output ('#' starts a comment):
//
//	group ID [strategy=S] [ring_timeout=D] [member_timeout=D] [skip_busy] [no_answer=T] [closed=T]
//	  (input: member lines)
//	member USER [logged_out] [busy] [dnd] [unreachable] [delay=D]
//	                                                      (adds, or replaces in place)
//	remove USER
//	hours                                                 (input: the office hours as JSON)
//	override open|closed|auto [until=TIME]
//	plan at TIME                                          prints the plan
//	offered|answered|ended USER at TIME                   feeds Step
//	call at TIME [answer=USER|first|none] [after=D] [talk=D]
//	                                                      plans, offers stage by stage, prints who answered
//	calls N from TIME every D [answer=first|none]         runs N calls, prints answers per member
//	state                                                 prints the hunt state
//
// TIME is RFC 3339, D a Go duration. Run with -rewrite to regenerate the
// expected output after a deliberate change.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, filepath.Join("testdata", "scenarios"), func(t *testing.T, path string) {
		sc := newScenario()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return sc.directive(t, d)
		})
	})
}

// directive runs one command of a scenario file and returns its output.
func (sc *scenario) directive(t *testing.T, d *datadriven.TestData) string {
	t.Helper()
	words := []string{d.Cmd}
	for _, a := range d.CmdArgs {
		words = append(words, a.String())
	}
	var out []string
	switch d.Cmd {
	case "hours":
		s, err := officehours.Parse([]byte(d.Input))
		if err != nil {
			t.Fatalf("%s: %v", d.Pos, err)
		}
		sc.hours = s
	default:
		out = sc.run(t, d.Pos, words)
		for _, l := range strings.Split(d.Input, "\n") {
			if w := strings.Fields(l); len(w) > 0 && d.Cmd == "group" {
				sc.run(t, d.Pos, w)
			} else if len(w) > 0 {
				t.Fatalf("%s: %s takes no input", d.Pos, d.Cmd)
			}
		}
	}
	return strings.Join(out, "\n")
}

type scenario struct {
	group    Group
	state    State
	hours    officehours.Schedule
	override officehours.Override
}

func newScenario() *scenario { return &scenario{} }

func (sc *scenario) run(t *testing.T, loc string, w []string) []string {
	t.Helper()
	switch w[0] {
	case "group":
		sc.setGroup(t, loc, w[1:])
	case "member":
		sc.setMember(t, loc, w[1:])
	case "remove":
		sc.group.Members = slices.DeleteFunc(sc.group.Members, func(m Member) bool { return m.User == w[1] })
	case "override":
		sc.setOverride(t, loc, w[1:])
	case "plan":
		return sc.describe(sc.plan(t, loc, argTime(t, loc, w, "at")))
	case "offered", "answered", "ended":
		kind := map[string]EventKind{"offered": Offered, "answered": Answered, "ended": Ended}[w[0]]
		sc.state = Step(sc.state, Event{Kind: kind, User: w[1]}, argTime(t, loc, w, "at"))
	case "call":
		return sc.call(t, loc, w[1:])
	case "calls":
		return sc.calls(t, loc, w[1:])
	case "state":
		return sc.describeState()
	default:
		t.Fatalf("%s: unknown command %q", loc, w[0])
	}
	return nil
}

func (sc *scenario) setGroup(t *testing.T, loc string, w []string) {
	t.Helper()
	g := Group{ID: w[0], Members: sc.group.Members}
	for _, a := range w[1:] {
		k, v, _ := strings.Cut(a, "=")
		var err error
		switch k {
		case "strategy":
			g.Strategy, err = ParseStrategy(v)
		case "ring_timeout":
			g.RingTimeout, err = time.ParseDuration(v)
		case "member_timeout":
			g.MemberTimeout, err = time.ParseDuration(v)
		case "skip_busy":
			g.SkipBusy = true
		case "no_answer":
			g.NoAnswerTarget = v
		case "closed":
			g.ClosedTarget = v
		default:
			err = fmt.Errorf("unknown group option %q", a)
		}
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
	}
	sc.group = g
}

func (sc *scenario) setMember(t *testing.T, loc string, w []string) {
	t.Helper()
	m := Member{User: w[0], LoggedIn: true, Reachable: true}
	for _, a := range w[1:] {
		if v, ok := strings.CutPrefix(a, "delay="); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s: %v", loc, err)
			}
			m.RingDelay = d
			continue
		}
		switch a {
		case "logged_in", "reachable":
		case "logged_out":
			m.LoggedIn = false
		case "busy":
			m.Busy = true
		case "dnd":
			m.DND = true
		case "unreachable":
			m.Reachable = false
		default:
			t.Fatalf("%s: unknown member flag %q", loc, a)
		}
	}
	if i := slices.IndexFunc(sc.group.Members, func(x Member) bool { return x.User == m.User }); i >= 0 {
		sc.group.Members[i] = m
		return
	}
	sc.group.Members = append(sc.group.Members, m)
}

func (sc *scenario) setOverride(t *testing.T, loc string, w []string) {
	t.Helper()
	mode, err := officehours.ParseMode(w[0])
	if err != nil {
		t.Fatalf("%s: %v", loc, err)
	}
	sc.override = officehours.Override{Mode: mode}
	if len(w) > 1 {
		sc.override.Until = parseTime(t, loc, strings.TrimPrefix(w[1], "until="))
	}
}

func (sc *scenario) plan(t *testing.T, loc string, at time.Time) Plan {
	t.Helper()
	if err := sc.group.Validate(); err != nil {
		t.Fatalf("%s: %v", loc, err)
	}
	hours := officehours.Verdict(sc.hours, sc.override, at)
	p := RingPlan(sc.group, sc.state, hours, at)
	checkPlan(t, loc, sc.group, p)
	return p
}

// describe prints a plan, one fact a line.
func (sc *scenario) describe(p Plan) []string {
	hours := officehours.Verdict(sc.hours, sc.override, p.Start)
	out := []string{"hours " + hours.String()}
	if p.Closed {
		return append(out, "closed: "+p.Fallback.String())
	}
	for _, s := range p.Stages {
		held := ""
		if s.NotBefore > 0 {
			held = fmt.Sprintf(" (not before %s)", s.NotBefore)
		}
		out = append(out, fmt.Sprintf("ring at %s for %s%s: %s", s.Delay, s.Timeout, held, strings.Join(s.Members, ", ")))
	}
	if len(p.Stages) == 0 {
		out = append(out, "nobody to ring: "+p.Fallback.String())
	} else {
		out = append(out, "no answer: "+p.Fallback.String())
	}
	if len(p.Skipped) > 0 {
		var s []string
		for _, k := range p.Skipped {
			s = append(s, k.User+" "+k.Reason.String())
		}
		out = append(out, "skipped: "+strings.Join(s, ", "))
	}
	return out
}

func (sc *scenario) describeState() []string {
	last := sc.state.RoundRobinLast
	if last == "" {
		last = "-"
	}
	out := []string{"round_robin_last " + last}
	users := make([]string, 0, len(sc.state.LastCall))
	for u := range sc.state.LastCall {
		users = append(users, u)
	}
	slices.Sort(users)
	for _, u := range users {
		out = append(out, fmt.Sprintf("last_call %s %s", u, sc.state.LastCall[u].UTC().Format(time.RFC3339)))
	}
	return out
}

// callOpts are the options of the call and calls commands.
type callOpts struct {
	answer      string // a user, "first" or "none"
	after, talk time.Duration
}

func parseCallOpts(t *testing.T, loc string, w []string) callOpts {
	t.Helper()
	o := callOpts{answer: "first", after: 5 * time.Second, talk: time.Minute}
	for _, a := range w {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			continue // a positional word: at TIME, from TIME, every D
		}
		var err error
		switch k {
		case "answer":
			o.answer = v
		case "after":
			o.after, err = time.ParseDuration(v)
		case "talk":
			o.talk, err = time.ParseDuration(v)
		default:
			err = fmt.Errorf("unknown call option %q", a)
		}
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
	}
	return o
}

// call runs one call: plan, offer stage by stage until the answering member
// is reached, answer, end. It prints the plan and the outcome.
func (sc *scenario) call(t *testing.T, loc string, w []string) []string {
	t.Helper()
	at := argTime(t, loc, append([]string{"call"}, w...), "at")
	p := sc.plan(t, loc, at)
	who := sc.carryOut(p, parseCallOpts(t, loc, w))
	if who == "" {
		return append(sc.describe(p), "outcome: "+outcome(p))
	}
	return append(sc.describe(p), "outcome: answered by "+who)
}

func outcome(p Plan) string {
	if p.Closed {
		return "closed, " + p.Fallback.String()
	}
	return "unanswered, " + p.Fallback.String()
}

// carryOut feeds the events of one call to Step and returns who answered.
func (sc *scenario) carryOut(p Plan, o callOpts) string {
	for _, s := range p.Stages {
		start := p.Start.Add(s.Delay)
		for _, u := range s.Members {
			sc.state = Step(sc.state, Event{Kind: Offered, User: u}, start)
		}
		who := o.answer
		if who == "first" {
			who = s.Members[0]
		}
		if slices.Contains(s.Members, who) && o.after < s.Timeout {
			sc.state = Step(sc.state, Event{Kind: Answered, User: who}, start.Add(o.after))
			sc.state = Step(sc.state, Event{Kind: Ended, User: who}, start.Add(o.after+o.talk))
			return who
		}
	}
	return ""
}

// calls runs N calls and prints how many each member answered.
func (sc *scenario) calls(t *testing.T, loc string, w []string) []string {
	t.Helper()
	n, err := strconv.Atoi(w[0])
	if err != nil {
		t.Fatalf("%s: calls N: %v", loc, err)
	}
	from := argTime(t, loc, append([]string{"calls"}, w...), "from")
	every, err := time.ParseDuration(argWord(t, loc, append([]string{"calls"}, w...), "every"))
	if err != nil {
		t.Fatalf("%s: every: %v", loc, err)
	}
	o := parseCallOpts(t, loc, w[1:])
	tally := map[string]int{}
	for i := range n {
		tally[sc.carryOut(sc.plan(t, loc, from.Add(time.Duration(i)*every)), o)]++
	}
	var out []string
	for _, m := range sc.group.Members {
		out = append(out, fmt.Sprintf("%s %d", m.User, tally[m.User]))
	}
	return []string{"answered: " + strings.Join(out, ", "), fmt.Sprintf("unanswered: %d", tally[""])}
}

func argWord(t *testing.T, loc string, w []string, key string) string {
	t.Helper()
	i := slices.Index(w, key)
	if i < 0 || i+1 >= len(w) {
		t.Fatalf("%s: %s needs %q followed by a value", loc, w[0], key)
	}
	return w[i+1]
}

func argTime(t *testing.T, loc string, w []string, key string) time.Time {
	t.Helper()
	return parseTime(t, loc, argWord(t, loc, w, key))
}

func parseTime(t *testing.T, loc, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("%s: %v", loc, err)
	}
	return v
}
