package persistence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/ucgrid/ucgrid/internal/testlog"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m)
}

// testLogger logs warnings and errors to t.Log.
func testLogger(t testing.TB) *slog.Logger { return testlog.New(t, slog.LevelWarn) }

// testConfig is a node config with timeouts fast enough for tests.
func testConfig(t testing.TB, dir string) Config {
	return Config{
		Dir:                dir,
		NodeID:             "n1",
		ClusterID:          "test-cluster",
		Logger:             testLogger(t),
		HeartbeatTimeout:   50 * time.Millisecond,
		ElectionTimeout:    50 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
	}
}

// openNode opens a node on cfg, waits for leadership and closes it at
// the end of the test.
func openNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Dir, err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return n
}

func newNode(t testing.TB) *Node {
	t.Helper()
	return openNode(t, testConfig(t, t.TempDir()))
}

// mustApply applies cmd and fails the test on any error.
func mustApply(t testing.TB, n *Node, cmd *dirpb.Command) uint64 {
	t.Helper()
	index, err := n.Apply(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Apply(%v): %v", cmd, err)
	}
	return index
}

// dump returns every directory key and value, for before/after comparisons.
func dump(t testing.TB, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.view().scan([]byte(nsDir), []byte(nsDirEnd), func(k, v []byte) error {
		out[string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return out
}

func diffDumps(a, b map[string]string) string {
	var buf bytes.Buffer
	for k, v := range a {
		if w, ok := b[k]; !ok {
			fmt.Fprintf(&buf, "- %q\n", k)
		} else if w != v {
			fmt.Fprintf(&buf, "~ %q\n", k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			fmt.Fprintf(&buf, "+ %q\n", k)
		}
	}
	return buf.String()
}

// Command constructors keep the tests short.

func putUser(id string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: id, DisplayName: "User " + id}}}}
}

func deleteUser(id string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_DeleteUser{DeleteUser: &dirpb.DeleteUser{Id: id}}}
}

func putGroup(g *dirpb.Group) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: g}}}
}

func deleteGroup(id string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_DeleteGroup{DeleteGroup: &dirpb.DeleteGroup{Id: id}}}
}

func putLine(l *dirpb.Line) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: l}}}
}

func deleteLine(number string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_DeleteLine{DeleteLine: &dirpb.DeleteLine{Number: number}}}
}

func putGrant(target, viewer, level string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: target, Viewer: viewer, Grant: &dirpb.Grant{Level: level}}}}
}

func putPreset(target, viewer, level string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutPreset{PutPreset: &dirpb.PutGrant{Target: target, Viewer: viewer, Grant: &dirpb.Grant{Level: level}}}}
}

func deleteGrant(target, viewer string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_DeleteGrant{DeleteGrant: &dirpb.DeleteGrant{Target: target, Viewer: viewer}}}
}

func putRegistration(line, contact string, expires int64) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutRegistration{PutRegistration: &dirpb.PutRegistration{
		Registration: &dirpb.Registration{Line: line, Contact: contact, ExpiresAtUnix: expires}}}}
}

func updateRegistrations(line string, all bool, remove []string, put ...*dirpb.Registration) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_UpdateRegistrations{UpdateRegistrations: &dirpb.UpdateRegistrations{
		Line: line, Put: put, Remove: remove, RemoveAll: all}}}
}

func appendJournal(e *dirpb.JournalEntry) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_AppendJournal{AppendJournal: &dirpb.AppendJournal{Entry: e}}}
}

func group(id string, number string, members ...string) *dirpb.Group {
	g := &dirpb.Group{Id: id, Name: "Group " + id, Active: true}
	for _, m := range members {
		g.Members = append(g.Members, &dirpb.Member{User: m})
	}
	if number != "" {
		g.CallGroup = &dirpb.CallGroup{Mode: "sip", Number: number, Strategy: "ring_all"}
	}
	return g
}

// storeHarness drives the FSM directly with synthetic Raft entries: no
// Raft, no network; for fast randomized tests.
type storeHarness struct {
	t     testing.TB
	s     *Store
	f     *fsm
	index uint64
}

func newHarness(t testing.TB) *storeHarness {
	t.Helper()
	log := testLogger(t)
	s, err := openStore(t.TempDir(), vfs.Default, log, true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFSM(s, log, newFSMMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return &storeHarness{t: t, s: s, f: f}
}

// apply applies cmds as one FSM batch and returns the responses.
func (h *storeHarness) apply(cmds ...*dirpb.Command) []error {
	h.t.Helper()
	logs := make([]*raft.Log, len(cmds))
	for i, c := range cmds {
		h.index++
		logs[i] = &raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: mustMarshal(c)}
	}
	out := make([]error, len(cmds))
	for i, r := range h.f.ApplyBatch(logs) {
		if r != nil {
			out[i] = r.(error)
		}
	}
	return out
}

func (h *storeHarness) mustApply(cmds ...*dirpb.Command) {
	h.t.Helper()
	for i, err := range h.apply(cmds...) {
		if err != nil {
			h.t.Fatalf("command %d (%v): %v", i, cmds[i], err)
		}
	}
}

type raftLog = raft.Log

const logCommand = raft.LogCommand

type pbCommand = dirpb.Command

func asCommandError(err error, target **CommandError) bool { return errors.As(err, target) }
