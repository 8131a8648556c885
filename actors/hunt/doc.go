// Package hunt decides how a call to a call group rings its members: a pure
// ring plan over plain data, and the state transition that keeps the
// strategies' memory between calls.
//
// The group grain gathers a Group (configuration and each member's live
// state: logged in, busy, DND, reachable), its State and the office-hours
// verdict from package officehours, and asks RingPlan for a Plan: the
// stages of members to ring at once, each with a delay and a timeout, and
// the Fallback when the group is closed or nobody answers. The SIP proxy
// forks the INVITE stage by stage as the stages come due (they may
// overlap); the grain feeds what happened (Offered, Answered, Ended)
// through Step.
//
// A member's ring delay (Member.RingDelay) holds their ringing back in
// every strategy: with ring_all they join the members already ringing
// (one stage per delay, each to the end of the ring timeout); in the
// one-at-a-time strategies their turn waits until the delay has passed
// and members after them in the order whose delay has passed go first;
// when only members still waiting are left, nobody rings until the first
// of them is due. Stage.NotBefore carries the delay, so that a proxy
// moving on early after refusals never rings a member before it. Nothing here does I/O or reads the clock.
// Strategy names are the directory's list (dirpb.Strategies), which the
// validators and the API check against too. docs/hunt-groups.md describes
// strategies, skipping rules and defaults.
package hunt
