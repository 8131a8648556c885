package actors

import (
	"encoding/binary"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors/actorspb"
)

// viewSharing groups the deliveries of one batch by view: a change shows
// to most watchers in one of very few ways (with the note, state only,
// not at all), and every session with an equal view gets the same view
// message and the same Shared, so that the consumers convert and encode
// it once per view instead of once per session. A presence batch lists
// each distinct view once already (PresenceGroup); views are still
// compared by value, so that two groups with equal views share too and
// two sessions share only what they would have been sent anyway. The
// zero value is ready; one is used for one batch by one goroutine.
type viewSharing struct {
	presences map[presenceKey]sharedPresence
	lines     []sharedLine
}

// presenceKey is every field of a PresenceView (TestViewSharing_KeyCoversEveryField
// fails when the message gains one).
type presenceKey struct {
	visible     bool
	state, note string
	idle        bool
}

type sharedPresence struct {
	view   *actorspb.PresenceView
	shared *Shared
}

type sharedLine struct {
	view   *actorspb.LineView
	shared *Shared
}

// maxSharedLines bounds the distinct line views compared per batch (a
// line shows in a few ways: with or without state, calls, forwarding);
// beyond it an event is not shared.
const maxSharedLines = 16

// presence returns the view to deliver for v and its Shared.
func (vs *viewSharing) presence(v *actorspb.PresenceView) (*actorspb.PresenceView, *Shared) {
	k := presenceKey{v.GetVisible(), v.GetState(), v.GetNote(), v.GetIdle()}
	if sp, ok := vs.presences[k]; ok {
		return sp.view, sp.shared
	}
	if vs.presences == nil {
		vs.presences = map[presenceKey]sharedPresence{}
	}
	sp := sharedPresence{v, &Shared{}}
	vs.presences[k] = sp
	return sp.view, sp.shared
}

// line returns the view to deliver for v and its Shared (nil past
// maxSharedLines distinct views).
func (vs *viewSharing) line(v *actorspb.LineView) (*actorspb.LineView, *Shared) {
	for _, sl := range vs.lines {
		if sl.view == v || proto.Equal(sl.view, v) {
			return sl.view, sl.shared
		}
	}
	if len(vs.lines) == maxSharedLines {
		return v, nil
	}
	sl := sharedLine{v, &Shared{}}
	vs.lines = append(vs.lines, sl)
	return sl.view, sl.shared
}

// errSessionList is a PresenceGroup whose session list is cut short or
// names an empty session.
var errSessionList = errors.New("actors: malformed session list in a presence batch")

// appendSessionID appends id to a PresenceGroup's session list.
func appendSessionID(list []byte, id string) []byte {
	list = binary.AppendUvarint(list, uint64(len(id)))
	return append(list, id...)
}

// nextSessionID reads the first id of a session list and returns it with
// the rest of the list. The id aliases list: look it up as
// m[string(id)], which does not copy.
func nextSessionID(list []byte) (id, rest []byte, err error) {
	n, k := binary.Uvarint(list)
	if k <= 0 || n == 0 || n > uint64(len(list)-k) {
		return nil, nil, errSessionList
	}
	return list[k : k+int(n)], list[k+int(n):], nil
}
