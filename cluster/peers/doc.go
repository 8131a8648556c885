// Package peers is a node's part in its Raft cluster of peers: it joins
// the cluster, keeps Raft's configuration in step with gossip on the
// leader (cluster/autopilot, which is given each member's site so that it
// spreads the voters across sites), hands leadership over on leave, forwards
// writes to the leader and answers the other nodes' signed requests
// (/v1/internal/), reports cluster status (GET /v1/cluster: members with
// their sites, the Raft configuration, the sites' voters), and watches
// for peers that have blocked this node's actor system.
//
// The node assembly (node) builds an Ops from a Config — the
// directory, the mutual-TLS link, the gossip address and seeds, the
// cluster secret, the actor layer (Actors) — and drives it:
//
//	ops, err := peers.New(cfg)
//	...
//	err = ops.Join(ctx)             // before the directory is ready
//	err = ops.Start(ctx, gossip)    // once the actor layer runs
//	ops.StartWatchdog()
//	...
//	ops.HandOver(ctx)               // first step of a graceful stop
//	ops.StopWatchdog()
//	ops.Stop()
//
// Ops serves the node-to-node routes (InternalHandler: on the link with
// TLS, else through the API's Internal) and the cluster routes
// (api.ClusterService), and exposes its metrics with Collectors.
// docs/cluster.md describes joining, autopilot, forwarded writes, the
// request signature and the watchdog.
package peers
