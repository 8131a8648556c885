package hunt

import (
	"fmt"
	"maps"
	"time"
)

// State is what a group remembers between calls for its strategies. The
// zero State is a group that has taken no call yet. Treat it as a value:
// Step returns a new State and never changes the one passed in.
type State struct {
	// RoundRobinLast is the member last offered a call. The next
	// round_robin call starts with the member after them in the configured
	// order; when they have left the group, with the first member.
	RoundRobinLast string
	// LastCall is when each member last answered a group call or, once it
	// ended, when that call ended. longest_idle rings the member with the
	// oldest time first and members without one before everybody.
	LastCall map[string]time.Time
}

// EventKind says what happened to a member during a group call.
type EventKind uint8

const (
	// Offered: the member's phones started ringing for a group call.
	Offered EventKind = iota + 1
	// Answered: the member answered a group call.
	Answered
	// Ended: the group call the member answered has ended.
	Ended
)

var eventNames = [...]string{Offered: "offered", Answered: "answered", Ended: "ended"}

// ParseEventKind parses "offered", "answered" or "ended".
func ParseEventKind(s string) (EventKind, error) {
	for k := Offered; k <= Ended; k++ {
		if eventNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("hunt: unknown event kind %q (want offered, answered or ended)", s)
}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one thing that happened to one member during a group call.
type Event struct {
	Kind EventKind
	User string
}

// Step returns the state after ev happened at now:
//
//   - Offered moves the round-robin position to the member;
//   - Answered does that too and sets the member's LastCall to now, so a
//     member who answers stops being the longest idle at once, even if the
//     end of the call is never reported;
//   - Ended sets the member's LastCall to now, the end of the call.
//
// Unanswered offers leave LastCall alone: a member who did not pick up has
// not worked, and stays first in line. Events without a user and unknown
// kinds change nothing.
func Step(st State, ev Event, now time.Time) State {
	if ev.User == "" {
		return st
	}
	switch ev.Kind {
	case Offered:
		st.RoundRobinLast = ev.User
	case Answered:
		st.RoundRobinLast = ev.User
		st.LastCall = withCall(st.LastCall, ev.User, now)
	case Ended:
		st.LastCall = withCall(st.LastCall, ev.User, now)
	}
	return st
}

// withCall returns a copy of m with user set to at.
func withCall(m map[string]time.Time, user string, at time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(m)+1)
	maps.Copy(out, m)
	out[user] = at
	return out
}

// Prune returns the state without what it remembers of users who are no
// longer members of g, so that the state stays as small as the group.
func Prune(st State, g Group) State {
	members := make(map[string]bool, len(g.Members))
	for _, m := range g.Members {
		members[m.User] = true
	}
	if !members[st.RoundRobinLast] {
		st.RoundRobinLast = ""
	}
	st.LastCall = maps.Clone(st.LastCall)
	maps.DeleteFunc(st.LastCall, func(user string, _ time.Time) bool { return !members[user] })
	return st
}
