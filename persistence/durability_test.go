package persistence

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The durability tests run a node in a child process (this test binary,
// re-executed with childModeEnv set), let it acknowledge writes from
// several goroutines, SIGKILL it at a random moment, reopen the data dir
// and check that every acknowledged write is there.

const (
	childModeEnv  = "UCGRID_PERSISTENCE_CHILD"
	childDirEnv   = "UCGRID_PERSISTENCE_DIR"
	childRoundEnv = "UCGRID_PERSISTENCE_ROUND"
	childWriters  = 8
)

func durabilityConfig(dir, mode string, log *slog.Logger) Config {
	cfg := Config{
		Dir: dir, NodeID: "n1", ClusterID: "durability", Logger: log,
		HeartbeatTimeout: 50 * time.Millisecond, ElectionTimeout: 50 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond, CommitTimeout: 5 * time.Millisecond,
	}
	switch mode {
	case "snapshot":
		// Snapshot and compact the log all the time.
		cfg.SnapshotInterval, cfg.SnapshotThreshold, cfg.TrailingLogs = 20*time.Millisecond, 16, 8
	default:
		// Rare snapshots, as in production, but often enough that the log
		// Raft scans at each restart stays bounded over 20 rounds.
		cfg.SnapshotInterval, cfg.SnapshotThreshold = 100*time.Millisecond, 4096
	}
	return cfg
}

// runChild is the child process: it writes until it is killed.
func runChild(mode string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := Open(ctx, durabilityConfig(os.Getenv(childDirEnv), mode, log))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	if err := n.WaitReady(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child ready:", err)
		return 2
	}
	out := &lockedWriter{w: os.Stdout}
	out.println("ready")
	for w := range childWriters {
		go childWrite(ctx, n, out, os.Getenv(childRoundEnv), w)
	}
	if mode == "snapshot" {
		go childSnapshots(ctx, n)
	}
	<-ctx.Done() // the parent kills us long before
	return 3
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// println writes one whole line with one write call.
func (l *lockedWriter) println(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, s+"\n") // a failed write only loses an ack: the parent then checks less
}

// childWrite applies a user and a journal entry of that user per step and
// prints "ack KIND ID INDEX" once each is acknowledged.
func childWrite(ctx context.Context, n *Node, out *lockedWriter, round string, w int) {
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("r%s-w%d-%d", round, w, i)
		index, err := n.Apply(ctx, putUser(id))
		if err != nil {
			fmt.Fprintln(os.Stderr, "child apply:", err)
			return
		}
		out.println(fmt.Sprintf("ack user %s %d", id, index))
		index, err = n.Apply(ctx, appendJournal(&dirpb.JournalEntry{Id: "j-" + id, Owner: id, StartUnix: int64(i)}))
		if err != nil {
			fmt.Fprintln(os.Stderr, "child apply:", err)
			return
		}
		out.println(fmt.Sprintf("ack journal j-%s %d", id, index))
	}
}

// childSnapshots takes user-triggered snapshots at random intervals, on
// top of the automatic ones.
func childSnapshots(ctx context.Context, n *Node) {
	tick := time.NewTicker(15 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if rand.IntN(2) == 0 {
				if err := n.Snapshot(ctx); err != nil {
					fmt.Fprintln(os.Stderr, "child snapshot:", err)
				}
			}
		}
	}
}

type ack struct {
	kind, id string
	index    uint64
}

func parseAck(line string) (ack, bool) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ack" {
		return ack{}, false
	}
	index, err := strconv.ParseUint(f[3], 10, 64)
	return ack{kind: f[1], id: f[2], index: index}, err == nil
}

// childRun is one started child and what it has acknowledged.
type childRun struct {
	cmd    *exec.Cmd
	ready  chan struct{}
	done   chan struct{}
	stderr bytes.Buffer
	acks   []ack
}

func startChild(t *testing.T, dir, mode string, round int) *childRun {
	t.Helper()
	c := &childRun{ready: make(chan struct{}), done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childDirEnv+"="+dir, childRoundEnv+"="+strconv.Itoa(round))
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go c.read(stdout)
	return c
}

// read collects complete lines only: a line cut by the kill is no ack.
func (c *childRun) read(r io.Reader) {
	defer close(c.done)
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSpace(line)
		if line == "ready" {
			close(c.ready)
		} else if a, ok := parseAck(line); ok {
			c.acks = append(c.acks, a)
		}
	}
}

// killAfter SIGKILLs the child delay after it is ready and reaps it.
func (c *childRun) killAfter(t *testing.T, delay time.Duration) {
	t.Helper()
	select {
	case <-c.ready:
	case <-c.done:
		t.Fatalf("child exited before ready: %s", c.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("child not ready after 30s: %s", c.stderr.String())
	}
	timer := time.NewTimer(delay) // the random moment of the crash
	select {
	case <-timer.C:
	case <-c.done:
		t.Fatalf("child exited early: %s", c.stderr.String())
	}
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.done
	_ = c.cmd.Wait() // "signal: killed" is the expected outcome
}

func runDurability(t *testing.T, mode string, rounds int) {
	if testing.Short() {
		rounds = 4
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	dir := t.TempDir()
	var all []ack
	for round := range rounds {
		c := startChild(t, dir, mode, round)
		c.killAfter(t, time.Duration(rng.IntN(250)+10)*time.Millisecond)
		checkAcked(t, dir, mode, append(sample(rng, all, 200), c.acks...))
		all = append(all, c.acks...)
	}
	t.Logf("%d acknowledged writes over %d rounds all present", len(all), rounds)
	if mode == "snapshot" {
		checkRoundTrip(t, dir, mode)
	}
}

// checkRoundTrip backs up the crashed-and-reopened directory and restores
// it into a fresh node: the two directories must be identical.
func checkRoundTrip(t *testing.T, dir, mode string) {
	t.Helper()
	src := openNode(t, durabilityConfig(dir, mode, testLogger(t)))
	var backup bytes.Buffer
	if _, err := src.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	dst := newNode(t)
	if err := dst.Restore(context.Background(), &backup); err != nil {
		t.Fatal(err)
	}
	if d := diffDumps(dump(t, src.Store()), dump(t, dst.Store())); d != "" {
		t.Fatalf("restored copy differs:\n%s", d)
	}
}

// sample returns up to k random acks of earlier rounds: a crash must not
// take back older writes either.
func sample(rng *rand.Rand, acks []ack, k int) []ack {
	if len(acks) <= k {
		return acks
	}
	out := make([]ack, k)
	for i := range out {
		out[i] = acks[rng.IntN(len(acks))]
	}
	return out
}

// checkAcked reopens dir and checks every acknowledged write is there as
// soon as the node is Ready (the last FSM batches may have to be applied
// again from the Raft log first; Ready waits for that).
func checkAcked(t *testing.T, dir, mode string, acks []ack) {
	t.Helper()
	n, err := Open(context.Background(), durabilityConfig(dir, mode, testLogger(t)))
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	var maxIndex uint64
	for _, a := range acks {
		maxIndex = max(maxIndex, a.index)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if n.Applied() < maxIndex {
		t.Fatalf("ready with applied index %d < acknowledged %d", n.Applied(), maxIndex)
	}
	for _, a := range acks {
		if err := ackPresent(n.Store(), a); err != nil {
			t.Fatalf("acknowledged %s %s (index %d) lost: %v", a.kind, a.id, a.index, err)
		}
	}
}

func ackPresent(s *Store, a ack) error {
	if a.kind == "journal" {
		_, err := s.JournalEntry(a.id)
		return err
	}
	_, err := s.User(a.id)
	return err
}

func TestDurability_AcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	runDurability(t, "writer", 20)
}

func TestDurability_AcknowledgedWritesSurviveSIGKILLWithSnapshots(t *testing.T) {
	runDurability(t, "snapshot", 20)
}
