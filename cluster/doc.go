// Package cluster starts a ucgrid node's actor cluster and keeps it in the
// cluster: protoactor-go with remoting and site-aware rendezvous-hash
// placement (PlaceOwner: a grain lives on a member of its home site,
// Config.HomeSite, or any member while that site has none), fed by a
// ClusterProvider backed by hashicorp/memberlist (package membership).
//
// Start a node with the grain kinds it hosts, call grains with
// Node.Request, show membership with Node.Members, and stop with
// Node.Shutdown:
//
//	node, err := cluster.Start(ctx, cluster.Config{
//		Membership: membership.Config{NodeName: "a", BindAddr: "10.0.0.1:7946", Seeds: seeds},
//		Kinds:      kinds,
//		Logger:     logger,
//	})
//	...
//	resp, err := node.Request(ctx, "alice", actors.KindUser, &actorspb.GetPresence{Viewer: "bob"})
//	...
//	err = node.Shutdown(ctx)
//
// With Config.TLS (cluster/pki) remoting is mutual TLS: only nodes holding
// a certificate of the cluster CA send or receive grain messages.
//
// docs/cluster.md explains the metadata format, the failure-detection
// timing and the test approach. This package knows nothing of Raft: the
// directory's voters are managed by cluster/autopilot (the policy) and
// cluster/peers (the loop on the leader), which keep Raft's peers in step
// with the members gossip reports.
package cluster
