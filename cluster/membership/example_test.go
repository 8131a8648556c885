package membership_test

import (
	"context"
	"log/slog"

	"github.com/ucgrid/ucgrid/cluster/membership"
)

// Gossip membership alone, as Raft peer management would use it: react to
// every change with the full member list.
func ExampleStart() {
	m, err := membership.Start(context.Background(), membership.Config{
		NodeName: "node-a",
		BindAddr: "10.0.0.1:7946",
		Seeds:    []string{"10.0.0.2:7946"},
		Meta:     membership.Meta{RaftAddr: "10.0.0.1:8300", Roles: []string{"voter"}},
	})
	if err != nil {
		slog.Error("membership", "error", err)
		return
	}
	defer func() {
		if err := m.Shutdown(); err != nil {
			slog.Error("membership shutdown", "error", err)
		}
	}()

	unsubscribe := m.Subscribe(func(members []membership.Member) {
		for _, mem := range members {
			slog.Info("member", "name", mem.Name, "state", mem.State, "raft", mem.Meta.RaftAddr)
		}
	})
	defer unsubscribe()
}
