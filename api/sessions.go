package api

import (
	"maps"
	"slices"
	"sync"

	"github.com/ucgrid/ucgrid/persistence"
)

// Open event streams end as soon as their access ends: the user is
// deleted or disabled, their password or roles change, or the token
// they were opened with ends. Every node applies every directory change
// and hears of it on its change feed; sessions reacts to the changes
// that concern a user with open streams on this node by asking each of
// them to check its access again (stream.stillSignedIn), in its own
// goroutine. Nothing polls.

// sessions are the open event streams of this node by user.
type sessions struct {
	mu     sync.Mutex
	byUser map[string]map[*stream]struct{}
	// groupUsers are a group's members, leader and deputy now (nil:
	// none); set before follow starts.
	groupUsers func(group string) []string
}

func newSessions() *sessions { return &sessions{byUser: map[string]map[*stream]struct{}{}} }

func (s *sessions) add(user string, st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byUser[user]
	if m == nil {
		m = map[*stream]struct{}{}
		s.byUser[user] = m
	}
	m[st] = struct{}{}
}

func (s *sessions) remove(user string, st *stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byUser[user], st)
	if len(s.byUser[user]) == 0 {
		delete(s.byUser, user)
	}
}

// recheck asks the streams of users (every stream when all) to check
// their access again. It never blocks: a stream has one pending request
// at most.
func (s *sessions) recheck(all bool, users ...string) {
	s.mu.Lock()
	var sts []*stream
	if all {
		for _, m := range s.byUser {
			sts = append(sts, mapsKeys(m)...)
		}
	} else {
		for _, u := range users {
			sts = append(sts, mapsKeys(s.byUser[u])...)
		}
	}
	s.mu.Unlock()
	for _, st := range sts {
		select {
		case st.recheck <- struct{}{}:
		default:
		}
	}
}

func mapsKeys(m map[*stream]struct{}) []*stream { return slices.Collect(maps.Keys(m)) }

// sessionFeedBuffer is the change feed's buffer: on overflow the feed
// sends a Reset, and every stream checks its access.
const sessionFeedBuffer = 1024

// follow reacts to directory changes until the feed closes (the
// directory closed).
func (s *sessions) follow(changes <-chan persistence.Change) {
	for c := range changes {
		switch {
		case c.Reset:
			s.recheck(true)
		case c.Kind == persistence.KindUser || c.Kind == persistence.KindToken:
			s.recheck(false, append([]string{c.ID}, c.Users...)...)
		case c.Kind == persistence.KindGroup:
			// Members, leader and deputy before and after: roles, and
			// who is logged in to the group's calls.
			s.recheck(false, c.Users...)
			if !c.Deleted && s.groupUsers != nil {
				s.groupChanged(c.ID, append(s.groupUsers(c.ID), c.Users...)...)
			}
		}
	}
}
