// Package membership is a node's view of the cluster through
// hashicorp/memberlist: who is alive, and each node's metadata (actor
// address and ID, grain kinds, Raft address, roles) in a small versioned
// encoding.
//
// Start joins the seeds and keeps re-joining them, so that the halves of a
// healed partition merge again. Members lists the members; Subscribe
// delivers the full list after every change, from one goroutine, never
// from inside a memberlist callback. Failure detection is tuned for a LAN
// (see Config and docs/cluster.md). A node with a site (Meta.Site) runs a
// second pool with the nodes of its site: LAN timing inside the site, WAN
// timing in the cluster-wide pool, and Members takes each member's state
// from the pool that matches (docs/multisite.md). The package knows nothing of actors or
// Raft: package cluster adapts it to protoactor-go.
package membership
