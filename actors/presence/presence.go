// Package presence is the model of a user's presence and the rules around
// it: the states, who may change what, and what a viewer holding a given
// set of rights sees. It is pure; the user grain keeps the value in memory
// only (presence is never written to disk, logs or metric labels).
package presence

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/ucgrid/ucgrid/actors/rights"
)

// State is a user's availability.
type State uint8

// The states. Offline is the zero value: a user nobody has heard of yet.
const (
	Offline State = iota
	Available
	Away
	Busy
	DND
)

var stateNames = [...]string{"offline", "available", "away", "busy", "dnd"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(?)"
}

// ParseState returns the state with the given name.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if n == name {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("presence: unknown state %q: use available, away, busy, dnd or offline", name)
}

// MaxNoteLen is the longest note, in characters.
const MaxNoteLen = 256

// Presence is a user's presence as the user's grain holds it.
type Presence struct {
	State State
	Note  string
	// Idle is set by the client when the user has been inactive.
	Idle bool
}

// Update is a change somebody asks for; nil fields stay as they are.
type Update struct {
	State *State
	Note  *string
	Idle  *bool
}

// Errors of Apply.
var (
	ErrForbidden = errors.New("presence: not allowed")
	ErrNoteLong  = fmt.Errorf("presence: note longer than %d characters", MaxNoteLen)
)

// Apply returns p changed by u on behalf of someone holding held over the
// user (rights.All for the user themself). Changing the state or the idle
// flag needs set_presence, the note set_note; nothing is changed unless all
// of the update is allowed.
func Apply(p Presence, u Update, held rights.Set) (Presence, error) {
	if (u.State != nil || u.Idle != nil) && !held.Has(rights.SetPresence) {
		return p, fmt.Errorf("%w: changing another user's presence needs set_presence", ErrForbidden)
	}
	if u.Note != nil && !held.Has(rights.SetNote) {
		return p, fmt.Errorf("%w: changing another user's note needs set_note", ErrForbidden)
	}
	if u.Note != nil && utf8.RuneCountInString(*u.Note) > MaxNoteLen {
		return p, ErrNoteLong
	}
	if u.State != nil {
		if *u.State > DND {
			return p, fmt.Errorf("presence: unknown state %d", *u.State)
		}
		p.State = *u.State
	}
	if u.Note != nil {
		p.Note = *u.Note
	}
	if u.Idle != nil {
		p.Idle = *u.Idle
	}
	return p, nil
}

// View is what one viewer sees of a user's presence.
type View struct {
	State State
	Note  string // "" unless the viewer holds see_note
	Idle  bool   // false unless the user's idle display is on
}

// Viewable reports whether a viewer holding s sees the presence at all.
func Viewable(s rights.Set) bool { return s.Has(rights.SeePresence) }

// ViewFor returns what a viewer holding s sees, and false when they may not
// see the presence at all. idleDisplay is the central switch: when off, idle
// is never shown to others.
func ViewFor(p Presence, s rights.Set, idleDisplay bool) (View, bool) {
	if !Viewable(s) {
		return View{}, false
	}
	v := View{State: p.State, Idle: p.Idle && idleDisplay}
	if s.Has(rights.SeeNote) {
		v.Note = p.Note
	}
	return v, true
}

// Visible reports whether a change from old to new shows to a viewer
// holding s: whether their view differs. A watcher is sent an event only
// when it does, so an idle change with the idle display off, or a note
// change to a viewer without see_note, reaches nobody.
func Visible(old, new Presence, s rights.Set, idleDisplay bool) bool {
	a, ok := ViewFor(old, s, idleDisplay)
	if !ok {
		return false
	}
	b, _ := ViewFor(new, s, idleDisplay)
	return a != b
}
