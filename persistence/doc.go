// Package persistence is ucgrid's durable directory: a Pebble store holding
// the directory, the journal and the Raft log, and the Raft FSM that applies
// directory commands on every server node.
package persistence
