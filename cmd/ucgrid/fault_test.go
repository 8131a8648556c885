package main

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ackLog records acknowledged writes from several writers.
type ackLog struct {
	mu       sync.Mutex
	ids      []string
	maxIndex uint64
	failures map[string]int // node → failed writes
	firstOK  map[string]time.Time
}

func (a *ackLog) ack(id, index string) {
	n, _ := strconv.ParseUint(index, 10, 64) // a missing header counts as 0
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ids = append(a.ids, id)
	a.maxIndex = max(a.maxIndex, n)
}

// TestCluster_SIGKILLLeaderKeepsAcknowledgedWrites: three nodes take
// concurrent writes through all of them; the Raft leader is SIGKILLed
// mid-stream; writes resume on the survivors; every acknowledged write is
// then present on both survivors and on the restarted node.
func TestCluster_SIGKILLLeaderKeepsAcknowledgedWrites(t *testing.T) {
	c := startCluster(t, 3)
	st := c.waitVoters(3, 10*time.Second)
	tokens := map[string]string{}
	var leader *clusterNode
	for _, cn := range c.nodes {
		tokens[cn.name] = tokenFor(t, cn)
		if cn.name == st.Raft.Leader {
			leader = cn
		}
	}
	acks := &ackLog{failures: map[string]int{}}
	stop := make(chan struct{})
	var killedAt time.Time
	var killMu sync.Mutex
	var wg sync.WaitGroup
	resumed := map[string]time.Duration{}
	for _, cn := range c.nodes {
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("w-%s-%d-%d", cn.name, w, k)
					started := time.Now()
					code, _, index := bearerCall(http.MethodPut, cn.http, "/v1/users/"+id, tokens[cn.name], "", map[string]any{"display_name": id})
					if code == http.StatusOK || code == http.StatusCreated {
						acks.ack(id, index)
						killMu.Lock()
						if !killedAt.IsZero() && started.After(killedAt) && cn != leader {
							if _, ok := resumed[cn.name]; !ok {
								resumed[cn.name] = time.Since(killedAt)
							}
						}
						killMu.Unlock()
						continue
					}
					acks.mu.Lock()
					acks.failures[cn.name]++
					acks.mu.Unlock()
					if cn == leader {
						killMu.Lock()
						dead := !killedAt.IsZero()
						killMu.Unlock()
						if dead {
							return
						}
					}
					time.Sleep(20 * time.Millisecond) // back off before retrying a failed write
				}
			}()
		}
	}
	time.Sleep(1500 * time.Millisecond) // let writes flow before the kill
	killMu.Lock()
	if err := leader.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt = time.Now()
	killMu.Unlock()
	t.Logf("SIGKILLed leader %s", leader.name)
	deadline := time.Now().Add(15 * time.Second)
	for {
		killMu.Lock()
		n := len(resumed)
		killMu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	time.Sleep(500 * time.Millisecond) // some more writes under the new leader
	close(stop)
	wg.Wait()
	leader.proc.wait(10 * time.Second)
	killMu.Lock()
	t.Logf("writes acknowledged again on the survivors after %v (from SIGKILL to the first acknowledged write started after it, per node)", resumed)
	killMu.Unlock()
	if len(resumed) != 2 {
		t.Fatalf("writes did not resume on both survivors within 15s: %v", resumed)
	}
	t.Logf("%d acknowledged writes, max index %d; failed writes per node %v", len(acks.ids), acks.maxIndex, acks.failures)

	for _, cn := range c.nodes {
		if cn == leader {
			continue
		}
		if _, metrics := httpGet(t, "http://"+cn.http+"/metrics"); !regexp.MustCompile(`ucgrid_cluster_member_dead_total [1-9]`).MatchString(metrics) &&
			!strings.Contains(metrics, `ucgrid_cluster_member_events_total{event="failed"} 1`) {
			t.Errorf("%s counted no dead member", cn.name)
		}
	}
	// Restart the killed node on its data dir.
	restart := time.Now()
	c.start(leader)
	leader.proc.waitServing(clusterStart)
	t.Logf("killed node serving again after %v", time.Since(restart).Round(time.Millisecond))
	tokens[leader.name] = tokenFor(t, leader)
	index := strconv.FormatUint(acks.maxIndex, 10)
	for _, cn := range c.nodes {
		missing := 0
		for _, id := range acks.ids {
			code, body, _ := bearerCall(http.MethodGet, cn.http, "/v1/users/"+id, tokens[cn.name], index, nil)
			if code != http.StatusOK {
				missing++
				if missing < 5 {
					t.Errorf("%s: acknowledged %s: %d %s", cn.name, id, code, body)
				}
			}
		}
		if missing > 0 {
			t.Errorf("%s misses %d of %d acknowledged writes", cn.name, missing, len(acks.ids))
		}
	}
	st = c.waitVoters(3, 20*time.Second)
	if !slices.Contains(st.Raft.Voters, leader.name) {
		t.Errorf("restarted %s is not a voter again: %+v", leader.name, st.Raft)
	}
}

// TestCluster_SIGTERMLeaderHandsOverAndLeaves: SIGTERM on the leader hands
// Raft leadership over, leaves gossip, and exits 0 within the drain
// timeout; the new leader removes it from Raft at once (it left); writes go
// on; restarted, it becomes a voter again.
func TestCluster_SIGTERMLeaderHandsOverAndLeaves(t *testing.T) {
	c := startCluster(t, 3)
	st := c.waitVoters(3, 10*time.Second)
	var leader, survivor *clusterNode
	for _, cn := range c.nodes {
		if cn.name == st.Raft.Leader {
			leader = cn
		} else {
			survivor = cn
		}
	}
	sent := time.Now()
	if err := leader.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := leader.proc.wait(drainLimit); code != 0 {
		t.Fatalf("leader exit %d after SIGTERM", code)
	}
	t.Logf("leader %s exited 0 %v after SIGTERM", leader.name, time.Since(sent).Round(time.Millisecond))
	// The others have a leader and no longer count the node as a voter.
	st = c.waitVoters(2, 10*time.Second)
	if st.Raft.Leader == leader.name || slices.Contains(st.Raft.Voters, leader.name) {
		t.Fatalf("after the leave: %+v", st.Raft)
	}
	t.Logf("new leader %s, voters %v, %v after SIGTERM", st.Raft.Leader, st.Raft.Voters, time.Since(sent).Round(time.Millisecond))
	if !strings.Contains(leader.proc.errText(), "raft leadership handed over") {
		t.Errorf("no leadership hand-over logged:\n%s", leader.proc.errText())
	}
	if code, body, _ := apiCall(t, http.MethodPut, survivor.http, "/v1/users/after-leave", map[string]any{"display_name": "x"}); code != http.StatusCreated {
		t.Fatalf("write after the leave: %d %s", code, body)
	}
	c.start(leader)
	leader.proc.waitServing(clusterStart)
	st = c.waitVoters(3, 20*time.Second)
	if !slices.Contains(st.Raft.Voters, leader.name) {
		t.Errorf("restarted %s not a voter: %+v", leader.name, st.Raft)
	}
}

// drainLimit is how long a SIGTERMed node may take to exit: the drain
// timeout of serve plus start-up slack.
const drainLimit = 15 * time.Second

// TestCluster_MinorityRefusesWritesWith503: with two of three nodes gone,
// the survivor cannot reach a quorum: a write through it fails with 503
// no_quorum within ForwardTimeout, and reads are still served.
func TestCluster_MinorityRefusesWritesWith503(t *testing.T) {
	c := startCluster(t, 3)
	c.waitVoters(3, 10*time.Second)
	lone := c.nodes[2]
	if code, body, _ := apiCall(t, http.MethodPut, lone.http, "/v1/users/before", map[string]any{"display_name": "x"}); code != http.StatusCreated {
		t.Fatalf("write before: %d %s", code, body)
	}
	for _, cn := range c.nodes[:2] {
		if err := cn.proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cn.proc.wait(10 * time.Second)
	}
	start := time.Now()
	code, body, _ := apiCall(t, http.MethodPut, lone.http, "/v1/users/during", map[string]any{"display_name": "x"})
	took := time.Since(start)
	t.Logf("write on the minority side: %d after %v: %s", code, took.Round(time.Millisecond), body)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"no_quorum"`) {
		t.Fatalf("write on the minority side: %d %s", code, body)
	}
	if took > 8*time.Second {
		t.Errorf("refusal took %v", took)
	}
	if code, body, _ := apiCall(t, http.MethodGet, lone.http, "/v1/users/before", nil); code != http.StatusOK {
		t.Errorf("read on the minority side: %d %s", code, body)
	}
}
