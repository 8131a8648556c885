package membership

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/goleak"

	"github.com/ucgrid/ucgrid/internal/testlog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startNode starts a member on a free loopback port and shuts it down at the
// end of the test.
func startNode(t *testing.T, name string, seeds []string, mutate func(*Config)) *Membership {
	t.Helper()
	cfg := Config{
		NodeName:       name,
		BindAddr:       "127.0.0.1:0",
		Seeds:          seeds,
		Meta:           Meta{RaftAddr: name + ":8300"},
		RejoinInterval: 300 * time.Millisecond,
		Logger:         testlog.New(t, slog.LevelInfo).With("test_node", name),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start(%s): %v", name, err)
	}
	t.Cleanup(func() {
		if err := m.Shutdown(); err != nil {
			t.Errorf("Shutdown(%s): %v", name, err)
		}
	})
	return m
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait for an event
	}
	return time.Since(start)
}

// stateOf returns name's state as seen by m, or "" if m does not know it.
func stateOf(m *Membership, name string) State {
	for _, mem := range m.Members() {
		if mem.Name == name {
			return mem.State
		}
	}
	return ""
}

func allSee(nodes []*Membership, name string, want State) func() bool {
	return func() bool {
		for _, n := range nodes {
			if stateOf(n, name) != want {
				return false
			}
		}
		return true
	}
}

func startThree(t *testing.T, mutate func(*Config)) []*Membership {
	t.Helper()
	n1 := startNode(t, "n1", nil, mutate)
	seeds := []string{n1.LocalAddr()}
	nodes := []*Membership{n1, startNode(t, "n2", seeds, mutate), startNode(t, "n3", seeds, mutate)}
	for _, name := range []string{"n1", "n2", "n3"} {
		waitFor(t, 5*time.Second, name+" alive everywhere", allSee(nodes, name, StateAlive))
	}
	return nodes
}

func TestMembership_ThreeNodesJoinViaSeedsAndShareMeta(t *testing.T) {
	nodes := startThree(t, nil)
	for _, mem := range nodes[0].Members() {
		if mem.MetaErr != nil || mem.Meta.RaftAddr != mem.Name+":8300" {
			t.Errorf("n1 sees %s with meta %+v (err %v), want RaftAddr %s:8300", mem.Name, mem.Meta, mem.MetaErr, mem.Name)
		}
	}

	meta := Meta{ActorAddr: "127.0.0.1:9000", ActorID: "sys-3", Kinds: []string{"user"}}
	if err := nodes[2].SetMeta(context.Background(), meta); err != nil {
		t.Fatalf("SetMeta: %v", err)
	}
	waitFor(t, 3*time.Second, "n3's new meta on n1 and n2", func() bool {
		for _, n := range nodes[:2] {
			for _, mem := range n.Members() {
				if mem.Name == "n3" && mem.Meta.ActorID != "sys-3" {
					return false
				}
			}
		}
		return true
	})
}

func TestMembership_SubscribersGetFullListOnChange(t *testing.T) {
	n1 := startNode(t, "n1", nil, nil)
	var mu sync.Mutex
	var last []Member
	unsubscribe := n1.Subscribe(func(ms []Member) {
		mu.Lock()
		last = ms
		mu.Unlock()
	})
	defer unsubscribe()
	lastNames := func() string {
		mu.Lock()
		defer mu.Unlock()
		s := ""
		for _, m := range last {
			s += m.Name + "=" + string(m.State) + " "
		}
		return s
	}
	waitFor(t, 2*time.Second, "initial list", func() bool { return lastNames() == "n1=alive " })
	startNode(t, "n2", []string{n1.LocalAddr()}, nil)
	waitFor(t, 3*time.Second, "list with n2", func() bool { return lastNames() == "n1=alive n2=alive " })
}

func TestMembership_DetectsKilledNodeWithinBound(t *testing.T) {
	nodes := startThree(t, nil)
	// Shutdown without Leave: the node goes silent, as after a crash.
	if err := nodes[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 5*time.Second, "n3 failed on n1 and n2", allSee(nodes[:2], "n3", StateFailed))
	t.Logf("failure of n3 detected by both survivors in %v", took)
	if took > 3*time.Second {
		t.Errorf("detection took %v, want at most 3s", took)
	}
}

func TestMembership_GracefulLeaveIsSeenAsLeft(t *testing.T) {
	nodes := startThree(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := nodes[2].Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	took := waitFor(t, 2*time.Second, "n3 left on n1 and n2", allSee(nodes[:2], "n3", StateLeft))
	t.Logf("leave of n3 seen by both survivors in %v", took)
	if err := nodes[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := nodes[2].SetMeta(ctx, Meta{}); !errors.Is(err, ErrClosed) {
		t.Errorf("SetMeta after Shutdown = %v, want ErrClosed", err)
	}
}

func TestMembership_StartFailsClearlyOnBusyPort(t *testing.T) {
	n1 := startNode(t, "n1", nil, nil)
	_, err := Start(context.Background(), Config{NodeName: "n2", BindAddr: n1.LocalAddr(), Logger: testlog.New(t, slog.LevelInfo)})
	if err == nil {
		t.Fatal("Start on a busy port succeeded")
	}
	t.Logf("error: %v", err)
}

func TestMembership_RejoinsSeedsAfterPartitionHeals(t *testing.T) {
	tests := []struct {
		name           string
		rejoinInterval time.Duration
		wantMerge      bool
	}{
		{"periodic rejoin merges", 300 * time.Millisecond, true},
		// The control: memberlist alone never contacts a forgotten dead
		// node again, so the halves stay apart.
		{"without rejoin halves stay apart", time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pn := newPartitionableNet()
			nodes := startThree(t, func(c *Config) {
				c.Transport = pn.transport(t)
				c.RejoinInterval = tt.rejoinInterval
				// Forget dead nodes quickly, so that gossip to the dead
				// cannot heal the partition and only the re-join can.
				c.GossipToTheDeadTime = 300 * time.Millisecond
			})
			n1, n2, n3 := nodes[0], nodes[1], nodes[2]

			pn.isolate(n3.LocalAddr(), n1.LocalAddr(), n2.LocalAddr())
			waitFor(t, 5*time.Second, "n3 failed on n1 and n2", allSee(nodes[:2], "n3", StateFailed))
			waitFor(t, 5*time.Second, "n1 failed on n3", allSee(nodes[2:], "n1", StateFailed))
			time.Sleep(500 * time.Millisecond) // let GossipToTheDeadTime pass: the scenario needs the time to elapse
			pn.heal()

			merged := func() bool {
				return allSee(nodes, "n1", StateAlive)() && allSee(nodes, "n2", StateAlive)() && allSee(nodes, "n3", StateAlive)()
			}
			if tt.wantMerge {
				took := waitFor(t, 5*time.Second, "all alive everywhere", merged)
				t.Logf("partition merged %v after healing", took)
				return
			}
			deadline := time.Now().Add(2 * time.Second)
			for time.Now().Before(deadline) {
				if merged() {
					t.Fatal("halves merged without the re-join; the control is void")
				}
				time.Sleep(50 * time.Millisecond) // polling interval
			}
		})
	}
}

// partitionableNet hands out memberlist transports that drop traffic
// between chosen addresses (memberlist's MockNetwork cannot drop).
type partitionableNet struct {
	mu  sync.Mutex
	cut map[[2]string]bool // both directions are stored
}

func newPartitionableNet() *partitionableNet {
	return &partitionableNet{cut: make(map[[2]string]bool)}
}

func (p *partitionableNet) isolate(addr string, others ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range others {
		p.cut[[2]string{addr, o}] = true
		p.cut[[2]string{o, addr}] = true
	}
}

func (p *partitionableNet) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.cut)
}

func (p *partitionableNet) blocked(from, to string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut[[2]string{from, to}]
}

func (p *partitionableNet) transport(t *testing.T) memberlist.NodeAwareTransport {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatalf("NewNetTransport: %v", err)
	}
	self := fmt.Sprintf("127.0.0.1:%d", nt.GetAutoBindPort())
	return &partitionTransport{NetTransport: nt, net: p, self: self}
}

// partitionTransport drops outgoing packets and refuses outgoing streams to
// cut-off peers. Cuts are symmetric, so nothing arrives from them either.
type partitionTransport struct {
	*memberlist.NetTransport
	net  *partitionableNet
	self string
}

var errPartitioned = errors.New("test: network partitioned")

func (t *partitionTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.net.blocked(t.self, addr) {
		return time.Now(), nil // lost on the wire
	}
	return t.NetTransport.WriteTo(b, addr)
}

func (t *partitionTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

func (t *partitionTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.net.blocked(t.self, addr) {
		return nil, errPartitioned
	}
	return t.NetTransport.DialTimeout(addr, timeout)
}

func (t *partitionTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}
