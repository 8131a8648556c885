package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testlog"

	"github.com/ucgrid/ucgrid/internal/racereport"
)

// Multi-node tests run each node in its own child process (this test
// binary re-executed with childNodeEnv set; see TestMain and child_test.go).
// protoactor-go has data races between actor systems sharing a process
// (upstream #1108); one node per process keeps -race on, and meaningful,
// for our code in every node. A child's race report fails the test.

// childLogsEnv, when set, makes the tests print every child's log, not
// only those of failed tests.
const childLogsEnv = "UCGRID_CLUSTER_TEST_LOGS"

// child is a node running in a child process.
type child struct {
	name   string
	http   string // the child's control endpoint
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *testlog.Buffer
	exited chan struct{}
}

// startChildren starts the named nodes concurrently, all seeded with seeds.
// A name starting with "client" starts an actor-cluster client.
func startChildren(t *testing.T, seeds []string, names ...string) []*child {
	t.Helper()
	out := make([]*child, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { out[i], errs[i] = startChild(t, name, seeds) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func startChild(t *testing.T, name string, seeds []string) (*child, error) {
	return startChildIn(t, name, "", seeds)
}

// startChildIn starts a node in site (membership.Meta.Site; "" = none).
func startChildIn(t *testing.T, name, site string, seeds []string) (*child, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childNodeEnv+"="+name, childSeedsEnv+"="+strings.Join(seeds, ","), childSiteEnv+"="+site)
	if strings.HasPrefix(name, "client") {
		cmd.Env = append(cmd.Env, childClientEnv+"=1")
	}
	c := &child{name: name, cmd: cmd, stderr: &testlog.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start child %s: %w", name, err)
	}
	go func() {
		// The exit status is judged from stderr (race reports); a killed
		// child exits with an error by design.
		_ = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() { c.stop(t) })

	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n') // EOF: the child died, reported below
		ready <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "READY http=")
		if !ok {
			return nil, fmt.Errorf("child %s did not start (stdout %q); stderr:\n%s", name, line, c.stderr)
		}
		c.http = addr
		return c, nil
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("child %s not ready after 30s; stderr:\n%s", name, c.stderr)
	}
}

// stop kills the child if still running, and reports its data races (and,
// when the test failed, its log).
func (c *child) stop(t *testing.T) {
	t.Helper()
	c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		c.kill(t)
	}
	<-c.exited
	log := c.stderr.String()
	ours, upstream := racereport.Classify(log)
	for _, r := range ours {
		t.Errorf("child %s: data race in our code:\n%s", c.name, r)
	}
	if len(upstream) > 0 {
		t.Logf("child %s: %d data race report(s) inside protoactor-go, ignored (upstream #1108): %s",
			c.name, len(upstream), strings.Join(upstream, "; "))
	}
	if t.Failed() || os.Getenv(childLogsEnv) != "" {
		t.Logf("log of child %s:\n%s", c.name, log)
	}
}

// kill sends SIGKILL: the node vanishes without leaving.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Logf("kill child %s: %v", c.name, err)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func (c *child) getJSON(t *testing.T, path string, v any) error {
	t.Helper()
	resp, err := httpClient.Get("http://" + c.http + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", c.name, path, resp.Status, body)
	}
	return json.Unmarshal(body, v)
}

func (c *child) members(t *testing.T) []MemberStatus {
	t.Helper()
	var ms []MemberStatus
	if err := c.getJSON(t, "/members", &ms); err != nil {
		t.Fatalf("members of %s: %v", c.name, err)
	}
	return ms
}

// topology returns the names of the members c's actor cluster places
// grains on.
func (c *child) topology(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, m := range c.members(t) {
		if m.InTopology {
			names = append(names, m.Node)
		}
	}
	return names
}

func (c *child) echo(t *testing.T, id string) childEcho {
	t.Helper()
	var e childEcho
	if err := c.getJSON(t, "/echo?id="+id, &e); err != nil {
		t.Fatalf("echo %s via %s: %v", id, c.name, err)
	}
	return e
}

// postLeave asks the child to shut down gracefully.
func (c *child) postLeave() error {
	resp, err := httpClient.Post("http://"+c.http+"/leave", "", nil)
	if err != nil {
		return fmt.Errorf("leave %s: %w", c.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body) // best effort, for the message
		return fmt.Errorf("leave %s: %s: %s", c.name, resp.Status, body)
	}
	return nil
}

// waitTopology waits until every node in nodes places grains on exactly
// want, and returns how long that took.
func waitTopology(t *testing.T, timeout time.Duration, nodes []*child, want ...string) time.Duration {
	t.Helper()
	slices.Sort(want)
	return waitFor(t, timeout, fmt.Sprintf("topology %v on every node", want), func() bool {
		for _, n := range nodes {
			if !slices.Equal(n.topology(t), want) {
				return false
			}
		}
		return true
	})
}

func TestCluster_ThreeNodesPlaceFailOverAndLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes")
	}
	nodes, client := startThreeAndClient(t)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]

	// Every identity has one activation, whichever node or client asks.
	owner := placeEverywhere(t, nodes, client, 24)
	onN2, onN3 := idsOn(owner, "n2"), idsOn(owner, "n3")
	if len(onN3) == 0 || len(onN2) == 0 {
		t.Fatalf("placement %v left n2 or n3 without grains; use more ids", owner)
	}
	asked := len(nodes) + 1 // requests per grain so far

	t.Run("killed node leaves the topology and its grains move", func(t *testing.T) {
		killed := time.Now()
		n3.kill(t)
		// Ask for a grain of n3 at once: the request must ride out failure
		// detection and be answered by a survivor.
		failover := asyncEcho(t, n1, onN3[0], killed)

		waitTopology(t, 5*time.Second, nodes[:2], "n1", "n2")
		detect := time.Since(killed)
		t.Logf("SIGKILL of n3: both survivors dropped it from the topology within %v", detect.Round(time.Millisecond))
		if detect > 3*time.Second {
			t.Errorf("detection took %v, want at most 3s", detect)
		}

		r := <-failover
		if r.err != nil {
			t.Fatalf("request to n3's grain %s after the kill: %v", onN3[0], r.err)
		}
		t.Logf("request to n3's grain %s, sent right after the kill, answered by %s after %v",
			onN3[0], r.echo.Reply.Node, r.took.Round(time.Millisecond))
		if r.echo.Reply.Node == "n3" || r.echo.Reply.Count != 1 {
			t.Errorf("grain %s after the kill = %+v, want a fresh activation on a survivor", onN3[0], r.echo.Reply)
		}
		if r.took > 3*time.Second {
			t.Errorf("failover took %v, want at most 3s", r.took)
		}
		checkMoved(t, nodes[:2], onN3, owner)
		checkKept(t, n1, append(idsOn(owner, "n1"), onN2...), owner, asked)
	})

	t.Run("gracefully leaving node is dropped at once", func(t *testing.T) {
		start := time.Now()
		left := make(chan error, 1)
		go func() { left <- n2.postLeave() }()
		dropped := waitTopology(t, 2*time.Second, nodes[:1], "n1")
		t.Logf("n1 dropped n2 %v after it began to leave", dropped.Round(time.Millisecond))
		if err := <-left; err != nil {
			t.Fatal(err)
		}
		t.Logf("n2 shut down gracefully in %v", time.Since(start).Round(time.Millisecond))
		for _, id := range onN2 {
			if got := n1.echo(t, id).Reply; got.Node != "n1" || got.Count != 1 {
				t.Errorf("grain %s after n2 left = %+v, want a fresh activation on n1", id, got)
			}
		}
	})
}

// startThreeAndClient starts n1, then n2, n3 and an actor-cluster client
// seeded with n1, and waits until all agree on the topology.
func startThreeAndClient(t *testing.T) (nodes []*child, client *child) {
	t.Helper()
	n1 := startChildren(t, nil, "n1")[0]
	var seeds []string
	for _, m := range n1.members(t) {
		seeds = append(seeds, m.GossipAddr)
	}
	rest := startChildren(t, seeds, "n2", "n3", "client")
	nodes, client = []*child{n1, rest[0], rest[1]}, rest[2]
	took := waitTopology(t, 10*time.Second, append(nodes, client), "n1", "n2", "n3")
	t.Logf("three nodes and a client agree on the topology %v after start", took)
	return nodes, client
}

// placeEverywhere asks grain-0 … grain-(n-1) through every node, then the
// client, checks that each has a single activation, and returns it by id.
func placeEverywhere(t *testing.T, nodes []*child, client *child, n int) map[string]echoReply {
	t.Helper()
	owner := map[string]echoReply{}
	for i := range n {
		id := fmt.Sprintf("grain-%d", i)
		for k, via := range append(nodes, client) {
			got := via.echo(t, id).Reply
			if k == 0 {
				owner[id] = got
			}
			if want := owner[id]; got.Node != want.Node || got.Activation != want.Activation || got.Count != k+1 {
				t.Fatalf("%s via %s = %+v, want the activation %s on %s with count %d", id, via.name, got, want.Activation, want.Node, k+1)
			}
		}
	}
	return owner
}

type echoResult struct {
	echo childEcho
	err  error
	took time.Duration // since the given start
}

// asyncEcho asks grain id through via in the background.
func asyncEcho(t *testing.T, via *child, id string, start time.Time) <-chan echoResult {
	out := make(chan echoResult, 1)
	go func() {
		var e childEcho
		err := via.getJSON(t, "/echo?id="+id, &e)
		out <- echoResult{e, err, time.Since(start)}
	}()
	return out
}

// checkKept asks via for grains that did not move: each must still be
// its old activation, having answered asked requests so far.
func checkKept(t *testing.T, via *child, kept []string, before map[string]echoReply, asked int) {
	t.Helper()
	for _, id := range kept {
		got := via.echo(t, id).Reply
		if got.Node != before[id].Node || got.Activation != before[id].Activation || got.Count != asked+1 {
			t.Errorf("grain %s = %+v, want its old activation %s on %s with count %d", id, got, before[id].Activation, before[id].Node, asked+1)
		}
	}
}

func idsOn(owner map[string]echoReply, node string) []string {
	var ids []string
	for id, r := range owner {
		if r.Node == node {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// checkMoved asks every survivor for the grains of the lost node: each must
// be one fresh activation on a survivor, the same whichever survivor asks.
func checkMoved(t *testing.T, survivors []*child, moved []string, before map[string]echoReply) {
	t.Helper()
	for _, id := range moved {
		var first echoReply
		for k, via := range survivors {
			got := via.echo(t, id).Reply
			if k == 0 {
				first = got
			}
			if got.Node == before[id].Node || got.Activation != first.Activation {
				t.Errorf("grain %s via %s = %+v, want one activation off %s (first answer %+v)", id, via.name, got, before[id].Node, first)
			}
		}
	}
}
