package actors

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// localRegistrations are the REGISTERs a node answered while no Raft
// leader took them (the node is cut off from the majority of the
// cluster): a phone that re-registers in a cut-off site stays reachable.
// The line grains of the node see them on top of the directory's bindings
// (view), and a goroutine writes them through the directory, per line in
// the order they came, once a leader takes writes again; a line's later
// REGISTERs queue behind its pending ones meanwhile, so none is
// overtaken. They are kept in memory only: a node restarted during a cut
// forgets them, and its phones are reachable again at their next
// REGISTER. The zero value is ready.
type localRegistrations struct {
	mu      sync.Mutex
	pending map[string][]*dirpb.UpdateRegistrations // guarded by mu; line → updates, oldest first
	count   int                                     // guarded by mu: updates in pending
	running bool                                    // guarded by mu
	stop    chan struct{}                           // closed by halt; made on first use under mu
	halted  bool                                    // guarded by mu
	wg      sync.WaitGroup
}

// has reports whether line has updates waiting.
func (l *localRegistrations) has(line string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending[line]) > 0
}

// add keeps u for its line and starts the writer.
func (l *localRegistrations) add(d *Deps, u *dirpb.UpdateRegistrations) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = make(map[string][]*dirpb.UpdateRegistrations)
	}
	if len(l.pending) == 0 {
		d.Logger.Warn("actors: the directory takes no registrations (no Raft leader reachable); this node answers REGISTERs from its own bindings until it does")
	}
	l.pending[u.GetLine()] = append(l.pending[u.GetLine()], u)
	l.count++
	d.Metrics.keptRegistrations(l.count)
	if l.running || l.halted {
		return
	}
	if l.stop == nil {
		l.stop = make(chan struct{})
	}
	l.running = true
	l.wg.Go(func() { l.run(d, l.stop) })
}

// view is regs (the directory's bindings of line) with line's waiting
// updates applied in order, as the directory will hold them.
func (l *localRegistrations) view(line string, regs []*dirpb.Registration) []*dirpb.Registration {
	l.mu.Lock()
	us := l.pending[line]
	l.mu.Unlock()
	for _, u := range us {
		regs = applyRegistrations(regs, u)
	}
	return regs
}

// applyRegistrations is the directory's UpdateRegistrations on a list:
// removals first, then each put replaces the binding of its contact.
func applyRegistrations(regs []*dirpb.Registration, u *dirpb.UpdateRegistrations) []*dirpb.Registration {
	var out []*dirpb.Registration
	if !u.GetRemoveAll() {
		out = slices.DeleteFunc(slices.Clone(regs), func(r *dirpb.Registration) bool {
			return slices.Contains(u.GetRemove(), r.GetContact())
		})
	}
	for _, p := range u.GetPut() {
		out = slices.DeleteFunc(out, func(r *dirpb.Registration) bool { return r.GetContact() == p.GetContact() })
		out = append(out, p)
	}
	return out
}

// halt stops the writer and waits for it; what waits is forgotten.
func (l *localRegistrations) halt() {
	l.mu.Lock()
	if !l.halted {
		l.halted = true
		if l.stop != nil {
			close(l.stop)
		}
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// run writes the waiting updates until none wait or the node halts,
// pausing after a round that made no progress.
func (l *localRegistrations) run(d *Deps, stop <-chan struct{}) {
	retryRounds(stop, func() (bool, bool) { return l.writeRound(d) })
}

// writeRound writes the oldest waiting update of every line; more is
// false (and the goroutine ends) once none wait.
func (l *localRegistrations) writeRound(d *Deps) (more, progress bool) {
	l.mu.Lock()
	if len(l.pending) == 0 {
		l.running = false
		l.mu.Unlock()
		d.Logger.Info("actors: the registrations this node kept are written through the directory")
		return false, false
	}
	heads := make([]*dirpb.UpdateRegistrations, 0, len(l.pending))
	for _, us := range l.pending {
		heads = append(heads, us[0])
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	cmds := make([]*dirpb.Command, len(heads))
	for i, u := range heads {
		cmds[i] = &dirpb.Command{Op: &dirpb.Command_UpdateRegistrations{UpdateRegistrations: u}}
	}
	// One line's update each, so their order in the batch does not matter.
	for i, r := range d.applyGroupedAll(ctx, cmds) {
		var ce *persistence.CommandError
		if r.Err != nil && !errors.As(r.Err, &ce) {
			continue // no leader yet
		}
		if r.Err != nil {
			// The line is gone or a binding expired meanwhile: the
			// directory refused it, and there is nothing to keep.
			d.Logger.Info("actors: a registration kept during a cut was refused by the directory", "line", heads[i].GetLine(), "err", r.Err)
		}
		l.done(d, heads[i])
		progress = true
	}
	return true, progress
}

// done drops u, the oldest waiting update of its line.
func (l *localRegistrations) done(d *Deps, u *dirpb.UpdateRegistrations) {
	l.mu.Lock()
	defer l.mu.Unlock()
	us := l.pending[u.GetLine()]
	if len(us) > 0 && us[0] == u {
		us = us[1:]
		l.count--
		d.Metrics.keptRegistrations(l.count)
	}
	if len(us) == 0 {
		delete(l.pending, u.GetLine())
		return
	}
	l.pending[u.GetLine()] = us
}

// take moves the updates waiting in old (a halted writer) into l.
func (l *localRegistrations) take(d *Deps, old *localRegistrations) {
	old.mu.Lock()
	moved := old.pending
	old.pending, old.count = nil, 0
	old.mu.Unlock()
	lines := make([]string, 0, len(moved))
	for line := range moved {
		lines = append(lines, line)
	}
	slices.Sort(lines)
	for _, line := range lines {
		for _, u := range moved[line] {
			l.add(d, u)
		}
	}
}
