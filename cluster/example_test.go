package cluster_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	actorcluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/ucgrid/ucgrid/cluster"
	"github.com/ucgrid/ucgrid/cluster/membership"
)

// A node hosting one grain kind joins the cluster through two seeds, asks
// a grain, and leaves.
func ExampleStart() {
	ctx := context.Background()
	echo := actorcluster.NewKind("echo", actor.PropsFromFunc(func(c actor.Context) {
		if msg, ok := c.Message().(*wrapperspb.StringValue); ok {
			c.Respond(msg)
		}
	}))
	node, err := cluster.Start(ctx, cluster.Config{
		Membership: membership.Config{
			NodeName: "node-a",
			BindAddr: "10.0.0.1:7946",
			Seeds:    []string{"10.0.0.1:7946", "10.0.0.2:7946"},
			Meta:     membership.Meta{RaftAddr: "10.0.0.1:8300", Roles: []string{"voter"}},
		},
		Kinds:  []*actorcluster.Kind{echo},
		Logger: slog.Default(),
	})
	if err != nil {
		slog.Error("start", "error", err)
		return
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := node.Shutdown(ctx); err != nil {
			slog.Error("shutdown", "error", err)
		}
	}()

	reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := node.Request(reqCtx, "alice", "echo", wrapperspb.String("hello"))
	if err != nil {
		slog.Error("request", "error", err)
		return
	}
	slog.Info("echoed", "reply", resp.(*wrapperspb.StringValue).GetValue())
	for _, m := range node.Members() {
		slog.Info("member", "node", m.Node, "state", m.State, "address", m.ActorAddr, "kinds", m.Kinds)
	}
}
