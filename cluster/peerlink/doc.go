// Package peerlink is a node's mutual-TLS listener for node-to-node
// traffic: one TCP port (the Raft address) whose connections are split by
// the ALPN protocol the peer negotiated, "ucgrid-raft" to the Raft
// transport (Link.Raft, a raft.StreamLayer) and "ucgrid-internal" to the
// node-to-node HTTP server (Link.Internal). A peer must present a node
// certificate of the cluster CA (cluster/pki); a connection that fails
// the handshake is closed before a byte of it is read, and logged with
// the peer's address.
package peerlink
