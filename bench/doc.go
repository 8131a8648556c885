// Package bench holds the load scenarios behind `ucgrid bench`: rights,
// presence, hunt, register, failover and scale. Each exports a Config and
// a Run function returning a Result (table, JSON, SVG plot); cmd/ucgrid
// only binds flags to them (pebble's bench/cmd split). A scenario starts
// its own cluster (StartCluster: in-process nodes, or child `ucgrid
// serve` processes) with a generated directory, or loads a running one
// (ClusterConfig.Target); SIP load comes from sipgo phone banks and trunk
// callers on 127.0.0.1, or, for hunt and register with
// SIPConfig.Generator "sipp", from the sipp binary running the scenarios
// of bench/sipp (embedded), against the bench's node or any SIP server
// (ClusterConfig.TargetSIP alone). Figures and commands: docs/benchmarks.md.
package bench
