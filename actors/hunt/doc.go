// Package hunt decides how a call to a call group rings its members: a pure
// ring plan over plain data, and the state transition that keeps the
// strategies' memory between calls.
//
// The group grain gathers a Group (configuration and each member's live
// state: logged in, busy, DND, reachable), its State and the office-hours
// verdict from package officehours, and asks RingPlan for a Plan: the
// stages of members to ring at once, each with a delay and a timeout, and
// the Fallback when the group is closed or nobody answers. The SIP proxy
// forks the INVITE stage by stage; the grain feeds what happened (Offered,
// Answered, Ended) through Step. Nothing here does I/O or reads the clock.
// Strategy names are the directory's list (dirpb.Strategies), which the
// validators and the API check against too. docs/hunt-groups.md describes
// strategies, skipping rules and defaults.
package hunt
