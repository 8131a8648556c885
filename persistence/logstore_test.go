package persistence

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	raftbench "github.com/hashicorp/raft/bench"
)

func newRaftStore(t testing.TB) raftStore {
	t.Helper()
	s, err := openStore(t.TempDir(), vfs.Default, testLogger(t), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return raftStore{s: s}
}

func logs(from, to uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, &raft.Log{Index: i, Term: 3, Type: raft.LogCommand, Data: []byte{byte(i)}, AppendedAt: time.Unix(0, int64(i))})
	}
	return out
}

// The tests below mirror hashicorp/raft-boltdb's LogStore/StableStore tests.

func TestRaftStore_FirstAndLastIndex(t *testing.T) {
	r := newRaftStore(t)
	if first, _ := r.FirstIndex(); first != 0 {
		t.Errorf("empty FirstIndex = %d", first)
	}
	if err := r.StoreLogs(logs(5, 300)); err != nil {
		t.Fatal(err)
	}
	first, _ := r.FirstIndex()
	last, _ := r.LastIndex()
	if first != 5 || last != 300 {
		t.Errorf("First/LastIndex = %d/%d, want 5/300 (index 256 must sort after 255)", first, last)
	}
}

func TestRaftStore_GetLogRoundTripsEveryField(t *testing.T) {
	r := newRaftStore(t)
	in := &raft.Log{Index: 7, Term: 2, Type: raft.LogConfiguration, Data: []byte("data"), Extensions: []byte("ext"), AppendedAt: time.Unix(1700000000, 42)}
	if err := r.StoreLog(in); err != nil {
		t.Fatal(err)
	}
	var out raft.Log
	if err := r.GetLog(7, &out); err != nil {
		t.Fatal(err)
	}
	if out.Index != 7 || out.Term != 2 || out.Type != raft.LogConfiguration || !bytes.Equal(out.Data, in.Data) ||
		!bytes.Equal(out.Extensions, in.Extensions) || !out.AppendedAt.Equal(in.AppendedAt) {
		t.Errorf("GetLog = %+v, want %+v", out, in)
	}
	if err := r.GetLog(8, &out); !errors.Is(err, raft.ErrLogNotFound) {
		t.Errorf("GetLog(missing) = %v, want raft.ErrLogNotFound", err)
	}
}

func TestRaftStore_DeleteRangeIsInclusive(t *testing.T) {
	r := newRaftStore(t)
	if err := r.StoreLogs(logs(1, 20)); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteRange(1, 10); err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	for i, want := range map[uint64]error{1: raft.ErrLogNotFound, 10: raft.ErrLogNotFound, 11: nil, 20: nil} {
		if err := r.GetLog(i, &l); !errors.Is(err, want) {
			t.Errorf("GetLog(%d) = %v, want %v", i, err, want)
		}
	}
	if first, _ := r.FirstIndex(); first != 11 {
		t.Errorf("FirstIndex after DeleteRange = %d, want 11", first)
	}
	if err := r.DeleteRange(11, ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	if last, _ := r.LastIndex(); last != 0 {
		t.Errorf("LastIndex after deleting all = %d", last)
	}
}

func TestRaftStore_StableValues(t *testing.T) {
	r := newRaftStore(t)
	if _, err := r.Get([]byte("missing")); err == nil || err.Error() != "not found" {
		t.Errorf("Get(missing) = %v, want raft's \"not found\"", err)
	}
	if v, err := r.GetUint64([]byte("missing")); v != 0 || err != nil {
		t.Errorf("GetUint64(missing) = %d, %v", v, err)
	}
	if err := r.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Errorf("Get(k) = %q, %v", v, err)
	}
	if err := r.SetUint64([]byte("term"), 1<<40); err != nil {
		t.Fatal(err)
	}
	if v, err := r.GetUint64([]byte("term")); err != nil || v != 1<<40 {
		t.Errorf("GetUint64(term) = %d, %v", v, err)
	}
}

// The raft log never mixes with the directory: a snapshot holds none of it.
func TestRaftStore_LogStaysOutOfTheDirectory(t *testing.T) {
	r := newRaftStore(t)
	if err := r.StoreLogs(logs(1, 5)); err != nil {
		t.Fatal(err)
	}
	if err := r.Set([]byte("CurrentTerm"), []byte{1}); err != nil {
		t.Fatal(err)
	}
	if d := dump(t, r.s); len(d) != 0 {
		t.Errorf("directory holds %d raft keys", len(d))
	}
}

// hashicorp/raft's own LogStore/StableStore benchmarks (raft/bench).
func BenchmarkRaftStore(b *testing.B) {
	for _, bm := range []struct {
		name string
		fn   func(*testing.B, raft.LogStore)
	}{
		{"FirstIndex", raftbench.FirstIndex}, {"LastIndex", raftbench.LastIndex}, {"GetLog", raftbench.GetLog},
		{"StoreLog", raftbench.StoreLog}, {"StoreLogs", raftbench.StoreLogs}, {"DeleteRange", raftbench.DeleteRange},
	} {
		b.Run(bm.name, func(b *testing.B) { bm.fn(b, newRaftStore(b)) })
	}
	for _, bm := range []struct {
		name string
		fn   func(*testing.B, raft.StableStore)
	}{
		{"Set", raftbench.Set}, {"Get", raftbench.Get}, {"SetUint64", raftbench.SetUint64}, {"GetUint64", raftbench.GetUint64},
	} {
		b.Run(bm.name, func(b *testing.B) { bm.fn(b, newRaftStore(b)) })
	}
}
