package node

import (
	"context"
	"sync"
	"time"
)

const (
	// sipDrainReserve is the part of the stop's deadline the SIP drain
	// leaves to the steps after it (HTTP, SIP sockets, leaving gossip and
	// handing grains over, closing the store: under a second here, so 3 s
	// is ample). With serve's 10 s drain timeout calls get 7 s to end.
	sipDrainReserve = 3 * time.Second
	// sipDrainMax bounds the SIP drain of a stop without deadline: a
	// ringing call may ring for minutes.
	sipDrainMax = 7 * time.Second
)

// drain is the first step of a graceful stop: the SIP server stops taking
// new calls and registrations (503, so phones fail over to another node)
// and lets the calls under way finish while a leader hands Raft
// leadership over (peers.Ops.HandOver); both run at once. It is the
// node's stop, not cluster/peers': it orders SIP, which peers does not
// know, around the hand-over. It returns when both are done or
// the SIP drain deadline (sipDrainDeadline) passed; calls still open
// then are ended by stopSIP. Everything else of the node keeps serving
// meanwhile: the grains the calls report to, HTTP, gossip.
func (s *Node) drain(ctx context.Context) {
	var wg sync.WaitGroup
	if s.ops != nil {
		wg.Go(func() { s.ops.HandOver(ctx) }) // writes go on elsewhere while this node drains
	}
	if s.sip != nil {
		dctx, cancel := context.WithDeadline(ctx, sipDrainDeadline(ctx, time.Now()))
		defer cancel()
		// A drain cut short is no failure of the stop: the remaining
		// calls are ended as they would be without a drain.
		_ = s.sip.Drain(dctx) // logged by the SIP server
	}
	wg.Wait()
}

// sipDrainDeadline is when the SIP drain of a stop bounded by ctx must
// end: sipDrainReserve before ctx's deadline, at most sipDrainMax from
// now.
func sipDrainDeadline(ctx context.Context, now time.Time) time.Time {
	limit := now.Add(sipDrainMax)
	if d, ok := ctx.Deadline(); ok && d.Add(-sipDrainReserve).Before(limit) {
		return d.Add(-sipDrainReserve)
	}
	return limit
}
