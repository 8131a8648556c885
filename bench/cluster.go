package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/node"
)

// ClusterConfig says which cluster a scenario loads: one it starts itself
// (the default) or a running one (Target).
type ClusterConfig struct {
	// Nodes is the size of an embedded cluster. Default 1; 3 shows the
	// cross-node paths (remote grains, fan-out batches per node).
	Nodes int `json:"nodes"`
	// Procs runs the embedded nodes as child processes (`ucgrid serve`)
	// instead of in this process. Needed to kill a node (failover), for
	// realistic per-node CPU accounting, and where this process runs
	// under the race detector (protoactor-go races in-process, PITFALLS.md).
	Procs bool `json:"procs"`
	// Exec is the command that runs `ucgrid serve` for Procs, with Env
	// added to this process's environment. Default: this executable with
	// the argument "serve".
	Exec []string `json:"-"`
	Env  []string `json:"-"`
	// Target lists base URLs (http://host:port) of a running cluster's
	// nodes; empty starts an embedded cluster.
	Target []string `json:"target,omitempty"`
	// TargetSIP lists the SIP addresses (host:port) of Target's nodes, in
	// the same order; the SIP scenarios need them.
	TargetSIP []string `json:"target_sip,omitempty"`
	// AdminUser and AdminPassword sign in to the cluster. Default admin
	// and, for an embedded cluster, a generated password.
	AdminUser     string `json:"admin_user"`
	AdminPassword string `json:"-"`
	// DataDir holds the embedded nodes' data; "" = a temporary directory
	// removed when the cluster stops.
	DataDir string `json:"data_dir,omitempty"`
	// NodeLog receives the child processes' log lines; nil discards them.
	NodeLog io.Writer `json:"-"`
	// Logger receives the in-process nodes' logs. Default: discard.
	Logger *slog.Logger `json:"-"`
}

// benchSecret authenticates the embedded nodes to each other.
const benchSecret = "ucgrid-bench-cluster-secret"

// cheapPasswords are the argon2id costs of in-process nodes: the
// scenarios sign in thousands of generated users, which with the
// production costs (19 MiB × 2) would take minutes and measure argon2.
var cheapPasswords = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// WithDefaults returns a copy of c with every zero field set to its
// documented default.
func (c ClusterConfig) WithDefaults() ClusterConfig {
	if c.Nodes == 0 {
		c.Nodes = 1
	}
	if c.AdminUser == "" {
		c.AdminUser = node.AdminID
	}
	if c.AdminPassword == "" && len(c.Target) == 0 {
		c.AdminPassword = "bench-admin-password"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c ClusterConfig) Validate() error {
	c = c.WithDefaults()
	if len(c.Target) > 0 {
		if c.AdminPassword == "" {
			return invalidConfig("ClusterConfig.AdminPassword", "is required with Target")
		}
		if len(c.TargetSIP) > 0 && len(c.TargetSIP) != len(c.Target) {
			return invalidConfig("ClusterConfig.TargetSIP", "%d addresses for %d Target nodes: name one SIP address per node", len(c.TargetSIP), len(c.Target))
		}
		return nil
	}
	if c.Nodes < 1 || c.Nodes > 9 {
		return invalidConfig("ClusterConfig.Nodes", "%d: give 1 to 9", c.Nodes)
	}
	return nil
}

// Node is one node of the loaded cluster.
type Node struct {
	Name string
	// URL is the HTTP base URL, SIP the SIP address ("" = unknown).
	URL string
	SIP string
	// API is signed in as the admin on this node.
	API *Client

	srv    *node.Node
	cmd    *exec.Cmd
	exited chan struct{}
	addrs  nodeAddrs
	data   string
	join   []string
}

// Cluster is the cluster a scenario loads.
type Cluster struct {
	cfg   ClusterConfig
	Nodes []*Node
	tmp   string
}

// StartCluster starts the embedded cluster, or connects to the target.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg}
	var err error
	switch {
	case len(cfg.Target) > 0:
		err = c.connect()
	default:
		err = c.startEmbedded(ctx)
	}
	if err == nil {
		err = c.signIn(ctx)
	}
	if err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) connect() error {
	for i, u := range c.cfg.Target {
		n := &Node{Name: fmt.Sprintf("target%d", i+1), URL: strings.TrimRight(u, "/")}
		if i < len(c.cfg.TargetSIP) {
			n.SIP = c.cfg.TargetSIP[i]
		}
		c.Nodes = append(c.Nodes, n)
	}
	return nil
}

type nodeAddrs struct{ http, raft, gossip, sip string }

func (c *Cluster) startEmbedded(ctx context.Context) error {
	dir := c.cfg.DataDir
	if dir == "" {
		var err error
		if c.tmp, err = os.MkdirTemp("", "ucgrid-bench-"); err != nil {
			return fmt.Errorf("bench: data directory: %w", err)
		}
		dir = c.tmp
	}
	var join []string
	for i := range c.cfg.Nodes {
		n, err := c.startFresh(ctx, fmt.Sprintf("n%d", i+1), dir, join)
		if err != nil {
			return err
		}
		if i == 0 {
			join = []string{n.addrs.gossip}
		}
	}
	return nil
}

// startFresh starts a new node on ports that were free a moment ago and
// adds it to c.Nodes. When another process took one of them meanwhile
// (the node exits before it is ready, or cannot listen), it tries again
// on new ports and a new data directory, at most freshTries times.
func (c *Cluster) startFresh(ctx context.Context, name, dir string, join []string) (*Node, error) {
	for try := 0; ; try++ {
		a, err := freeAddrs()
		if err != nil {
			return nil, err
		}
		data := filepath.Join(dir, name)
		if try > 0 {
			data = filepath.Join(dir, fmt.Sprintf("%s.%d", name, try))
		}
		n := &Node{Name: name, URL: "http://" + a.http, SIP: a.sip, addrs: a, data: data, join: join}
		err = c.startNode(ctx, n, c.cfg.Procs)
		portTaken := errors.Is(err, errExited) || node.AddrInUse(err)
		if err == nil || !portTaken || try+1 == freshTries {
			// Kept on an error too: Close stops whatever did start.
			c.Nodes = append(c.Nodes, n)
			return n, err
		}
		_ = os.RemoveAll(data) // this try's own directory
	}
}

// freshTries bounds startFresh's attempts.
const freshTries = 3

// startNode starts (or restarts, on its data) node n and waits until it
// is ready.
func (c *Cluster) startNode(ctx context.Context, n *Node, proc bool) error {
	var err error
	if proc {
		err = c.startProc(n, n.addrs, n.data, n.join)
	} else {
		err = c.startInProcess(ctx, n, n.addrs, n.data, n.join)
	}
	if err != nil {
		return err
	}
	return waitReady(ctx, n, 60*time.Second)
}

func (c *Cluster) startInProcess(ctx context.Context, n *Node, a nodeAddrs, data string, join []string) error {
	srv, err := node.Start(ctx, node.Config{
		DataDir: data, HTTPAddr: a.http, RaftAddr: a.raft, GossipAddr: a.gossip, SIPAddr: a.sip,
		NodeID: n.Name, Join: join, ClusterSecret: benchSecret, AdminPassword: c.cfg.AdminPassword,
		PasswordParams: cheapPasswords, RaftDeadGrace: 5 * time.Second, Logger: c.cfg.Logger.With("node", n.Name),
	})
	if err != nil {
		return fmt.Errorf("bench: start node %s: %w", n.Name, err)
	}
	n.srv = srv
	return nil
}

func (c *Cluster) startProc(n *Node, a nodeAddrs, data string, join []string) error {
	argv := c.cfg.Exec
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: find the ucgrid executable: %w", err)
		}
		argv = []string{exe, "serve"}
	}
	args := append(argv[1:len(argv):len(argv)], "--data", data, "--node", n.Name, "--http", a.http, "--raft", a.raft,
		"--gossip", a.gossip, "--sip", a.sip, "--cluster-secret", benchSecret, "--admin-password", c.cfg.AdminPassword,
		"--raft-dead-after", "5s", "--log-level", "warn")
	if len(join) > 0 {
		args = append(args, "--join", strings.Join(join, ","))
	}
	cmd := exec.Command(argv[0], args...)
	cmd.Env = append(os.Environ(), c.cfg.Env...)
	out := c.cfg.NodeLog
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: start node %s: %w", n.Name, err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	exited := n.exited
	go func() {
		// The exit status matters only as "it exited": Kill reads it.
		_ = cmd.Wait()
		close(exited)
	}()
	return nil
}

// freeAddrs picks loopback ports that were free a moment ago, TCP and
// UDP alike (gossip and SIP listen on both).
func freeAddrs() (nodeAddrs, error) {
	var out [4]string
	for i := range out {
		for try := 0; ; try++ {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nodeAddrs{}, fmt.Errorf("bench: free port: %w", err)
			}
			addr := ln.Addr().String()
			ln.Close()
			pc, err := net.ListenPacket("udp", addr)
			if err == nil {
				pc.Close()
				out[i] = addr
				break
			}
			if try > 20 {
				return nodeAddrs{}, fmt.Errorf("bench: no free port: %w", err)
			}
		}
	}
	return nodeAddrs{http: out[0], raft: out[1], gossip: out[2], sip: out[3]}, nil
}

// waitReady polls /readyz until the node answers 200.
func waitReady(ctx context.Context, n *Node, timeout time.Duration) error {
	return poll(ctx, timeout, 50*time.Millisecond, func() error {
		if n.exited != nil {
			select {
			case <-n.exited:
				return fmt.Errorf("%w: node %s %w", errStop, n.Name, errExited)
			default:
			}
		}
		resp, err := http.Get(n.URL + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("node %s: /readyz %d", n.Name, resp.StatusCode)
		}
		return nil
	})
}

// errStop ends a poll at once.
var errStop = errors.New("bench: gave up")

// errExited: a node's process ended before it was ready.
var errExited = errors.New("exited before it was ready")

// poll calls f every interval until it returns nil, an errStop, or
// timeout passes (then the last error is returned).
func poll(ctx context.Context, timeout, interval time.Duration, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := f()
		if err == nil || errors.Is(err, errStop) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: after %v: %w", timeout, err)
		case <-t.C:
		}
	}
}

// signIn gives every node an admin client and, for an embedded cluster
// of several nodes, waits for all of them to be Raft voters.
func (c *Cluster) signIn(ctx context.Context) error {
	for _, n := range c.Nodes {
		cl := NewClient(n.URL)
		if err := cl.SignIn(ctx, c.cfg.AdminUser, c.cfg.AdminPassword); err != nil {
			return fmt.Errorf("bench: sign in to %s as %s: %w", n.URL, c.cfg.AdminUser, err)
		}
		n.API = cl
	}
	if len(c.cfg.Target) > 0 || len(c.Nodes) == 1 {
		return nil
	}
	want := min(len(c.Nodes), 3)
	return poll(ctx, 60*time.Second, 100*time.Millisecond, func() error {
		var st clusterStatus
		if err := c.Nodes[0].API.Do(ctx, http.MethodGet, "/v1/cluster", nil, &st); err != nil {
			return err
		}
		if err := st.formed(len(c.Nodes), want); err != nil {
			return fmt.Errorf("cluster not formed: %w", err)
		}
		return nil
	})
}

// Kill stops node i the hard way: SIGKILL for a child process (no
// hand-over, no leave), a shutdown for an in-process node.
func (c *Cluster) Kill(i int) error {
	n := c.Nodes[i]
	switch {
	case n.cmd != nil:
		if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			return fmt.Errorf("bench: kill %s: %w", n.Name, err)
		}
		<-n.exited
	case n.srv != nil:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := n.srv.Shutdown(ctx)
		n.srv = nil
		return err
	default:
		return fmt.Errorf("bench: node %s is not ours to kill", n.Name)
	}
	return nil
}

// Embedded reports whether the cluster was started by this process.
func (c *Cluster) Embedded() bool { return len(c.cfg.Target) == 0 }

// Stop stops the embedded nodes (in parallel) and removes a temporary
// data directory. Nothing happens to a target cluster.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		switch {
		case n.srv != nil:
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := n.srv.Shutdown(ctx); err != nil {
					c.cfg.Logger.Warn("bench: node shutdown", "node", n.Name, "err", err)
				}
			})
		case n.cmd != nil:
			wg.Go(func() { stopProc(n) })
		}
	}
	wg.Wait()
	if c.tmp != "" {
		if err := os.RemoveAll(c.tmp); err != nil {
			c.cfg.Logger.Warn("bench: remove data", "dir", c.tmp, "err", err)
		}
	}
}

// stopProc sends SIGTERM and waits for the graceful shutdown, SIGKILL
// after 20 s.
func stopProc(n *Node) {
	select {
	case <-n.exited:
		return
	default:
	}
	// A process that already exited makes Signal fail; exited tells.
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		_ = n.cmd.Process.Kill() // the graceful stop hung: the wait below ends either way
		<-n.exited
	}
}
