package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ucgrid/ucgrid/bench"
)

const benchUsage = `usage: ucgrid bench SCENARIO [flags]

scenarios:
  rights     GET /v1/rights checks/s and latency; the rights engine per core
  presence   presence changes fanned out to SSE watchers: deliveries/s, change→watcher latency
  hunt       SIP calls from a trunk into ring_all call groups: calls/s, INVITE→180 and →200 latency,
             goodput and 503 refusals per second (INVITE→503 latency) past capacity
  register   SIP REGISTER/s with digest authentication
  failover   calls into groups while a node is killed: time until they succeed again
  rolling    calls into groups while every node in turn is stopped (SIGTERM) and
             started again: failed calls (want 0), stop and rejoin times
  scale      100k users, 10k groups, 1M grants into one node: write rate, RSS, cold start

presence --floor also runs a minimal Go SSE server (ucgrid bench sse-floor,
started by the scenario) with the same streams, event bytes and rate, and
reports ucgrid's CPU per delivery next to the floor's.

By default a scenario starts its own cluster (--nodes, in this process or
--procs as child processes) with a generated directory; --target URL[,URL]
loads a running cluster instead (with --admin-password, and --target-sip for
the SIP scenarios). hunt and register take --generator sipp: SIPp phones and
callers (Debian sip-tester) instead of Go ones, at --rate, and with
--target-sip alone against any SIP server (Kamailio say; --sip-lines,
--sip-group). ucgrid bench SCENARIO --help lists the flags.
`

// benchFlags are the flags every scenario shares.
type benchFlags struct {
	common  bench.Common
	target  string
	sip     string
	json    string
	plot    string
	scrape  string
	verbose bool
}

func (b *benchFlags) bind(fs *flag.FlagSet) {
	c := &b.common
	fs.IntVar(&c.Cluster.Nodes, "nodes", 1, "nodes of the embedded cluster (1 or 3)")
	fs.BoolVar(&c.Cluster.Procs, "procs", false, "run the embedded nodes as child processes (ucgrid serve) instead of in this process")
	fs.StringVar(&b.target, "target", "", "comma-separated base URLs of a running cluster's nodes (default: start an embedded cluster)")
	fs.StringVar(&b.sip, "target-sip", "", "comma-separated SIP addresses of the --target nodes, in the same order")
	fs.StringVar(&c.Cluster.AdminUser, "admin-user", "admin", "user that signs in to the cluster to write the directory")
	fs.StringVar(&c.Cluster.AdminPassword, "admin-password", "", "its password (required with --target) [$UCGRID_BENCH_ADMIN_PASSWORD]")
	fs.StringVar(&c.Cluster.DataDir, "data", "", "data directory of the embedded nodes (default: a temporary one, removed)")
	fs.StringVar(&c.Directory.Prefix, "prefix", "b", "prefix of every generated id")
	fs.IntVar(&c.Directory.Users, "users", 0, "generated users (default: per scenario)")
	fs.IntVar(&c.Directory.Groups, "groups", 0, "generated groups with call groups (default: per scenario)")
	fs.StringVar(&c.Directory.Strategy, "strategy", "ring_all", "the call groups' hunt strategy: ring_all, sequential, round_robin or longest_idle")
	fs.IntVar(&c.Directory.Members, "members", 3, "members per group")
	fs.DurationVar(&c.Load.Duration, "duration", 10*time.Second, "measured window")
	fs.Float64Var(&c.Load.Rate, "rate", 0, "open-loop rate, operations started per second (0: closed loop, the maximum)")
	fs.IntVar(&c.Load.Concurrency, "concurrency", 64, "closed-loop workers; open loop: operations in flight at most")
	fs.StringVar(&b.json, "json", "", "also write the result as JSON to this file")
	fs.StringVar(&b.plot, "plot", "", "also draw latency over time and its distribution to this SVG file")
	fs.StringVar(&b.scrape, "scrape", "", "write every node's /metrics, scraped after the window, to this file")
	fs.BoolVar(&b.verbose, "v", false, "log the embedded nodes' warnings to stderr")
}

// finish applies what the flags imply after parsing; a malformed flag
// is a usageError.
func (b *benchFlags) finish(stderr io.Writer) error {
	c := &b.common
	if b.target != "" {
		c.Cluster.Target = strings.Split(b.target, ",")
	}
	if b.sip != "" {
		c.Cluster.TargetSIP = strings.Split(b.sip, ",")
		for _, a := range c.Cluster.TargetSIP {
			if err := checkHostPort(a); err != nil {
				return usageError{fmt.Errorf("--target-sip %q: %w", a, err)}
			}
		}
	}
	if c.Cluster.AdminPassword == "" {
		c.Cluster.AdminPassword = os.Getenv("UCGRID_BENCH_ADMIN_PASSWORD")
	}
	c.Log = stderr
	c.Load.Progress = stderr
	if b.scrape != "" {
		c.AfterRun = func(ctx context.Context, cl *bench.Cluster) { scrapeTo(ctx, b.scrape, cl, stderr) }
	}
	if b.verbose {
		c.Cluster.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		c.Cluster.NodeLog = stderr
	}
	return nil
}

// checkHostPort accepts HOST:PORT with a port from 1 to 65535.
func checkHostPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return errors.New("want HOST:PORT")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return errors.New("want HOST:PORT with a port from 1 to 65535")
	}
	return nil
}

// usageError is a flag's value that makes no sense: exit status 2.
type usageError struct{ error }

// scenario binds one scenario's own flags and runs it.
type scenario struct {
	bind func(fs *flag.FlagSet, c *bench.Common) func(ctx context.Context) (*bench.Result, error)
}

var scenarios = map[string]scenario{
	"rights": {func(fs *flag.FlagSet, c *bench.Common) func(context.Context) (*bench.Result, error) {
		cfg := &bench.RightsConfig{}
		fs.IntVar(&cfg.Grants, "grants", 0, "user-layer grants written on top of the groups (default: --users)")
		return func(ctx context.Context) (*bench.Result, error) {
			cfg.Common = *c
			defaults(&cfg.Directory.Users, 1000)
			defaults(&cfg.Directory.Groups, 100)
			return bench.RunRights(ctx, *cfg)
		}
	}},
	"presence": {func(fs *flag.FlagSet, c *bench.Common) func(context.Context) (*bench.Result, error) {
		cfg := &bench.PresenceConfig{}
		fs.IntVar(&cfg.Watchers, "watchers", 1000, "event streams (GET /v1/events) watching the targets, spread over the nodes")
		fs.IntVar(&cfg.Viewers, "viewers", 0, "distinct users the streams sign in as (default min(watchers, 100))")
		fs.IntVar(&cfg.Targets, "targets", 1, "users whose presence changes (--rate changes/s in total)")
		fs.BoolVar(&cfg.Floor, "floor", false, "then run a minimal Go SSE server (ucgrid bench sse-floor) with the same streams, bytes and rate,\nand report both servers' CPU per delivery and the ratio (implies --procs)")
		return func(ctx context.Context) (*bench.Result, error) {
			cfg.Common = *c
			if cfg.Load.Rate == 0 {
				cfg.Load.Rate = 10
			}
			if cfg.Floor {
				cfg.Cluster.Procs = true // the nodes' CPU apart from the harness's
			}
			return bench.RunPresence(ctx, *cfg)
		}
	}},
	"hunt": {func(fs *flag.FlagSet, c *bench.Common) func(context.Context) (*bench.Result, error) {
		cfg := &bench.HuntConfig{}
		bindSIP(fs, &cfg.SIP)
		gen := bindGenerator(fs, &cfg.SIP, true)
		return func(ctx context.Context) (*bench.Result, error) {
			cfg.Common = *c
			if err := gen.apply(fs, &cfg.SIP, cfg.Load.Rate); err != nil {
				return nil, err
			}
			if cfg.SIP.Generator == bench.GeneratorSIPp {
				defaults(&cfg.Directory.Users, cfg.Directory.Members) // one group of SIPp phones
				defaults(&cfg.Directory.Groups, 1)
			}
			defaults(&cfg.Directory.Users, 300)
			defaults(&cfg.Directory.Groups, 100)
			return bench.RunHunt(ctx, *cfg)
		}
	}},
	"failover": {func(fs *flag.FlagSet, c *bench.Common) func(context.Context) (*bench.Result, error) {
		cfg := &bench.FailoverConfig{}
		bindSIP(fs, &cfg.SIP)
		fs.DurationVar(&cfg.KillAfter, "kill-after", 0, "when in the window the last node is killed (default: a third of --duration)")
		return func(ctx context.Context) (*bench.Result, error) {
			cfg.Common = *c
			if cfg.Cluster.Nodes < 2 {
				cfg.Cluster.Nodes = 3
			}
			cfg.Cluster.Procs = true // only a child process can be killed
			defaults(&cfg.Directory.Users, 300)
			defaults(&cfg.Directory.Groups, 100)
			if cfg.Load.Rate == 0 {
				cfg.Load.Rate = 50
			}
			return bench.RunFailover(ctx, *cfg)
		}
	}},
	"rolling": {func(fs *flag.FlagSet, c *bench.Common) func(context.Context) (*bench.Result, error) {
		cfg := &bench.RollingConfig{}
		bindSIP(fs, &cfg.SIP)
		fs.DurationVar(&cfg.Settle, "settle", time.Second, "load before the first restart and after the last one")
		fs.DurationVar(&cfg.StopTimeout, "stop-timeout", 20*time.Second, "a node's graceful stop (SIGTERM to exit) longer than this fails the run")
		fs.DurationVar(&cfg.BackTimeout, "back-timeout", time.Minute, "a restarted node not back in the cluster within this fails the run")
		return func(ctx context.Context) (*bench.Result, error) {
			cfg.Common = *c
			if cfg.Cluster.Nodes < 2 {
				cfg.Cluster.Nodes = 3
			}
			cfg.Cluster.Procs = true // only a child process can be stopped and started again
			defaults(&cfg.Directory.Users, 300)
			defaults(&cfg.Directory.Groups, 100)
			if cfg.SIP.Hold == 0 {
				cfg.SIP.Hold = 300 * time.Millisecond // calls are under way when a node stops
			}
			return bench.RunRollingRestart(ctx, *cfg)
		}
	}},
	"scale": {func(fs *flag.FlagSet, c *bench.Common) func(context.Context) (*bench.Result, error) {
		cfg := &bench.ScaleConfig{}
		fs.IntVar(&cfg.Grants, "grants", 1_000_000, "user-layer grants written")
		fs.IntVar(&cfg.Writers, "writers", 256, "concurrent persistence.Node.Apply calls")
		fs.BoolVar(&cfg.WriteOnly, "write-only", false, "stop once the directory is written (keep it with --data, then time `ucgrid serve` on copies)")
		return func(ctx context.Context) (*bench.Result, error) {
			cfg.Common = *c
			defaults(&cfg.Directory.Users, 100_000)
			defaults(&cfg.Directory.Groups, 10_000)
			if cfg.Directory.Members == 3 {
				cfg.Directory.Members = 10
			}
			return bench.RunScale(ctx, *cfg)
		}
	}},
	"register": {func(fs *flag.FlagSet, c *bench.Common) func(context.Context) (*bench.Result, error) {
		cfg := &bench.RegisterConfig{}
		bindSIP(fs, &cfg.SIP)
		gen := bindGenerator(fs, &cfg.SIP, false)
		fs.IntVar(&cfg.Expires, "expires", 3600, "requested registration lifetime, seconds")
		return func(ctx context.Context) (*bench.Result, error) {
			cfg.Common = *c
			if err := gen.apply(fs, &cfg.SIP, cfg.Load.Rate); err != nil {
				return nil, err
			}
			defaults(&cfg.Directory.Users, 1000)
			return bench.RunRegister(ctx, *cfg)
		}
	}},
}

func bindSIP(fs *flag.FlagSet, s *bench.SIPConfig) {
	fs.StringVar(&s.Domain, "sip-domain", "ucgrid.local", "the cluster's SIP domain")
	fs.DurationVar(&s.AnswerAfter, "answer-after", 10*time.Millisecond, "a phone rings this long (plus up to as much again) before it answers")
	fs.DurationVar(&s.Hold, "hold", 0, "an answered call lasts this long before the caller hangs up")
	fs.DurationVar(&s.CallTimeout, "call-timeout", 5*time.Second, "a call or REGISTER not answered within this counts as failed")
	fs.IntVar(&s.Banks, "banks", 4, "phone banks (user agents, one UDP socket each) the phones are spread over")
	fs.IntVar(&s.Callers, "callers", 4, "trunk user agents placing the calls")
}

// generatorFlags choose the load generator of hunt and register, and
// describe a foreign SIP server for SIPp.
type generatorFlags struct {
	name  string
	lines string
	hunt  bool
}

func bindGenerator(fs *flag.FlagSet, s *bench.SIPConfig, hunt bool) *generatorFlags {
	g := &generatorFlags{hunt: hunt}
	fs.StringVar(&g.name, "generator", bench.GeneratorGo, "load generator: go (sipgo phones in this process) or sipp (the sipp binary, Debian sip-tester; needs --rate)")
	fs.StringVar(&g.lines, "sip-lines", "", "sipp with --target-sip and no --target (any SIP server, Kamailio say): its lines as NUMBER:PASSWORD,… (hunt: the group's phones, the first answers)")
	if hunt {
		fs.StringVar(&s.Group, "sip-group", "", "sipp with --target-sip and no --target: the number of the ring_all group of --sip-lines")
	}
	fs.IntVar(&s.ServerPID, "server-pid", 0, "sipp: report the CPU per call of this process and its children (default: the embedded nodes)")
	return g
}

// apply checks the flags and sets s; the sipp phones answer after 300 ms
// unless --answer-after says otherwise.
func (g *generatorFlags) apply(fs *flag.FlagSet, s *bench.SIPConfig, rate float64) error {
	switch g.name {
	case bench.GeneratorGo, bench.GeneratorSIPp:
		s.Generator = g.name
	default:
		return usageError{fmt.Errorf("--generator %q: want go or sipp", g.name)}
	}
	lines, err := parseSIPLines(g.lines)
	if err != nil {
		return usageError{err}
	}
	s.Lines = lines
	if g.name != bench.GeneratorSIPp {
		if g.lines != "" || s.Group != "" || s.ServerPID != 0 {
			return usageError{errors.New("--sip-lines, --sip-group and --server-pid go with --generator sipp")}
		}
		return nil
	}
	if rate <= 0 {
		return usageError{errors.New("--generator sipp is open loop: give --rate (calls or REGISTERs per second)")}
	}
	answer := false
	fs.Visit(func(f *flag.Flag) { answer = answer || f.Name == "answer-after" })
	if !answer {
		s.AnswerAfter = 300 * time.Millisecond
	}
	return nil
}

// parseSIPLines reads NUMBER:PASSWORD,… ("" is none).
func parseSIPLines(v string) ([]bench.SIPLine, error) {
	if v == "" {
		return nil, nil
	}
	var out []bench.SIPLine
	for _, l := range strings.Split(v, ",") {
		n, pw, ok := strings.Cut(l, ":")
		if !ok || n == "" || pw == "" {
			return nil, fmt.Errorf("--sip-lines %q: want NUMBER:PASSWORD,…", l)
		}
		out = append(out, bench.SIPLine{Number: n, Password: pw})
	}
	return out, nil
}

func defaults(v *int, d int) {
	if *v == 0 {
		*v = d
	}
}

func benchCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stderr, benchUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "sse-floor" {
		return sseFloorCmd(args[1:], stdout, stderr)
	}
	sc, ok := scenarios[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ucgrid bench: unknown scenario %q (try: ucgrid bench help)\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet("ucgrid bench "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var bf benchFlags
	bf.bind(fs)
	runScenario := sc.bind(fs, &bf.common)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ucgrid bench %s: unexpected argument %q\n", args[0], fs.Arg(0))
		return 2
	}
	if err := bf.finish(stderr); err != nil {
		fmt.Fprintf(stderr, "ucgrid bench %s: %v\n", args[0], err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runScenario(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ucgrid bench %s: %v\n", args[0], err)
		if errors.As(err, new(usageError)) {
			return 2
		}
		return 1
	}
	return report(res, bf, stdout, stderr)
}

// sseFloorCmd serves the SSE floor of `ucgrid bench presence --floor`
// (bench.ServeFloor) until SIGTERM or SIGINT; the scenario starts it as
// a child process and reads its address from the first line.
func sseFloorCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ucgrid bench sse-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg bench.FloorConfig
	fs.StringVar(&cfg.Addr, "listen", "127.0.0.1:0", "address to listen on")
	fs.IntVar(&cfg.Buffer, "buffer", 64, "events a stream may have pending before it is dropped")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := bench.ServeFloor(ctx, cfg, func(addr string) { fmt.Fprintf(stdout, "sse-floor listening on %s\n", addr) })
	if err != nil {
		fmt.Fprintf(stderr, "ucgrid bench sse-floor: %v\n", err)
		return 1
	}
	return 0
}

func report(res *bench.Result, bf benchFlags, stdout, stderr io.Writer) int {
	if err := res.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "ucgrid bench: %v\n", err)
		return 1
	}
	if bf.json != "" {
		if err := res.WriteJSON(bf.json); err != nil {
			fmt.Fprintf(stderr, "ucgrid bench: %v\n", err)
			return 1
		}
	}
	if bf.plot != "" {
		if err := res.WritePlot(bf.plot); err != nil {
			fmt.Fprintf(stderr, "ucgrid bench: %v\n", err)
			return 1
		}
	}
	return 0
}

// scrapeTo writes each node's /metrics to path, one "# node NAME" line
// before each; a failure is reported and the run goes on.
func scrapeTo(ctx context.Context, path string, cl *bench.Cluster, stderr io.Writer) {
	var out strings.Builder
	for _, n := range cl.Nodes {
		text, err := n.Scrape(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "ucgrid bench: %v\n", err)
			continue
		}
		fmt.Fprintf(&out, "# node %s %s\n%s", n.Name, n.URL, text)
	}
	if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
		fmt.Fprintf(stderr, "ucgrid bench: %v\n", err)
	}
}
