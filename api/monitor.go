package api

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// monitorPlan is who a caller's monitor shows, read from the directory:
// the fixed display groups their groups give them (seed 000: "display
// members on monitor", "monitor groups", "keys"), before any live state.
type monitorPlan struct {
	groups []monitorGroupJSON
	keys   []monitorKeyJSON
	// contacts are every user shown, once, the caller excluded.
	contacts []*dirpb.User
}

// monitorGroupJSON is one non-editable display group of the monitor.
type monitorGroupJSON struct {
	// Kind is "members" (all members of the caller's groups that display
	// their members) or "monitor_group" (the members of a group one of the
	// caller's groups monitors).
	Kind string `json:"kind"`
	// Group is the monitored group's id ("" for kind members).
	Group string `json:"group"`
	Name  string `json:"name"`
	// Via lists the caller's groups that give this display group.
	Via     []string `json:"via"`
	Members []string `json:"members"`
	// LoggedOut are the members shown who are logged out of the calls of
	// the group (kind members: of one of the Via groups), sorted.
	LoggedOut []string `json:"logged_out"`
}

type monitorKeyJSON struct {
	Label  string `json:"label"`
	Number string `json:"number"`
	// Group is the caller's group that pushes the key.
	Group string `json:"group"`
}

// monitorContactJSON is one contact as the caller may see them now.
type monitorContactJSON struct {
	ID          string            `json:"id"`
	DisplayName string            `json:"display_name"`
	Presence    presenceStateJSON `json:"presence"`
	// Lines are the contact's lines the caller may see anything of.
	Lines []lineStateJSON `json:"lines"`
}

// presenceStateJSON is a presence with whether the caller may see it;
// the other fields are empty when not visible.
type presenceStateJSON struct {
	Visible bool   `json:"visible"`
	State   string `json:"state"`
	Note    string `json:"note"`
	Idle    bool   `json:"idle"`
}

func presenceStateOut(p PresenceState) presenceStateJSON {
	if !p.Visible {
		return presenceStateJSON{}
	}
	return presenceStateJSON{Visible: true, State: p.View.State.String(), Note: p.View.Note, Idle: p.View.Idle}
}

type monitorJSON struct {
	// Me is the caller with their own presence and lines.
	Me       monitorContactJSON   `json:"me"`
	Groups   []monitorGroupJSON   `json:"groups"`
	Keys     []monitorKeyJSON     `json:"keys"`
	Contacts []monitorContactJSON `json:"contacts"`
}

// planMonitor reads the caller's monitor from the directory. Only active
// groups count (seed 000: settings of an inactive group have no
// influence); disabled users are left out.
func (h *Handler) planMonitor(me string) (monitorPlan, error) {
	ms, err := h.store.GroupsOf(me)
	if err != nil {
		return monitorPlan{}, err
	}
	b := planBuilder{h: h, me: me, users: map[string]*dirpb.User{}}
	members := monitorGroupJSON{Kind: "members", Name: "My groups", Via: []string{}, Members: []string{}, LoggedOut: []string{}}
	monitored := map[string]*monitorGroupJSON{}
	var order []string
	for _, m := range ms {
		g, err := h.optionalGroup(m.Group)
		if err != nil {
			return monitorPlan{}, err
		}
		if g == nil || !g.Active {
			continue
		}
		for _, k := range g.Keys {
			b.plan.keys = append(b.plan.keys, monitorKeyJSON{Label: k.Label, Number: k.Number, Group: g.Id})
		}
		if g.DisplayMembersOnMonitor {
			members.Via = append(members.Via, g.Id)
			if err := b.addMembers(&members, g.Id); err != nil {
				return monitorPlan{}, err
			}
			addLoggedOut(&members, g)
		}
		for _, id := range g.MonitorGroups {
			if mg := monitored[id]; mg != nil {
				mg.Via = append(mg.Via, g.Id)
				continue
			}
			mg, err := b.monitorGroup(id, g.Id)
			if err != nil {
				return monitorPlan{}, err
			}
			if mg != nil {
				monitored[id] = mg
				order = append(order, id)
			}
		}
	}
	if len(members.Via) > 0 {
		b.plan.groups = append(b.plan.groups, members)
	}
	for _, id := range order {
		b.plan.groups = append(b.plan.groups, *monitored[id])
	}
	return b.finish(), nil
}

// planBuilder collects a monitorPlan.
type planBuilder struct {
	h     *Handler
	me    string
	plan  monitorPlan
	users map[string]*dirpb.User // nil value: disabled or gone
}

// monitorGroup builds the display group of group id (nil when it no
// longer exists: persistence does not check monitor_groups).
func (b *planBuilder) monitorGroup(id, via string) (*monitorGroupJSON, error) {
	g, err := b.h.optionalGroup(id)
	if err != nil || g == nil {
		return nil, err
	}
	name := g.Name
	if name == "" {
		name = g.Id
	}
	mg := &monitorGroupJSON{Kind: "monitor_group", Group: g.Id, Name: name, Via: []string{via}, Members: []string{}, LoggedOut: []string{}}
	if err := b.addMembers(mg, g.Id); err != nil {
		return nil, err
	}
	addLoggedOut(mg, g)
	return mg, nil
}

// addLoggedOut adds g's members shown in dg who are logged out of its
// calls to dg's list (each once, sorted).
func addLoggedOut(dg *monitorGroupJSON, g *dirpb.Group) {
	for _, m := range g.Members {
		if m.LoggedOut && slices.Contains(dg.Members, m.User) && !slices.Contains(dg.LoggedOut, m.User) {
			dg.LoggedOut = append(dg.LoggedOut, m.User)
		}
	}
	slices.Sort(dg.LoggedOut)
}

// addMembers adds the enabled members of group to dg (each once, the
// caller too: a display group shows everyone in it).
func (b *planBuilder) addMembers(dg *monitorGroupJSON, group string) error {
	ms, err := b.h.store.MembersOf(group)
	if err != nil {
		return err
	}
	for _, m := range ms {
		u, err := b.user(m.User)
		if err != nil {
			return err
		}
		if u != nil && !slices.Contains(dg.Members, u.Id) {
			dg.Members = append(dg.Members, u.Id)
		}
	}
	return nil
}

func (b *planBuilder) user(id string) (*dirpb.User, error) {
	if u, ok := b.users[id]; ok {
		return u, nil
	}
	u, err := b.h.optionalUser(id)
	if err != nil {
		return nil, err
	}
	if u != nil && u.Disabled {
		u = nil
	}
	b.users[id] = u
	return u, nil
}

// finish sorts every display group's members by display name and lists
// the contacts once each.
func (b *planBuilder) finish() monitorPlan {
	byName := func(x, y string) int {
		ux, uy := b.users[x], b.users[y]
		return cmp.Or(cmp.Compare(ux.DisplayName, uy.DisplayName), cmp.Compare(x, y))
	}
	for i := range b.plan.groups {
		slices.SortFunc(b.plan.groups[i].Members, byName)
	}
	for id, u := range b.users {
		if u != nil && id != b.me {
			b.plan.contacts = append(b.plan.contacts, u)
		}
	}
	slices.SortFunc(b.plan.contacts, func(x, y *dirpb.User) int { return byName(x.Id, y.Id) })
	if b.plan.keys == nil {
		b.plan.keys = []monitorKeyJSON{}
	}
	if b.plan.groups == nil {
		b.plan.groups = []monitorGroupJSON{}
	}
	return b.plan
}

// getMonitor serves GET /v1/monitor.
func (h *Handler) getMonitor(w http.ResponseWriter, r *http.Request, c *caller) error {
	plan, err := h.planMonitor(c.id())
	if err != nil {
		return err
	}
	people := append([]*dirpb.User{c.user}, plan.contacts...)
	out := make([]monitorContactJSON, len(people))
	err = forEach(r.Context(), h.cfg.Live.Parallel, len(people), func(ctx context.Context, i int) error {
		var err error
		out[i], err = h.monitorContact(ctx, c, people[i])
		return err
	})
	if err != nil {
		return err
	}
	return h.ok(w, monitorJSON{Me: out[0], Groups: plan.groups, Keys: plan.keys, Contacts: out[1:]})
}

// monitorContact asks the grains for u's presence and lines as c sees
// them.
func (h *Handler) monitorContact(ctx context.Context, c *caller, u *dirpb.User) (monitorContactJSON, error) {
	mc := monitorContactJSON{ID: u.Id, DisplayName: u.DisplayName, Lines: []lineStateJSON{}}
	v, visible, err := h.cfg.Presence.Presence(ctx, c.id(), u.Id, c.index)
	if err != nil && !errors.Is(err, ErrLiveNotFound) {
		return mc, err
	}
	mc.Presence = presenceStateOut(PresenceState{Visible: visible, View: v})
	lines, err := h.store.LinesOf(u.Id)
	if err != nil {
		return mc, err
	}
	for _, l := range lines {
		ls, err := h.lineState(ctx, c, l.Number)
		var ae *apiError
		if errors.As(err, &ae) && ae.status == http.StatusNotFound {
			continue
		}
		if err != nil {
			return mc, err
		}
		mc.Lines = append(mc.Lines, lineStateOut(ls))
	}
	return mc, nil
}

// forEach runs fn(i) for i in [0, n), at most parallel at once, and
// returns the first error (the others' ctx is then cancelled).
func forEach(ctx context.Context, parallel, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		slots = make(chan struct{}, parallel)
	)
	for i := range n {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}
