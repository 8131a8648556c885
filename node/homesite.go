package node

import (
	"context"
	"errors"
	"sync"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/persistence"
)

// homeSites answers placement's question "which site should host this
// grain?" from the local directory copy: a user's and a group's home_site,
// a line's owner's. Answers are cached (placement asks on every grain
// lookup) and kept right by follow, which also tells placement to move
// grains whose answer changed. Safe for concurrent use.
type homeSites struct {
	store *persistence.Store

	mu        sync.Mutex
	userSite  map[string]string // user id → home site
	groupSite map[string]string // group id → home site
	lineOwner map[string]string // line number → owner user id
	// version grows with every user, group or line change: a lookup that
	// read the store before a change it has not seen must not cache what
	// it read (follow's refresh would not know to correct it).
	version uint64
}

func newHomeSites(store *persistence.Store) *homeSites {
	h := &homeSites{store: store}
	h.reset()
	return h
}

func (h *homeSites) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.userSite, h.groupSite, h.lineOwner = map[string]string{}, map[string]string{}, map[string]string{}
}

// of is a cluster.HomeSiteFunc: the home site of a user, group or line
// grain; "" for other kinds and for records that do not exist.
func (h *homeSites) of(kind, id string) string {
	switch kind {
	case actors.KindUser:
		return h.user(id)
	case actors.KindGroup:
		return h.cached(h.groupSite, id, h.readGroup)
	case actors.KindLine:
		return h.user(h.cached(h.lineOwner, id, h.readLineOwner))
	}
	return ""
}

func (h *homeSites) user(id string) string {
	if id == "" {
		return ""
	}
	return h.cached(h.userSite, id, h.readUser)
}

// cached returns m[id], reading and storing it on a miss. A read that
// fails is not cached (the next lookup tries again).
func (h *homeSites) cached(m map[string]string, id string, read func(string) (string, bool)) string {
	h.mu.Lock()
	v, ok := m[id]
	at := h.version
	h.mu.Unlock()
	if ok {
		return v
	}
	v, ok = read(id)
	h.mu.Lock()
	if ok && at == h.version {
		m[id] = v
	}
	h.mu.Unlock()
	return v
}

// The readers return ok=false only when the store failed; a missing record
// has no home site.
func (h *homeSites) readUser(id string) (string, bool) {
	u, err := h.store.User(id)
	return u.GetHomeSite(), err == nil || errors.Is(err, persistence.ErrNotFound)
}

func (h *homeSites) readGroup(id string) (string, bool) {
	g, err := h.store.Group(id)
	return g.GetHomeSite(), err == nil || errors.Is(err, persistence.ErrNotFound)
}

func (h *homeSites) readLineOwner(number string) (string, bool) {
	l, err := h.store.Line(number)
	return l.GetOwner(), err == nil || errors.Is(err, persistence.ErrNotFound)
}

// follow keeps the cache right as directory changes arrive and calls moved
// when an answer may have changed for a grain (a home site or a line's
// owner changed): placement then moves the grains that are now owned by
// another node. It returns when ctx ends or changes closes.
func (h *homeSites) follow(ctx context.Context, changes <-chan persistence.Change, moved func()) {
	persistence.Follow(ctx, changes, func(c persistence.Change) {
		if h.changed(c) {
			moved()
		}
	})
}

// changed applies one change to the cache and reports whether a cached
// answer changed. Records never asked about are not cached, and no grain
// of them can be active here.
func (h *homeSites) changed(c persistence.Change) bool {
	if c.Reset {
		h.reset()
		h.mu.Lock()
		h.version++
		h.mu.Unlock()
		return true
	}
	switch c.Kind {
	case persistence.KindUser:
		return h.refresh(h.userSite, c.ID, h.readUser)
	case persistence.KindGroup:
		return h.refresh(h.groupSite, c.ID, h.readGroup)
	case persistence.KindLine:
		return h.refresh(h.lineOwner, c.ID, h.readLineOwner)
	}
	return false
}

// refresh re-reads a cached entry; true when its value changed.
func (h *homeSites) refresh(m map[string]string, id string, read func(string) (string, bool)) bool {
	h.mu.Lock()
	h.version++
	old, cached := m[id]
	h.mu.Unlock()
	if !cached {
		return false
	}
	v, ok := read(id)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !ok {
		delete(m, id)
		return true
	}
	m[id] = v
	return v != old
}
