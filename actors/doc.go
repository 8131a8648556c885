// Package actors holds ucgrid's virtual actors and the per-node machinery
// around them.
//
// The user grain (KindUser, identity = user id) owns a user's presence, in
// memory only, the watchers of that presence grouped by the node hub that
// holds their sessions, and a cache of the rights every viewer holds over the
// user, computed with actors/rights over the directory slice that
// actors/dirrights loads. Each node runs a Hub (local sessions: SSE streams,
// SIP subscriptions) and Dispatch, which forwards directory changes from the
// persistence change feed to the grains hosted on that node. What a grain
// loaded also ends at the earliest until of a grant, membership or
// deputyship it saw (dirrights.Target.Until): the grain reads it again
// then, and the user and line grains wake at that instant to tell their
// watchers, before the leader's sweep deletes what ended.
//
// Client is the typed way to call the grains from outside them: its
// methods take and return the pure types (presence.View, LineView,
// RingPlan, registrations, rights.Set) and build and read the messages in
// one place (client.go); refusals are *GrainError, matched with errors.Is
// against ErrNotFound, ErrForbidden, ErrInvalid, ErrUnavailable and
// ErrInternal (errors.go). The API's services and the SIP layer's Backend
// are small interfaces on the consumer side that Client satisfies.
//
// Grains find their node's dependencies through Register (protoactor-go's
// grain factories are package-global). Decisions live in pure packages
// (rights, presence, linestate, hunt, officehours); the grains translate
// messages and carry out effects.
//
// The line grain (KindLine, identity = line number) owns the line's calls
// (actors/linestate) and its SIP bindings, and hands the journal entry of
// every ended call to the node's journal writer, which commits them in
// batches through group commit (persistence.Node.ApplyGrouped). A node
// cut off from the Raft majority keeps calling: the writer queues the
// entries durably on the node (persistence.Store.QueueJournal) and commits
// them once a leader takes writes (Deps.ResumeJournal after a restart),
// and a REGISTER the directory cannot take is answered from bindings the
// node keeps, on disk too (persistence.Store.QueueRegistrations), and
// writes later (localregs.go, Deps.ResumeRegistrations after a restart;
// docs/multisite.md). The group
// grain (KindGroup, identity = group id) answers ring plans with the
// office-hours verdict and the members in hunt order; it keeps its
// members' availability by watching their user and line grains
// (memberwatch.go) and asks them again whenever that copy may be stale.
// Round-robin and longest-idle groups keep their hunt memory durable in
// the directory (huntmemory.go), so it survives the crash of their node.
// The line grain also knows which node's proxy holds each of its calls,
// for pickup across nodes (Client.LineCalls).
package actors
