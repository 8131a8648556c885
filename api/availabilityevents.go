package api

import (
	"slices"
	"sync"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Availability on the event stream: when a group changes (a member logs
// in or out, or the group is PUT), the streams of its members, leader
// and deputy (now, and those the change names) get a "group_availability" event with
// the group's whole logged-out list, read from this node's directory
// (which has applied the change when the feed reports it). Live only:
// the state at start is in GET /v1/monitor and GET /v1/groups/{id}.

// groupWake collects the groups a stream must send, and wakes it.
type groupWake struct {
	mu      *sync.Mutex
	pending map[string]bool
	wake    chan struct{}
}

func newGroupWake() groupWake {
	return groupWake{mu: &sync.Mutex{}, pending: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// add marks group for sending; it never blocks.
func (g groupWake) add(group string) {
	g.mu.Lock()
	g.pending[group] = true
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// take returns the marked groups, sorted, and clears them.
func (g groupWake) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.pending))
	for id := range g.pending {
		out = append(out, id)
	}
	clear(g.pending)
	slices.Sort(out)
	return out
}

// groupUsers are the members, leader and deputy of group in this node's
// directory (none when it cannot be read: the streams simply get no
// event).
func (h *Handler) groupUsers(group string) []string {
	g, err := h.optionalGroup(group)
	if err != nil || g == nil {
		return nil
	}
	out := []string{g.Leader, g.Deputy}
	for _, m := range g.Members {
		out = append(out, m.User)
	}
	return out
}

// groupChanged tells the streams of users that group changed (each
// stream once).
func (s *sessions) groupChanged(group string, users ...string) {
	s.mu.Lock()
	sts := map[*stream]struct{}{}
	for _, u := range users {
		for st := range s.byUser[u] {
			sts[st] = struct{}{}
		}
	}
	s.mu.Unlock()
	for st := range sts {
		st.groups.add(group)
	}
}

// groupAvailabilityJSON is the data of a "group_availability" event.
type groupAvailabilityJSON struct {
	Group     string   `json:"group"`
	LoggedOut []string `json:"logged_out"`
}

// sendAvailability adds an event per changed group the caller is still a
// member, leader or deputy of.
func (st *stream) sendAvailability() {
	for _, id := range st.groups.take() {
		g, err := st.h.optionalGroup(id)
		if err != nil || g == nil || !inGroup(g, st.c.id()) {
			continue
		}
		st.send("group_availability", groupAvailabilityOut(g))
	}
}

func inGroup(g *dirpb.Group, user string) bool {
	return g.Leader == user || g.Deputy == user || slices.ContainsFunc(g.Members, func(m *dirpb.Member) bool { return m.User == user })
}

func groupAvailabilityOut(g *dirpb.Group) groupAvailabilityJSON {
	out := groupAvailabilityJSON{Group: g.Id, LoggedOut: []string{}}
	for _, m := range g.Members {
		if m.LoggedOut {
			out.LoggedOut = append(out.LoggedOut, m.User)
		}
	}
	slices.Sort(out.LoggedOut)
	return out
}
