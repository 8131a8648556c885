// Package node assembles one ucgrid node from its parts: the durable
// directory (persistence), the actor cluster and its grains (cluster,
// actors), the HTTP API (api) and the SIP front end (sip). cmd/ucgrid
// binds flags to its Config.
//
// Start fills in Config's defaults (Config.WithDefaults) and refuses a
// config Config.Validate rejects, naming the field, before it binds a port
// or touches the data directory. It then opens the data directory, starts
// Raft, joins the actor cluster, creates the system owner "admin" on a
// first start, mounts the API and /healthz, /readyz and /metrics, and
// starts SIP; docs/persistence.md "Start" lists the phases. With
// Config.Demo it refuses a directory holding more than the system owner
// (ErrDirectoryNotEmpty) before the actor layer starts, and fills it with
// the demo company (package demo) through the API before it turns ready. Shutdown
// drains SIP and stops in the reverse order, and flushes the store.
//
// The node's part in its Raft cluster — joining, the leader's autopilot,
// forwarded writes, the signed node-to-node routes, cluster status, the
// leadership hand-over on leave and the blocked-node watchdog — is
// cluster/peers: the node builds a peers.Ops (peers.go), starts and stops
// it, serves its handler on the mutual-TLS link and mounts it in the API,
// and restarts the actor layer when its watchdog asks (actorlayer.go).
// The graceful stop's drain (leave.go) stays here: it runs the SIP drain
// beside the hand-over and orders the node's stop.
//
// The API's presence, line state and reverse lookups and the SIP layer's
// Backend are actors.Client on grainClient (the node's current actor
// layer), the event streams api.HubEvents on the node's actors.Hub; the
// directory's upkeep is persistence.Node.StartSweeps, the live chat
// delivery actors.Hub.FollowChats. With Config.LDAP the node runs an
// ldapsync.Runner (ldap.go): the API's POST /v1/ldap/sync, and the watch
// loop whose syncs run on whichever node leads.
//
// With Config.Site the node names its site: Start refuses a site other
// than the one the cluster recorded for the node (ErrSiteMismatch,
// site.go), the API homes users and groups created here in it, and the
// actor layer places user, line and group grains on their home site's
// nodes, answering placement from the directory copy (homesite.go;
// docs/multisite.md).
//
// With Config.TLS every link to other nodes is mutual TLS: Raft and the
// node-to-node HTTP routes share the Raft address (cluster/peerlink), and
// actor remoting uses gRPC transport credentials. Without it Start
// refuses Raft, actor or gossip addresses other hosts can reach, unless
// Config.InsecureCluster (ErrInsecureCluster).
package node
