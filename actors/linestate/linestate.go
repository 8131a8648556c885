// Package linestate is the model of a phone line's runtime state (idle,
// ringing, busy; the calls on it; forwarding) and what a viewer sees of it
// under the line rights of rights.tsv: line1_* for a primary line, line2_*
// for a secondary one. It is pure; the line grain holds the value.
package linestate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ucgrid/ucgrid/actors/rights"
)

// State is a line's call state.
type State uint8

// The line states.
const (
	Idle State = iota
	Ringing
	Busy
)

var stateNames = [...]string{"idle", "ringing", "busy"}

func (s State) String() string { return stateNames[s] }

// ParseState is String's inverse.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if n == name {
			return State(i), nil
		}
	}
	return Idle, fmt.Errorf("linestate: unknown state %q", name)
}

// Direction says who placed a call.
type Direction uint8

// The call directions.
const (
	Incoming Direction = iota
	Outgoing
)

func (d Direction) String() string {
	if d == Outgoing {
		return "out"
	}
	return "in"
}

// ParseDirection is String's inverse.
func ParseDirection(name string) (Direction, error) {
	switch name {
	case "in":
		return Incoming, nil
	case "out":
		return Outgoing, nil
	}
	return Incoming, fmt.Errorf("linestate: unknown direction %q", name)
}

// Call is one call on the line.
type Call struct {
	ID        string // the SIP Call-ID, or another id unique on the line
	Direction Direction
	Remote    string // the remote party's number
	Answered  bool   // false while ringing
	Since     time.Time
	// Started is when the call began on the line (Since moves to the
	// answer time; Started does not).
	Started time.Time
	// Group is the call group the call came through ("" = none).
	Group string
	// Node is the SIP URI of the node whose proxy holds the call ("" =
	// not known): where a pickup of it goes. Never shown to viewers.
	Node string
	// TransferredBy and TransferredTo say who transferred the call and to
	// whom ("" = not transferred): the journal entry carries them.
	TransferredBy, TransferredTo string
}

// Forwarding is the line's call forwarding: unconditional (Enabled, to
// Destination), on busy (Busy, to BusyDestination) and on no answer
// (NoAnswer, to NoAnswerDestination after NoAnswerS seconds; 0: the
// server's default). In a line's state a forward is on exactly when its
// destination is set; in a View the flags say what is on and the
// destinations are "" unless the viewer may see the numbers.
type Forwarding struct {
	Enabled             bool
	Destination         string
	Busy                bool
	BusyDestination     string
	NoAnswer            bool
	NoAnswerDestination string
	NoAnswerS           int
}

// ErrForwardToSelf: a line's forwarding names the line itself.
var ErrForwardToSelf = errors.New("linestate: forwarding to the line itself")

// MaxDestination is the longest forwarding destination, in characters.
const MaxDestination = 32

// MaxNoAnswerS bounds the no-answer delay: a phone rung for ten minutes
// is dropped as stale (MaxRinging).
const MaxNoAnswerS = 600

// CheckDestination checks a forwarding destination's syntax: 1 to
// MaxDestination of 0-9 * #, optionally after +. Whether it is a
// directory number or one the dial plan routes out is decided per call.
func CheckDestination(d string) error {
	digits := strings.TrimPrefix(d, "+")
	if digits == "" || len(digits) > MaxDestination || strings.Trim(digits, "0123456789*#") != "" {
		return fmt.Errorf("linestate: forwarding destination %q is not a number (1-%d of 0-9 * #, optionally after +)", d, MaxDestination)
	}
	return nil
}

// Check reports what is wrong with f as a line's new forwarding, and
// returns it with the flags following the destinations (a forward is on
// exactly when it has one; unconditional: when Enabled and it has one).
func (f Forwarding) Check() (Forwarding, error) {
	if f.Enabled && f.Destination == "" {
		return f, errors.New("linestate: unconditional forwarding is enabled without a destination")
	}
	for _, d := range []string{f.Destination, f.BusyDestination, f.NoAnswerDestination} {
		if d == "" {
			continue
		}
		if err := CheckDestination(d); err != nil {
			return f, err
		}
	}
	if f.NoAnswerS < 0 || f.NoAnswerS > MaxNoAnswerS {
		return f, fmt.Errorf("linestate: no-answer delay %d s is not within 0-%d", f.NoAnswerS, MaxNoAnswerS)
	}
	f.Busy, f.NoAnswer = f.BusyDestination != "", f.NoAnswerDestination != ""
	return f, nil
}

// Line is a line's runtime state.
type Line struct {
	Number     string
	Kind       rights.LineKind
	Calls      []Call
	Forwarding Forwarding
	// Ended are the ids of recently ended calls, newest last: a late or
	// repeated step of an ended call does not bring it back.
	Ended []string
}

// State derives the line state from its calls: busy with an answered call,
// ringing with only unanswered ones, idle with none.
func (l Line) State() State {
	st := Idle
	for _, c := range l.Calls {
		if c.Answered {
			return Busy
		}
		st = Ringing
	}
	return st
}

// View is what one viewer sees of a line. Hidden parts are zero and marked
// by the Sees* flags, so a client can tell "no calls" from "not shown".
type View struct {
	Number         string
	SeesState      bool
	State          State
	Calls          []CallView
	SeesForwarding bool
	Forwarding     Forwarding // Destination "" unless the viewer may see it
	CanPickup      bool       // the viewer may pick up the ringing call now
	CanForward     bool       // the viewer may change the forwarding
	// AV is how the owner's audio/video indicator shows to the viewer
	// (av_see_line_state: none hides it, gray shows a busy line as
	// "unavailable", red as "busy"). ucgrid's calls are its SIP calls, so
	// the indicator follows this line's busy state.
	AV rights.AVDisplay
}

// CallView is one call as a viewer sees it: Remote is "" unless the viewer
// holds the incoming or outgoing right of the line for its direction.
type CallView struct {
	Direction Direction
	Remote    string
	Answered  bool
}

// ViewFor returns what a viewer holding s over the line's owner sees.
func ViewFor(l Line, s rights.Set) View {
	lr := rights.LineView(s, l.Kind)
	v := View{Number: l.Number, SeesState: lr.SeeState, SeesForwarding: lr.SeeForwarding, CanForward: lr.SetForwarding}
	if lr.SeeState {
		v.State = l.State()
		v.Calls = make([]CallView, 0, len(l.Calls))
		for _, c := range l.Calls {
			cv := CallView{Direction: c.Direction, Answered: c.Answered}
			if (c.Direction == Incoming && lr.SeeIncoming) || (c.Direction == Outgoing && lr.SeeOutgoing) {
				cv.Remote = c.Remote
			}
			v.Calls = append(v.Calls, cv)
		}
	}
	if lr.SeeForwarding {
		v.Forwarding = ViewForwarding(l.Forwarding, lr.SeeForwardingNumber)
	}
	v.CanPickup = lr.Pickup && l.State() == Ringing
	v.AV = rights.ViewAVLine(s, l.State() == Busy)
	return v
}

// ViewForwarding is f as a viewer who may see forwarding sees it: the
// destinations only when they may see the numbers too.
func ViewForwarding(f Forwarding, numbers bool) Forwarding {
	v := Forwarding{Enabled: f.Enabled, Busy: f.BusyDestination != "", NoAnswer: f.NoAnswerDestination != "", NoAnswerS: f.NoAnswerS}
	if numbers {
		v.Destination, v.BusyDestination, v.NoAnswerDestination = f.Destination, f.BusyDestination, f.NoAnswerDestination
	}
	return v
}

// SetForwarding returns the line with new forwarding, set on behalf of
// someone holding s over the owner (rights.All for the owner). It is the
// one rule of the API's PUT .../forwarding and the phones' feature codes:
// the line's set_forwarding right, then f.Check.
func SetForwarding(l Line, f Forwarding, s rights.Set) (Line, error) {
	if !rights.LineView(s, l.Kind).SetForwarding {
		right := "line1_set_forwarding"
		if l.Kind == rights.SecondaryLine {
			right = "line2_set_forwarding"
		}
		return l, fmt.Errorf("linestate: changing forwarding of line %s needs %s", l.Number, right)
	}
	f, err := f.Check()
	if err != nil {
		return l, fmt.Errorf("%w (line %s)", err, l.Number)
	}
	if l.Number != "" && (f.Destination == l.Number || f.BusyDestination == l.Number || f.NoAnswerDestination == l.Number) {
		return l, fmt.Errorf("%w: line %s", ErrForwardToSelf, l.Number)
	}
	l.Forwarding = f
	return l, nil
}

// Phase is a step of a call on a line.
type Phase uint8

// The call phases.
const (
	PhaseRinging Phase = iota + 1
	PhaseAnswered
	PhaseEnded
)

var phaseNames = [...]string{PhaseRinging: "ringing", PhaseAnswered: "answered", PhaseEnded: "ended"}

func (p Phase) String() string {
	if p > 0 && int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

// ParsePhase parses a phase name.
func ParsePhase(s string) (Phase, error) {
	for p := PhaseRinging; p <= PhaseEnded; p++ {
		if phaseNames[p] == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("linestate: unknown call phase %q (want ringing, answered or ended)", s)
}

// Step is one step of one call on a line.
type Step struct {
	ID        string
	Phase     Phase
	Direction Direction
	Remote    string
	At        time.Time
	// Started, when set, is when a call first seen at this step began
	// (a hand-over of an answered call); zero means At.
	Started time.Time
	// Group is the call group of a call first seen at this step.
	Group string
	// Node is the SIP URI of the node holding the call ("" = not said).
	Node string
	// TransferredBy and TransferredTo, when set, record a transfer of
	// the call (on any step: a REFER comes during the answered call).
	TransferredBy, TransferredTo string
}

// rememberEnded is how many ended call ids a line remembers.
const rememberEnded = 32

// Limits after which a call that was never reported as ended is dropped
// (the node that carried it failed): no real phone rings for ten minutes,
// and a forgotten "busy" must not block group calls for ever.
const (
	MaxRinging  = 10 * time.Minute
	MaxAnswered = 12 * time.Hour
)

// Apply returns the line after step. Steps are idempotent, an answered call
// does not go back to ringing, and a call that ended stays ended whatever
// steps of it arrive late.
//
// Like append, Apply may reuse l's Calls and Ended arrays: the caller
// gives l up and keeps the result. A busy line holds dozens of ringing
// calls (a group called many times a second), and copying them on every
// step of every call was a measurable share of a node's CPU (issue 16).
func Apply(l Line, st Step) Line {
	if st.ID == "" || slices.Contains(l.Ended, st.ID) {
		return l
	}
	i := slices.IndexFunc(l.Calls, func(c Call) bool { return c.ID == st.ID })
	switch st.Phase {
	case PhaseRinging, PhaseAnswered:
		answered := st.Phase == PhaseAnswered
		if i < 0 {
			started := st.Started
			if started.IsZero() {
				started = st.At
			}
			l.Calls = append(l.Calls, Call{ID: st.ID, Direction: st.Direction, Remote: st.Remote, Answered: answered, Since: st.At, Started: started, Group: st.Group,
				Node: st.Node, TransferredBy: st.TransferredBy, TransferredTo: st.TransferredTo})
			break
		}
		if answered && !l.Calls[i].Answered {
			l.Calls[i].Answered, l.Calls[i].Since = true, st.At
		}
		if st.TransferredBy != "" || st.TransferredTo != "" {
			l.Calls[i].TransferredBy, l.Calls[i].TransferredTo = st.TransferredBy, st.TransferredTo
		}
		if l.Calls[i].Node == "" && st.Node != "" {
			l.Calls[i].Node = st.Node
		}
	case PhaseEnded:
		if i >= 0 {
			l.Calls = slices.Delete(l.Calls, i, i+1)
		}
		l.Ended = rememberEnd(l.Ended, st.ID)
	}
	return l
}

// rememberEnd appends id to ended, dropping the oldest beyond
// rememberEnded, in place.
func rememberEnd(ended []string, id string) []string {
	if len(ended) < rememberEnded {
		return append(ended, id)
	}
	n := copy(ended, ended[len(ended)-rememberEnded+1:])
	ended = append(ended[:n], id)
	clear(ended[len(ended):cap(ended)])
	return ended
}

// Prune drops calls older than their limit at now (MaxRinging,
// MaxAnswered) and reports whether any was dropped.
func Prune(l Line, now time.Time) (Line, bool) {
	stale := func(c Call) bool {
		limit := MaxRinging
		if c.Answered {
			limit = MaxAnswered
		}
		return now.Sub(c.Since) > limit
	}
	if !slices.ContainsFunc(l.Calls, stale) {
		return l, false
	}
	l.Calls = slices.DeleteFunc(slices.Clone(l.Calls), stale)
	return l, true
}
