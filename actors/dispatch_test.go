package actors

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/ucgrid/ucgrid/persistence"
)

func TestAffected_JournalEntriesReloadNoGrain(t *testing.T) {
	deps := &Deps{}
	deps.local.add(KindUser, "anna", actor.NewPID("nonhost", "user/anna"))
	deps.local.add(KindLine, "100", actor.NewPID("nonhost", "line/100"))
	deps.local.setOwner("100", "anna")
	for _, tc := range []struct {
		name   string
		change persistence.Change
		want   int
	}{
		{"a journal entry of anna's", persistence.Change{Kind: persistence.KindJournal, ID: "e1", Users: []string{"anna"}}, 0},
		{"anna's user record", persistence.Change{Kind: persistence.KindUser, ID: "anna"}, 2},
		{"a reset", persistence.Change{Kind: persistence.KindJournal, Reset: true}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := affected(deps, tc.change); len(got) != tc.want {
				t.Errorf("affected %v, want %d grains", got, tc.want)
			}
		})
	}
}
