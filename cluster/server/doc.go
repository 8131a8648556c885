// Package server assembles one ucgrid node from its parts: the durable
// directory (persistence), the HTTP server (api) and, as they arrive, the
// actor cluster and the SIP front end. cmd/ucgrid binds flags to its Config.
//
// Start fills in Config's defaults (Config.WithDefaults) and refuses a
// config Config.Validate rejects, naming the field, before it binds a port
// or touches the data directory. It then opens the data directory, starts
// Raft, creates the system owner "admin" on a first start, and serves
// /healthz, /readyz and /metrics.
// Shutdown stops in the reverse order and flushes the store.
//
// With Config.TLS every link to other nodes is mutual TLS: Raft and the
// node-to-node HTTP routes share the Raft address (cluster/peerlink), and
// actor remoting uses gRPC transport credentials. Without it Start
// refuses Raft, actor or gossip addresses other hosts can reach, unless
// Config.InsecureCluster (ErrInsecureCluster).
package server
