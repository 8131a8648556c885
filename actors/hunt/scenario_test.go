package hunt

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/officehours"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of the scenario files")

// Scenario files under testdata/scenarios drive a group through calls, one
// command a line ('#' starts a comment). A command that prints is followed
// by "----" and the expected output, up to a blank line:
//
//	group ID [strategy=S] [ring_timeout=D] [member_timeout=D] [skip_busy] [no_answer=T] [closed=T]
//	member USER [logged_out] [busy] [dnd] [unreachable]   (adds, or replaces in place)
//	remove USER
//	hours {JSON office hours}
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
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenarioFile(t, f) })
	}
}

// chunk is a run of lines of a scenario file: a comment or blank line kept
// as it is, or a command with its expected output.
type chunk struct {
	text  string   // a comment or blank line; "" for a command
	cmd   string   // the command line
	line  int      // line number of cmd
	want  []string // expected output
	block bool     // the file had a ---- block after cmd
}

func runScenarioFile(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	chunks := parseScenario(t, path, string(data))
	sc := newScenario()
	var out strings.Builder
	for i := range chunks {
		c := &chunks[i]
		if c.cmd == "" {
			out.WriteString(c.text + "\n")
			continue
		}
		loc := fmt.Sprintf("%s:%d", filepath.Base(path), c.line)
		got := sc.run(t, loc, strings.Fields(stripComment(c.cmd)), c.cmd)
		writeCommand(&out, c, got, i+1 < len(chunks) && chunks[i+1].cmd == "" && chunks[i+1].text == "")
		if !*rewrite && !slices.Equal(got, c.want) {
			t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", loc, c.cmd, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeCommand(out *strings.Builder, c *chunk, got []string, blankFollows bool) {
	out.WriteString(c.cmd + "\n")
	if len(got) == 0 {
		return
	}
	out.WriteString("----\n")
	for _, l := range got {
		out.WriteString(l + "\n")
	}
	if !blankFollows {
		out.WriteString("\n")
	}
}

func stripComment(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "hours ") {
		return s // JSON may hold '#'
	}
	before, _, _ := strings.Cut(s, "#")
	return before
}

func parseScenario(t *testing.T, path, data string) []chunk {
	t.Helper()
	lines := strings.Split(strings.TrimRight(data, "\n"), "\n")
	var chunks []chunk
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(stripComment(l)) == "" {
			chunks = append(chunks, chunk{text: l})
			continue
		}
		c := chunk{cmd: l, line: i + 1}
		if i+1 < len(lines) && lines[i+1] == "----" {
			c.block = true
			for i += 2; i < len(lines) && lines[i] != ""; i++ {
				c.want = append(c.want, lines[i])
			}
			i-- // the blank line, if any, is a chunk of its own
		}
		chunks = append(chunks, c)
	}
	return chunks
}

type scenario struct {
	group    Group
	state    State
	hours    officehours.Schedule
	override officehours.Override
}

func newScenario() *scenario { return &scenario{} }

func (sc *scenario) run(t *testing.T, loc string, w []string, raw string) []string {
	t.Helper()
	switch w[0] {
	case "group":
		sc.setGroup(t, loc, w[1:])
	case "member":
		sc.setMember(t, loc, w[1:])
	case "remove":
		sc.group.Members = slices.DeleteFunc(sc.group.Members, func(m Member) bool { return m.User == w[1] })
	case "hours":
		s, err := officehours.Parse([]byte(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(raw), "hours"))))
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		sc.hours = s
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
		out = append(out, fmt.Sprintf("ring at %s for %s: %s", s.Delay, s.Timeout, strings.Join(s.Members, ", ")))
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
