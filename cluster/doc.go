// Package cluster starts a ucgrid node and keeps it in its cluster: a
// hashicorp/memberlist ClusterProvider for protoactor-go, node metadata
// (actor address, Raft address, roles), and Raft peer management driven by
// membership. Nothing is implemented here yet; it arrives with the actors and
// cluster-operations issues.
package cluster
