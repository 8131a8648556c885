package persistence

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func putTrunk(id string, addrs ...string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutTrunk{PutTrunk: &dirpb.PutTrunk{Trunk: &dirpb.Trunk{Id: id, Addresses: addrs}}}}
}

// trunksString is "id=addr,addr id=…" of Store.Trunks.
func trunksString(t *testing.T, s *Store) string {
	t.Helper()
	trunks, err := s.Trunks()
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, tr := range trunks {
		parts = append(parts, tr.GetId()+"="+strings.Join(tr.GetAddresses(), ","))
	}
	return strings.Join(parts, " ")
}

// The SIP proxy asks Trunks on every INVITE; a trunk added, changed or
// removed must count for the next call, never a cached list.
func TestStore_TrunksSeesEveryCommittedChangeAtOnce(t *testing.T) {
	n := newNode(t)
	s := n.Store()
	steps := []struct {
		cmd  *dirpb.Command
		want string
	}{
		{putTrunk("carrier", "192.0.2.0/24"), "carrier=192.0.2.0/24"},
		{putTrunk("backup", "198.51.100.7/32"), "backup=198.51.100.7/32 carrier=192.0.2.0/24"},
		{putTrunk("carrier", "203.0.113.0/28"), "backup=198.51.100.7/32 carrier=203.0.113.0/28"},
		{&dirpb.Command{Op: &dirpb.Command_DeleteTrunk{DeleteTrunk: &dirpb.DeleteTrunk{Id: "backup"}}}, "carrier=203.0.113.0/28"},
		// Other changes leave the cached list as it is.
		{putUser("alice"), "carrier=203.0.113.0/28"},
	}
	if got := trunksString(t, s); got != "" {
		t.Fatalf("new directory: trunks %q", got)
	}
	for i, st := range steps {
		mustApply(t, n, st.cmd)
		// Twice: the first read may fill the cache, the second uses it.
		for range 2 {
			if got := trunksString(t, s); got != st.want {
				t.Fatalf("step %d: trunks %q, want %q", i, got, st.want)
			}
		}
	}

	// A restored snapshot replaces the trunks.
	src := newNode(t)
	mustApply(t, src, putTrunk("other", "10.1.2.3/32"))
	var backup bytes.Buffer
	if _, err := src.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	if err := n.Restore(context.Background(), &backup); err != nil {
		t.Fatal(err)
	}
	if got := trunksString(t, s); got != "other=10.1.2.3/32" {
		t.Fatalf("after restore: trunks %q, want other=10.1.2.3/32", got)
	}
}

func TestStore_GenerationGrowsOnlyWithItsKinds(t *testing.T) {
	n := newNode(t)
	s := n.Store()
	users, trunks := s.Generation(KindUser), s.Generation(KindTrunk)
	mustApply(t, n, putUser("alice"))
	if s.Generation(KindUser) == users {
		t.Error("a user change left Generation(KindUser) as it was")
	}
	if s.Generation(KindTrunk) != trunks {
		t.Error("a user change moved Generation(KindTrunk)")
	}
	both := s.Generation(KindUser, KindTrunk)
	mustApply(t, n, putTrunk("carrier", "192.0.2.0/24"))
	if s.Generation(KindUser, KindTrunk) == both {
		t.Error("a trunk change left Generation(KindUser, KindTrunk) as it was")
	}
}
