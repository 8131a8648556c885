package bench

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Generators of the SIP scenarios: GeneratorGo is this process's sipgo
// phones and callers; GeneratorSIPp drives the sipp binary (Debian
// sip-tester), which generates more load per core than Go phones on
// the same cores and runs unchanged against any SIP server.
const (
	GeneratorGo   = "go"
	GeneratorSIPp = "sipp"
)

// sippScenarios are the SIPp scenarios the sipp generator runs; words in
// capitals (HOLD_MS, ANSWER_MS) are replaced per run.
//
//go:embed sipp/*.xml
var sippScenarios embed.FS

// SIPLine is a line of a SIP server the bench did not provision (a
// Kamailio, say): its number and digest password.
type SIPLine struct {
	Number   string `json:"number"`
	Password string `json:"-"`
}

// ringForever is how long the phones that only ring wait for a CANCEL
// before they would answer: longer than any run.
const ringForever = time.Hour

// sippBuffer is the socket buffer of every SIPp process: at thousands of
// calls/s the default drops datagrams (the Kamailio peer's caveats).
const sippBuffer = "4194304"

// sippEnv is a SIP server under SIPp load: the bench's own cluster, or a
// foreign server at target.
type sippEnv struct {
	cl     *Cluster // nil: a foreign server
	target string
	domain string
	lines  []SIPLine
	group  string // the ring_all group's number (hunt)
	dir    string // scenarios, inject files and SIPp's outputs
	phones []*exec.Cmd
	cpu    func() (time.Duration, bool)
}

// foreignSIP says whether the SIP scenarios load a server the bench does
// not provision: a SIP address without a cluster's HTTP API.
func foreignSIP(c *ClusterConfig) bool { return len(c.TargetSIP) > 0 && len(c.Target) == 0 }

// setUpSIPp starts (or connects to) the server and writes the scenarios.
// Its own cluster gets a line per user, the trunk of 127.0.0.1 and the
// groups; a foreign server must already know s.Lines (and s.Group).
func setUpSIPp(ctx context.Context, c *Common, s *SIPConfig, hunt bool) (*sippEnv, error) {
	if _, err := exec.LookPath("sipp"); err != nil {
		return nil, errors.New("bench: the sipp generator needs the sipp binary (apt-get install sip-tester)")
	}
	if c.Load.Rate <= 0 {
		return nil, errors.New("bench: the sipp generator is open loop: give a rate (--rate CALLS/S)")
	}
	dir, err := os.MkdirTemp("", "ucgrid-bench-sipp-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	e := &sippEnv{dir: dir, domain: s.Domain, lines: s.Lines, group: s.Group}
	if err := e.server(ctx, c, s, hunt); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *sippEnv) server(ctx context.Context, c *Common, s *SIPConfig, hunt bool) error {
	if foreignSIP(&c.Cluster) {
		if len(e.lines) == 0 || hunt && e.group == "" {
			return errors.New("bench: a foreign SIP server (--target-sip without --target) needs its lines (--sip-lines) and, for hunt, its group (--sip-group)")
		}
		e.target = c.Cluster.TargetSIP[0]
		e.cpu = pidCPU(s.ServerPID)
		return nil
	}
	c.Directory.Lines = true
	cl, err := c.setUp(ctx)
	if err != nil {
		return err
	}
	e.cl = cl
	if e.target = cl.Nodes[0].SIP; e.target == "" {
		return errors.New("bench: the SIP scenarios need the node's SIP address (--target-sip)")
	}
	if err := putTrunk(ctx, c, cl); err != nil {
		return err
	}
	d := &c.Directory
	for i := range d.Users {
		n := d.LineNumber(i)
		e.lines = append(e.lines, SIPLine{Number: n, Password: d.LinePassword(n)})
	}
	if hunt {
		e.group = d.GroupNumber(0)
		e.lines = e.lines[:min(d.Members, len(e.lines))] // group 0's members are lines 0..Members-1
	}
	e.cpu = cl.serverCPU(s.ServerPID)
	return nil
}

func (e *sippEnv) close() {
	for _, p := range e.phones {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	if e.cl != nil {
		e.cl.Stop()
	}
	if os.Getenv("UCGRID_BENCH_KEEP") == "" { // kept: SIPp's error logs to read
		os.RemoveAll(e.dir)
	}
}

// scenario writes the embedded scenario name into the run's directory
// with the given words replaced, and returns its path.
func (e *sippEnv) scenario(name string, words ...string) (string, error) {
	return writeScenario(e.dir, name, words...)
}

// writeScenario writes the embedded scenario name into dir with the
// given words replaced, and returns its path.
func writeScenario(dir, name string, words ...string) (string, error) {
	b, err := sippScenarios.ReadFile("sipp/" + name)
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	text := strings.NewReplacer(words...).Replace(string(b))
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// injectFile writes the lines as a SIPp inject file of register.xml:
// number;digest credentials;domain;contact port;expires, one call per
// line in turn.
func (e *sippEnv) injectFile(name string, lines []SIPLine, ports []int, expires int) (string, error) {
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for i, l := range lines {
		fmt.Fprintf(&b, "%s;[authentication username=%s password=%s];%s;%d;%d\n", l.Number, l.Number, l.Password, e.domain, ports[i%len(ports)], expires)
	}
	path := filepath.Join(e.dir, name)
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort() (int, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: free port: %w", err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

// sippCmd is a SIPp process working in dir (where it writes its files).
func sippCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "sipp", append(args, "-nostdin", "-buff_size", sippBuffer, "-trace_err")...)
	cmd.Dir = dir
	return cmd
}

// startPhones starts a SIPp phone per line and registers them: the first
// answers after answerAfter, the others ring until cancelled.
func (e *sippEnv) startPhones(ctx context.Context, answerAfter time.Duration) error {
	ports := make([]int, len(e.lines))
	for i := range e.lines {
		ring := ringForever
		if i == 0 {
			ring = answerAfter
		}
		dir := filepath.Join(e.dir, fmt.Sprintf("phone%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		sf, err := writeScenario(dir, "uas_phone.xml", "ANSWER_MS", strconv.FormatInt(ring.Milliseconds(), 10))
		if err != nil {
			return err
		}
		if ports[i], err = freeUDPPort(); err != nil {
			return err
		}
		cmd := sippCmd(context.WithoutCancel(ctx), dir, "-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(ports[i]))
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("bench: start SIPp phone: %w", err)
		}
		e.phones = append(e.phones, cmd)
	}
	return e.registerPhones(ctx, ports)
}

// registerPhones registers every line's phone, the Contact at its port.
func (e *sippEnv) registerPhones(ctx context.Context, ports []int) error {
	sf, err := e.scenario("register.xml")
	if err != nil {
		return err
	}
	inf, err := e.injectFile("phones.csv", e.lines, ports, 3600)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := sippCmd(ctx, e.dir, e.target, "-sf", sf, "-inf", inf, "-m", strconv.Itoa(len(e.lines)),
		"-i", "127.0.0.1", "-timeout", "20s", "-recv_timeout", "5s")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bench: register the SIPp phones at %s: %v %s%s", e.target, err, lastLine(out), e.errFile())
	}
	return nil
}

// lastLine is the last non-empty line of a command's output.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// errFile names SIPp's error trace files of the run, if any, for an error
// message (they are removed with the run's directory otherwise).
func (e *sippEnv) errFile() string {
	m, _ := filepath.Glob(filepath.Join(e.dir, "*_errors.log"))
	if len(m) == 0 {
		return ""
	}
	b, _ := os.ReadFile(m[0])
	return ": " + lastLine(b)
}
