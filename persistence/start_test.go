package persistence

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestReadAhead_SequentialReadsMatchPointReads: reading the log in order
// through the read-ahead gives exactly what point reads give, in a few
// iterator passes rather than one read per entry.
func TestReadAhead_SequentialReadsMatchPointReads(t *testing.T) {
	r := newRaftStore(t)
	const n = 1000
	if err := r.StoreLogs(logs(1, n)); err != nil {
		t.Fatal(err)
	}
	ahead := newRaftLogStore(r.s, nil)
	for i := uint64(1); i <= n; i++ {
		var got, want raft.Log
		if err := ahead.GetLog(i, &got); err != nil {
			t.Fatalf("GetLog(%d) through read-ahead: %v", i, err)
		}
		if err := r.GetLog(i, &want); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("entry %d: read-ahead %+v, point read %+v", i, got, want)
		}
	}
	if fills, most := ahead.ahead.fills, n/readAheadEntries+1; fills > most {
		t.Errorf("%d buffer fills for %d sequential reads, want at most %d", fills, n, most)
	}
	var l raft.Log
	if err := ahead.GetLog(n+1, &l); err != raft.ErrLogNotFound {
		t.Errorf("GetLog past the end: %v, want ErrLogNotFound", err)
	}
}

// TestReadAhead_OverwrittenEntriesAreReadAgain: a follower's log
// truncated and rewritten by a new leader is never served from a buffer
// filled before.
func TestReadAhead_OverwrittenEntriesAreReadAgain(t *testing.T) {
	r := newRaftStore(t)
	if err := r.StoreLogs(logs(1, 100)); err != nil {
		t.Fatal(err)
	}
	ahead := newRaftLogStore(r.s, nil)
	var l raft.Log
	for i := uint64(1); i <= 10; i++ { // the buffer now holds 2..100
		if err := ahead.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
	}
	if err := ahead.DeleteRange(50, 100); err != nil {
		t.Fatal(err)
	}
	rewritten := logs(50, 60)
	for _, e := range rewritten {
		e.Term, e.Data = 9, []byte("new")
	}
	if err := ahead.StoreLogs(rewritten); err != nil {
		t.Fatal(err)
	}
	for i := uint64(11); i <= 60; i++ {
		if err := ahead.GetLog(i, &l); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		if i >= 50 && (l.Term != 9 || string(l.Data) != "new") {
			t.Fatalf("entry %d: term %d data %q, want the rewritten one", i, l.Term, l.Data)
		}
	}
	if err := ahead.GetLog(61, &l); err != raft.ErrLogNotFound {
		t.Errorf("GetLog(61) after the truncation: %v, want ErrLogNotFound", err)
	}
}

// TestNode_StartAfterCloseReadsLittleOfTheLog: Close takes a snapshot
// when many entries came in since the last one, so the next start does
// not read the log behind it again (it used to read every entry twice:
// for configuration changes, then to apply them). Without the snapshot
// the same start reads them all.
func TestNode_StartAfterCloseReadsLittleOfTheLog(t *testing.T) {
	const entries = 600
	for _, tc := range []struct {
		name      string
		closeSnap uint64
		most      uint64 // entries a restart may read; 0: at least entries
	}{
		{"snapshot on close", 100, 50},
		{"no snapshot on close", 1 << 40, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			cfg.CloseSnapshotEntries = tc.closeSnap
			cfg.SnapshotInterval = time.Hour // only Close snapshots
			n, err := Open(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.WaitReady(t.Context()); err != nil {
				t.Fatal(err)
			}
			for i := range entries {
				mustApply(t, n, putUser(fmt.Sprintf("u%03d", i)))
			}
			before := dump(t, n.Store())
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			n = openNode(t, cfg)
			read := n.ahead.reads.Load()
			switch {
			case tc.most > 0 && read > tc.most:
				t.Errorf("the restart read %d log entries, want at most %d", read, tc.most)
			case tc.most == 0 && read < entries:
				t.Errorf("the restart read %d log entries, want the %d behind no snapshot", read, entries)
			}
			if d := diffDumps(before, dump(t, n.Store())); d != "" {
				t.Errorf("directory after the restart differs:\n%s", d)
			}
			mustApply(t, n, putUser("after-restart"))
		})
	}
}

// TestNode_OnlyVoterRestoresItsHeartbeatTimeout: a single node campaigns
// with a lowered heartbeat timeout (campaignAlone) and is back on the
// configured one once it leads.
func TestNode_OnlyVoterRestoresItsHeartbeatTimeout(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 400*time.Millisecond, 400*time.Millisecond, 20*time.Millisecond
	for range 2 { // the bootstrapping start, then a restart
		n, err := Open(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.WaitReady(t.Context()); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for n.campaigning.Load() || n.raft.ReloadableConfig().HeartbeatTimeout != cfg.HeartbeatTimeout {
			if time.Now().After(deadline) {
				t.Fatalf("heartbeat timeout %v after leading, want %v", n.raft.ReloadableConfig().HeartbeatTimeout, cfg.HeartbeatTimeout)
			}
			time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
