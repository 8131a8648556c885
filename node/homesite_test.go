package node

import (
	"context"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/internal/testdir"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func TestHomeSites_LinesFollowTheirOwnerAndChangesMoveGrains(t *testing.T) {
	dir := testdir.Open(t, persistence.Config{NodeID: "n1", ClusterID: "homesite-test"})
	apply := func(cmd *dirpb.Command) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := dir.Apply(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	putUser := func(id, site string) {
		apply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: id, HomeSite: site}}}})
	}
	putUser("alice", "munich")
	putUser("bob", "hamburg")
	apply(&dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: "100", Owner: "alice", Kind: "primary"}}}})
	apply(&dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: &dirpb.Group{Id: "sales", HomeSite: "hamburg"}}}})

	h := newHomeSites(dir.Store())
	for _, tc := range []struct{ kind, id, want string }{
		{actors.KindUser, "alice", "munich"},
		{actors.KindLine, "100", "munich"},
		{actors.KindGroup, "sales", "hamburg"},
		{actors.KindUser, "nobody", ""},
		{actors.KindLine, "999", ""},
		{"prototopic", "x", ""},
	} {
		if got := h.of(tc.kind, tc.id); got != tc.want {
			t.Errorf("home site of %s %s = %q, want %q", tc.kind, tc.id, got, tc.want)
		}
	}

	putUser("alice", "hamburg")
	if !h.changed(persistence.Change{Kind: persistence.KindUser, ID: "alice"}) {
		t.Error("alice's new home site was not reported as a change")
	}
	if got := h.of(actors.KindLine, "100"); got != "hamburg" {
		t.Errorf("alice's line after her move: %q, want hamburg", got)
	}
	if got := h.of(actors.KindUser, "bob"); got != "hamburg" {
		t.Fatalf("bob: %q, want hamburg", got)
	}
	apply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob", HomeSite: "hamburg", DisplayName: "Bob"}}}})
	if h.changed(persistence.Change{Kind: persistence.KindUser, ID: "bob"}) {
		t.Error("a change of bob that kept his home site was reported as a move")
	}
	if h.changed(persistence.Change{Kind: persistence.KindJournal, ID: "e1"}) {
		t.Error("a journal entry was reported as a move")
	}
	if !h.changed(persistence.Change{Reset: true}) {
		t.Error("a reset was not reported")
	}
}
