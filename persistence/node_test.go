package persistence

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func TestConfig_ValidateNamesTheBadField(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"missing dir", Config{}, "Dir"},
		{"bad node id", Config{Dir: "d", NodeID: "a\x00b"}, "NodeID"},
		{"bad bind", Config{Dir: "d", RaftBind: "nocolon"}, "RaftBind"},
		{"tiny heartbeat", Config{Dir: "d", HeartbeatTimeout: time.Millisecond}, "HeartbeatTimeout"},
		{"lease above heartbeat", Config{Dir: "d", HeartbeatTimeout: time.Second, LeaderLeaseTimeout: 2 * time.Second}, "LeaderLeaseTimeout"},
		{"election below heartbeat", Config{Dir: "d", HeartbeatTimeout: time.Second, ElectionTimeout: 100 * time.Millisecond}, "ElectionTimeout"},
		{"too many append entries", Config{Dir: "d", MaxAppendEntries: 5000}, "MaxAppendEntries"},
		{"no snapshot kept", Config{Dir: "d", SnapshotRetain: -1}, "SnapshotRetain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "persistence: Config."+tt.field+": ") || !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v, want an ErrInvalid naming Config.%s", err, tt.field)
			}
		})
	}
	if err := (Config{Dir: "d"}).Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestNode_SingleNodeBecomesLeaderQuickly(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 0, 0, 0 // production defaults
	start := time.Now()
	n := openNode(t, cfg)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("leadership took %v, want under 2s", took)
	}
	if !n.IsLeader() {
		t.Error("single node is not the leader")
	}
	if id, addr := n.Leader(); id != "n1" || addr != n.RaftAddr() {
		t.Errorf("Leader() = %q %q, want n1 %q", id, addr, n.RaftAddr())
	}
}

func TestNode_ReopenKeepsIDsDataAndUpdatesAddress(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.NodeID, cfg.ClusterID = "", "" // generated on first start
	n, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	nodeID, clusterID := n.ID(), n.ClusterID()
	if err := n.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	index := mustApply(t, n, putUser("alice"))
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	n2 := openNode(t, cfg)
	if n2.ID() != nodeID || n2.ClusterID() != clusterID {
		t.Errorf("ids after reopen = %q/%q, want %q/%q", n2.ID(), n2.ClusterID(), nodeID, clusterID)
	}
	if _, err := n2.Store().User("alice"); err != nil {
		t.Errorf("user lost on reopen: %v", err)
	}
	if n2.Applied() < index {
		t.Errorf("Applied() = %d, want >= %d", n2.Applied(), index)
	}
	waitFor(t, "own address updated in raft configuration", func() bool {
		servers, err := n2.Servers()
		return err == nil && len(servers) == 1 && servers[0].Address == n2.RaftAddr()
	})
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestOpen_RefusesBadDataDirs(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) Config
		want    []string // substrings of the one error line
	}{
		{"other cluster", func(t *testing.T, dir string) Config {
			initDir(t, dir)
			cfg := testConfig(t, dir)
			cfg.ClusterID = "someone-else"
			return cfg
		}, []string{"belongs to cluster", "test-cluster", "someone-else", "$DIR"}},
		{"other node", func(t *testing.T, dir string) Config {
			initDir(t, dir)
			cfg := testConfig(t, dir)
			cfg.NodeID = "n2"
			return cfg
		}, []string{"belongs to node", `"n1"`, "$DIR"}},
		{"newer schema", func(t *testing.T, dir string) Config {
			initDir(t, dir)
			writeRaw(t, filepath.Join(dir, "store"), keySchema, mustMarshal(&dirpb.StoreMeta{SchemaVersion: 99}))
			return testConfig(t, dir)
		}, []string{"schema version 99", "$DIR"}},
		{"foreign files", func(t *testing.T, dir string) Config {
			if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o600); err != nil {
				t.Fatal(err)
			}
			return testConfig(t, dir)
		}, []string{"holds no ucgrid store", "notes.txt"}},
		{"foreign pebble database", func(t *testing.T, dir string) Config {
			writeRaw(t, filepath.Join(dir, "store"), []byte("their-key"), []byte("v"))
			return testConfig(t, dir)
		}, []string{"without a ucgrid schema record"}},
		{"corrupt store", func(t *testing.T, dir string) Config {
			initDir(t, dir)
			corruptManifest(t, filepath.Join(dir, "store"))
			return testConfig(t, dir)
		}, []string{"data dir", "store"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tt.prepare(t, dir)
			n, err := Open(context.Background(), cfg)
			if err == nil {
				_ = n.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "$DIR", dir)
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

// initDir creates a node's data dir (node n1 of test-cluster) and closes it.
func initDir(t *testing.T, dir string) {
	t.Helper()
	n, err := Open(context.Background(), testConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeRaw(t *testing.T, dir string, k, v []byte) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{testLogger(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func corruptManifest(t *testing.T, dir string) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no MANIFEST in %s: %v", dir, err)
	}
	for _, m := range matches {
		if err := os.WriteFile(m, bytes.Repeat([]byte{0xde, 0xad}, 512), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNode_ApplyReturnsIndexAndTypedRejection(t *testing.T) {
	n := newNode(t)
	i1 := mustApply(t, n, putUser("alice"))
	i2, err := n.Apply(context.Background(), putGroup(group("g", "", "ghost")))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Apply(group with missing member) = %v, want ErrNotFound", err)
	}
	if i2 <= i1 {
		t.Errorf("rejected command index %d not after %d", i2, i1)
	}
	_, err = n.Apply(context.Background(), &dirpb.Command{})
	if !errors.Is(err, ErrUnknownCommand) {
		t.Errorf("Apply(empty command) = %v, want ErrUnknownCommand", err)
	}
	if err := n.WaitApplied(context.Background(), i1); err != nil {
		t.Errorf("WaitApplied(%d): %v", i1, err)
	}
}

func TestNode_WaitAppliedHonoursContext(t *testing.T) {
	n := newNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := n.WaitApplied(ctx, n.Applied()+1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitApplied(far future) = %v, want deadline exceeded", err)
	}
}

func TestNode_SubscribeDeliversChangesInOrder(t *testing.T) {
	n := newNode(t)
	ch, cancel := n.Subscribe(16)
	defer cancel()
	mustApply(t, n, putUser("alice"))
	mustApply(t, n, putUser("bob"))
	index := mustApply(t, n, putGroup(group("g", "", "alice", "bob")))
	var got []Change
	for len(got) < 3 {
		got = append(got, <-ch)
	}
	if got[0].ID != "alice" || got[1].ID != "bob" || got[2].Kind != KindGroup || got[2].Index != index {
		t.Errorf("changes = %+v", got)
	}
	if users := got[2].Users; len(users) != 2 {
		t.Errorf("group change users = %v, want alice and bob", users)
	}
}

func TestNode_RestoreBackupIntoFreshNodePreservesEverything(t *testing.T) {
	src := newNode(t)
	populate(t, src)
	var backup bytes.Buffer
	if _, err := src.Backup(&backup); err != nil {
		t.Fatal(err)
	}

	dstCfg := testConfig(t, t.TempDir())
	dstCfg.NodeID, dstCfg.ClusterID = "n9", "other"
	dst := openNode(t, dstCfg)
	mustApply(t, dst, putUser("doomed")) // replaced by the restore
	ch, cancel := dst.Subscribe(4)
	defer cancel()
	if err := dst.Restore(context.Background(), bytes.NewReader(backup.Bytes())); err != nil {
		t.Fatal(err)
	}
	if d := diffDumps(dump(t, src.Store()), dump(t, dst.Store())); d != "" {
		t.Fatalf("restored directory differs:\n%s", d)
	}
	if c := <-ch; !c.Reset {
		t.Errorf("subscriber got %+v, want a Reset", c)
	}
	// The restored node goes on working and keeps the restore on reopen.
	mustApply(t, dst, putUser("after"))
	want := dump(t, dst.Store())
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	again := openNode(t, dstCfg)
	if d := diffDumps(want, dump(t, again.Store())); d != "" {
		t.Errorf("after reopen:\n%s", d)
	}
}

func TestNode_RestoreRefusesDamagedBackup(t *testing.T) {
	n := newNode(t)
	populate(t, n)
	var backup bytes.Buffer
	if _, err := n.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	before := dump(t, n.Store())
	good := backup.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated", good[:len(good)-10]},
		{"bit flipped", flipped},
		{"not a snapshot", []byte("hello world, this is not a snapshot")},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := n.Restore(context.Background(), bytes.NewReader(tt.data))
			if !errors.Is(err, errBadSnapshot) {
				t.Errorf("Restore = %v, want errBadSnapshot", err)
			}
			if d := diffDumps(before, dump(t, n.Store())); d != "" {
				t.Errorf("damaged backup changed the directory:\n%s", d)
			}
		})
	}
}

// populate fills a node with one of each record kind.
func populate(t *testing.T, n *Node) {
	t.Helper()
	g := group("sales", "700", "alice", "bob")
	g.Leader = "carol"
	g.MemberGrant = &dirpb.Grant{Rights: map[string]string{"see_presence": "true"}}
	for _, c := range []*dirpb.Command{
		putUser("alice"), putUser("bob"), putUser("carol"), putGroup(g),
		putLine(&dirpb.Line{Number: "100", Owner: "alice", Ha1Md5: "x"}),
		putGrant("alice", "bob", "team"), putPreset("bob", "alice", "business"),
		putRegistration("100", "sip:100@192.0.2.7:5060", 5000),
		appendJournal(&dirpb.JournalEntry{Owner: "alice", StartUnix: 1700000000, RemoteNumber: "+4989"}),
		{Op: &dirpb.Command_PutGlobal{PutGlobal: &dirpb.PutGlobal{Global: &dirpb.Global{Grant: &dirpb.Grant{Level: "public"}, JournalRetentionDays: 90}}}},
		{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: "carrier", Addresses: []string{"192.0.2.0/24"}}}}},
	} {
		mustApply(t, n, c)
	}
}

func TestNode_SnapshotThenReopenRestoresWhenStoreIsBehind(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n := openNode(t, cfg)
	populate(t, n)
	if err := n.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := dump(t, n.Store())
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// Pretend the directory lost its latest writes: Open must notice the
	// snapshot is ahead and let Raft restore it.
	writeRaw(t, filepath.Join(dir, "store"), keyApplied, mustMarshal(&dirpb.Applied{Index: 1, Term: 1}))
	writeRaw(t, filepath.Join(dir, "store"), key(tUser, "alice"), nil)
	n2 := openNode(t, cfg)
	if d := diffDumps(want, dump(t, n2.Store())); d != "" {
		t.Errorf("after restore on start:\n%s", d)
	}
}

func TestNode_CollectorsGatherWithUcgridPrefix(t *testing.T) {
	n := newNode(t)
	mustApply(t, n, putUser("alice"))
	reg := prometheus.NewPedanticRegistry()
	for _, c := range n.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		if !strings.HasPrefix(f.GetName(), "ucgrid_") {
			t.Errorf("metric %q lacks the ucgrid_ prefix", f.GetName())
		}
	}
	for _, want := range []string{"ucgrid_raft_state", "ucgrid_raft_applied_index", "ucgrid_persistence_apply_seconds", "ucgrid_pebble_disk_usage_bytes", "ucgrid_raft_log_append_seconds"} {
		if !names[want] {
			t.Errorf("metric %q missing", want)
		}
	}
}
