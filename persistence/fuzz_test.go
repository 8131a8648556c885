package persistence

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// FuzzReadSnapshot feeds arbitrary bytes to the snapshot reader (Restore
// takes backups from outside): it must reject or accept, never panic or
// allocate without bound, and accept only streams whose keys stay inside
// the directory.
func FuzzReadSnapshot(f *testing.F) {
	h := newHarness(f)
	h.mustApply(putUser("alice"), putUser("bob"), putGroup(group("g", "700", "alice", "bob")))
	var good bytes.Buffer
	if _, err := writeSnapshot(h.s.db, &good); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:len(good.Bytes())/2])
	f.Add([]byte("UCGSNAP\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: pebbleLogger{testLogger(t)}})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		b := db.NewBatch()
		defer b.Close()
		if _, err := readSnapshot(bytes.NewReader(data), b); err != nil {
			return
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		if err := (view{db}).scan(nil, []byte(nsDir), func(k, _ []byte) error {
			if !bytes.Equal(k, keyApplied) {
				t.Errorf("accepted snapshot wrote %q outside the directory", k)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzApplyCommand applies arbitrary log entry bytes: the FSM answers each
// with nil or a *CommandError and never fails the store.
func FuzzApplyCommand(f *testing.F) {
	for _, c := range []*pbCommand{putUser("alice"), putGroup(group("g", "700", "alice")), appendJournal(nil), {}} {
		f.Add(mustMarshal(c))
	}
	h := newHarness(f)
	h.mustApply(putUser("alice"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h.index++
		resp := h.f.ApplyBatch([]*raft.Log{{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}})
		if err, ok := resp[0].(error); ok && err != nil {
			var ce *CommandError
			if !asCommandError(err, &ce) {
				t.Fatalf("internal error for %x: %v", data, err)
			}
		}
		if _, err := h.s.Failed(); err != nil {
			t.Fatalf("store failed: %v", err)
		}
	})
}
