// Package actors holds ucgrid's virtual actors and the per-node machinery
// around them.
//
// The user grain (KindUser, identity = user id) owns a user's presence, in
// memory only, the watchers of that presence grouped by the node hub that
// holds their sessions, and a cache of the rights every viewer holds over the
// user, computed with actors/rights over the directory slice that
// actors/dirrights loads. Each node runs a Hub (local sessions: SSE streams,
// SIP subscriptions) and Dispatch, which forwards directory changes from the
// persistence change feed to the grains hosted on that node.
//
// Grains find their node's dependencies through Register (protoactor-go's
// grain factories are package-global). Decisions live in pure packages
// (rights, presence, linestate, hunt, officehours); the grains translate
// messages and carry out effects. The line and group grains are not written
// yet.
package actors
