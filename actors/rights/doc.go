// Package rights is ucgrid's rights engine: pure functions over plain data
// that decide what a viewer may see and do of a target user.
//
// The catalogue (23 rights, 17 contact fields, 10 services and the five
// standard levels blocked < public < business < team < personal) is Go data
// transcribed from the project's spec tables. A Set holds rights as a bitset in
// which the two graded rights are stored in unary ("thermometer") code, so
// that the union of sets, with graded rights taking the maximum, is a single
// bitwise OR.
//
// Effective and Explain compute the union of the five additive layers of
// DESIGN.md §2 (global, group, leader, admin preset, user) for one
// viewer/target pair; Explain also says which layers and groups gave each
// right, and when each contributing layer ends (Grant.Until and the group
// ends: a layer that ended is left out by whoever gathers the Pair).
// Nothing here does I/O, reads the clock or imports the actor system:
// callers gather a Pair from the directory and ask.
package rights
