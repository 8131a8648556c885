package hunt

import (
	"fmt"
	"strings"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Strategy is the order in which a group's members are rung.
type Strategy uint8

const (
	// RingAll rings every eligible member at once; the first to answer
	// takes the call. It is the zero value and the default.
	RingAll Strategy = iota
	// Sequential rings one member at a time in the configured order.
	Sequential
	// RoundRobin rings one member at a time in the configured order,
	// starting after the member last offered a call.
	RoundRobin
	// LongestIdle rings one member at a time, the one whose last answered
	// group call ended longest ago first.
	LongestIdle
)

// strategyNames are the names of the strategies, indexed by Strategy: the
// directory's one list (dirpb.Strategies), which the validators and the
// API check against too.
var strategyNames = dirpb.Strategies

// wantStrategies names them for ParseStrategy's error.
var wantStrategies = strings.Join(strategyNames[:len(strategyNames)-1], ", ") + " or " + strategyNames[len(strategyNames)-1]

// ParseStrategy parses a strategy name; "" is RingAll.
func ParseStrategy(s string) (Strategy, error) {
	if s == "" {
		return RingAll, nil
	}
	for i, name := range strategyNames {
		if s == name {
			return Strategy(i), nil
		}
	}
	return 0, fmt.Errorf("hunt: unknown strategy %q (want %s)", s, wantStrategies)
}

func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", uint8(s))
}

// MarshalText encodes the strategy as its name, for JSON.
func (s Strategy) MarshalText() ([]byte, error) {
	if int(s) >= len(strategyNames) {
		return nil, fmt.Errorf("hunt: unknown strategy %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a strategy name.
func (s *Strategy) UnmarshalText(b []byte) error {
	v, err := ParseStrategy(string(b))
	if err == nil {
		*s = v
	}
	return err
}

const (
	// DefaultRingTimeout is the total ringing time when a group sets none:
	// about a dozen rings. Long enough for a sequential group to reach four
	// members at the default member timeout; beyond a minute most callers
	// hang up, so the no-answer target should take over before that.
	DefaultRingTimeout = 60 * time.Second
	// DefaultMemberTimeout is how long one member rings in the one-at-a-time
	// strategies when the group sets none: about three rings, long enough to
	// pick up a phone on the desk, short enough that the caller reaches the
	// next member soon.
	DefaultMemberTimeout = 15 * time.Second
	// MaxRingTimeout bounds RingTimeout and MemberTimeout. A caller does not
	// listen to ringing for longer; a larger value is a typing mistake.
	MaxRingTimeout = 10 * time.Minute
	// StatusTemporarilyUnavailable is the SIP status (480) a call is
	// rejected with when there is nowhere to send it.
	StatusTemporarilyUnavailable = 480
)

// Group is the configuration of a call group and the live state of its
// members, gathered by the group grain for one call.
type Group struct {
	ID       string
	Strategy Strategy
	// RingTimeout is the total time the members ring before the call goes
	// to the no-answer handling; 0 means DefaultRingTimeout.
	RingTimeout time.Duration
	// MemberTimeout is how long each member rings in the one-at-a-time
	// strategies (not ring_all); 0 means DefaultMemberTimeout. The last
	// member reached rings only for what is left of RingTimeout.
	MemberTimeout time.Duration
	// SkipBusy leaves out members already on a call; without it they ring
	// too (call waiting).
	SkipBusy bool
	// NoAnswerTarget takes calls nobody answered, and calls no member is
	// eligible for; "" rejects them with 480.
	NoAnswerTarget string
	// ClosedTarget takes calls outside office hours; "" falls back to
	// NoAnswerTarget, then to rejecting with 480.
	ClosedTarget string
	// Members in the configured order.
	Members []Member
}

// Member is one member of a group and their state at the time of the call.
// The zero Member is logged out and unreachable: the grain fills in what it
// knows.
type Member struct {
	User string
	// LoggedIn: the member takes group calls now (members log in and out
	// of their groups, e.g. at the end of a shift).
	LoggedIn bool
	// Busy: on a call already.
	Busy bool
	// DND: do not disturb; never rung.
	DND bool
	// Reachable: the member's primary line has registered contacts.
	Reachable bool
	// RingDelay holds the member's ringing back until that long after the
	// call reached the group, in every strategy: with ring_all they join
	// the members already ringing; in the one-at-a-time strategies their
	// turn waits until the delay has passed and members after them in the
	// order go first. A delay of RingTimeout or more never rings them.
	RingDelay time.Duration
}

// WithDefaults returns the group with zero timeouts replaced by the
// defaults.
func (g Group) WithDefaults() Group {
	if g.RingTimeout == 0 {
		g.RingTimeout = DefaultRingTimeout
	}
	if g.MemberTimeout == 0 {
		g.MemberTimeout = DefaultMemberTimeout
	}
	return g
}

// Validate reports the first problem with the configuration: an unknown
// strategy, a timeout out of range, a member without user id or listed
// twice. The live member state is not checked.
func (g Group) Validate() error {
	if int(g.Strategy) >= len(strategyNames) {
		return fmt.Errorf("hunt: group=%q: strategy: unknown strategy %d", g.ID, uint8(g.Strategy))
	}
	if err := checkTimeout(g.ID, "ring_timeout", g.RingTimeout); err != nil {
		return err
	}
	if err := checkTimeout(g.ID, "member_timeout", g.MemberTimeout); err != nil {
		return err
	}
	seen := make(map[string]int, len(g.Members))
	for i, m := range g.Members {
		if m.User == "" {
			return fmt.Errorf("hunt: group=%q: members[%d]: user is empty", g.ID, i)
		}
		if m.RingDelay < 0 || m.RingDelay > MaxRingTimeout {
			return fmt.Errorf("hunt: group=%q: members[%d]: ring_delay: %s out of range 0 to %s", g.ID, i, m.RingDelay, MaxRingTimeout)
		}
		if j, dup := seen[m.User]; dup {
			return fmt.Errorf("hunt: group=%q: members[%d]: user %q already listed as members[%d]", g.ID, i, m.User, j)
		}
		seen[m.User] = i
	}
	return nil
}

func checkTimeout(group, field string, d time.Duration) error {
	if d < 0 || d > MaxRingTimeout {
		return fmt.Errorf("hunt: group=%q: %s: %s out of range 0 (default) to %s", group, field, d, MaxRingTimeout)
	}
	return nil
}
