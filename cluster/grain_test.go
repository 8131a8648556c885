package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	actorcluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// echoKind is the test grain kind. Messages are wrapperspb values: only
// protobuf survives protoactor-go's remote.
const echoKind = "echo"

// echoGrain answers every StringValue with "node activation count": the
// node hosting it, its activation's process ID, and how many requests this
// activation has seen. Same activation = same node and process ID.
type echoGrain struct {
	node  string
	count int
}

func newEchoKind(node string) *actorcluster.Kind {
	return actorcluster.NewKind(echoKind, actor.PropsFromProducer(func() actor.Actor {
		return &echoGrain{node: node}
	}))
}

func (g *echoGrain) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*wrapperspb.StringValue); ok {
		g.count++
		ctx.Respond(wrapperspb.String(fmt.Sprintf("%s %s %d", g.node, ctx.Self().Id, g.count)))
	}
}

// echoReply is a parsed echoGrain response.
type echoReply struct {
	Node       string `json:"node"`
	Activation string `json:"activation"`
	Count      int    `json:"count"`
}

func parseEchoReply(t testing.TB, s string) echoReply {
	t.Helper()
	r, err := parseEcho(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func parseEcho(s string) (echoReply, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return echoReply{}, fmt.Errorf("echo reply %q: want 3 fields", s)
	}
	count, err := strconv.Atoi(f[2])
	if err != nil {
		return echoReply{}, fmt.Errorf("echo reply %q: %w", s, err)
	}
	return echoReply{Node: f[0], Activation: f[1], Count: count}, nil
}

// newKindNamed is a kind that ignores every message.
func newKindNamed(name string) *actorcluster.Kind {
	return actorcluster.NewKind(name, actor.PropsFromFunc(func(actor.Context) {}))
}
