// Package persistence is ucgrid's durable directory: users, groups, lines,
// grants, global settings, trunks and the dial plan, SIP registrations,
// the call groups' hunt memory and the call journal,
// replicated by Raft (hashicorp/raft) and stored, together with the Raft
// log, in one Pebble database per node.
//
// Open starts a Node on a data directory; a fresh single node bootstraps
// itself as the only voter, so one node and a cluster run the same code.
// Writes are typed commands (dirpb.Command) proposed with Node.Apply, which
// returns the Raft index once the command is durable and applied on this
// node; WaitApplied lets a read on any node wait for that index.
// Node.ApplyGrouped is Apply through group commit: the commands of
// concurrent callers share one Raft entry (a dirpb.Batch), each with its
// own result. Rejected
// commands come back as *CommandError (errors.Is ErrInvalid, ErrNotFound, ErrLimit,
// ErrConflict, ErrUnknownCommand) and change nothing, identically on every
// node. Reads go through Node.Store: point lookups and index scans, never
// whole-table scans on hot paths. Subscribe delivers a Change for every
// applied command, with a Reset when a slow subscriber fell behind.
// Node.StartSweeps runs the leader's upkeep: expired tokens and
// registrations, grants, presets, memberships and deputies at their until
// (ExpireGrants, timed at the earliest one), and journal entries and chat
// messages past their retention, deleted through Raft. Until the sweep,
// the typed reads already leave out grants, memberships and deputies
// whose until passed on the node's clock (Config.Now, Store.Now).
// Store.QueueJournal keeps, on this node only and outside Raft, the journal
// entries it could not commit for want of a leader, until the journal
// writer (actors) commits them (QueuedJournalEntries, DequeueJournal);
// Store.QueueRegistrations keeps, the same way, the registration updates
// the node answered REGISTERs with while no leader took them
// (QueuedRegistrationUpdates, DequeueRegistrations).
//
// The keyspace is documented in docs/keyspace.md; durability, snapshots,
// failure handling and benchmark figures in docs/persistence.md. Presence
// is never stored here.
package persistence
