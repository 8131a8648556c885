package peers

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ucgrid/ucgrid/persistence"
)

// forwarder carries writes from a follower to the leader's internal HTTP
// route (persistence.Forwarder). Why HTTP and not an actor message: it
// must work while the actor layer is down or restarting (a node blocked by
// protoactor-go, a node still joining), it reuses the port every node
// already exposes, and a signed request is easy to reason about. The
// leader's HTTP address comes from its gossip metadata.
type forwarder struct {
	client *internalClient
	// httpAddrOf returns the HTTP address gossiped by the node with that
	// Raft id.
	httpAddrOf func(raftID string) (string, bool)
}

var _ persistence.Forwarder = (*forwarder)(nil)

func (f *forwarder) Forward(ctx context.Context, leaderID string, cmd []byte) (uint64, error) {
	addr, ok := f.httpAddrOf(leaderID)
	if !ok {
		return 0, fmt.Errorf("%w: leader %q gossips no HTTP address (yet)", persistence.ErrNoLeader, leaderID)
	}
	var rep applyReply
	err := f.client.do(ctx, http.MethodPost, addr, ApplyPath, cmd, &rep)
	switch {
	case errors.Is(err, errUnsent):
		return 0, fmt.Errorf("%w: leader %q: %w", persistence.ErrNoLeader, leaderID, err)
	case err != nil:
		return 0, fmt.Errorf("%w: write forwarded to leader %q: %w", persistence.ErrOutcomeUnknown, leaderID, err)
	}
	switch rep.Outcome {
	case "applied":
		return rep.Index, nil
	case "rejected":
		return rep.Index, &persistence.CommandError{Code: rep.Code, Msg: rep.Message}
	case "not_leader":
		return 0, fmt.Errorf("%w: %q is no longer leader (it names %q)", persistence.ErrNotLeader, leaderID, rep.Leader)
	default:
		return 0, fmt.Errorf("%w: leader %q: %s", persistence.ErrOutcomeUnknown, leaderID, rep.Message)
	}
}
