package peers

import (
	"context"
	"time"
)

// handOverTimeout bounds the leadership transfer of a leaving leader.
const handOverTimeout = 5 * time.Second

// HandOver is the first step of a graceful stop: a leader hands Raft
// leadership to the most up-to-date voter, so the cluster takes writes
// again within a round trip instead of an election timeout (and writes
// this node still forwards during its drain go to the new leader). The
// node runs it beside its SIP drain; the later steps — HTTP drain,
// leaving gossip (peers then drop the node at once and the new leader's
// autopilot removes it from Raft as "left"), closing the store — are the
// node's (node).
func (o *Ops) HandOver(ctx context.Context) {
	d := o.dir
	if !d.IsLeader() || d.SoleServer() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, handOverTimeout)
	defer cancel()
	start := time.Now()
	if err := d.TransferLeadership(ctx); err != nil {
		o.log.Warn("leave: raft leadership not handed over; the others elect a leader after the election timeout", "err", err)
		return
	}
	leader, _ := d.Leader()
	o.log.Info("leave: raft leadership handed over", "to", leader, "took", time.Since(start).Round(time.Millisecond))
}
