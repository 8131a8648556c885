package actors

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

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
// overtaken. Each is also stored in the node's registration queue on disk
// (persistence.Store.QueueRegistrations) before the REGISTER is answered,
// so a node restarted during a cut reads them back (resume) and its
// phones stay reachable; one the disk refused is kept in memory only. The
// zero value is ready.
type localRegistrations struct {
	mu      sync.Mutex
	pending map[string][]keptUpdate // guarded by mu; line → updates, oldest first
	count   int                     // guarded by mu: updates in pending
	running bool                    // guarded by mu
	stop    chan struct{}           // closed by halt; made on first use under mu
	halted  bool                    // guarded by mu
	wg      sync.WaitGroup
}

// keptUpdate is one update waiting to be written, with its key in the
// node's registration queue (nil: not on disk).
type keptUpdate struct {
	key []byte
	u   *dirpb.UpdateRegistrations
}

// has reports whether line has updates waiting.
func (l *localRegistrations) has(line string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending[line]) > 0
}

// add keeps u for its line, on disk and in memory, and starts the writer.
// It is called from the line's grain, so a line's updates arrive in order.
func (l *localRegistrations) add(d *Deps, u *dirpb.UpdateRegistrations) {
	key, err := d.Store.QueueRegistrations(u, time.Now())
	if err != nil {
		d.Logger.Warn("actors: a registration kept during a cut is not on disk: a restart of the node before it is written forgets it", "line", u.GetLine(), "err", err)
		key = nil
	}
	l.keep(d, keptUpdate{key: key, u: u})
}

// keep adds k behind its line's waiting updates and starts the writer.
func (l *localRegistrations) keep(d *Deps, k keptUpdate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = make(map[string][]keptUpdate)
	}
	if len(l.pending) == 0 {
		d.Logger.Warn("actors: the directory takes no registrations (no Raft leader reachable); this node answers REGISTERs from its own bindings until it does")
	}
	line := k.u.GetLine()
	l.pending[line] = append(l.pending[line], k)
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
	for _, k := range us {
		regs = applyRegistrations(regs, k.u)
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
	heads := make([]keptUpdate, 0, len(l.pending))
	for _, us := range l.pending {
		heads = append(heads, us[0])
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	cmds := make([]*dirpb.Command, len(heads))
	for i, k := range heads {
		cmds[i] = &dirpb.Command{Op: &dirpb.Command_UpdateRegistrations{UpdateRegistrations: k.u}}
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
			d.Logger.Info("actors: a registration kept during a cut was refused by the directory", "line", heads[i].u.GetLine(), "err", r.Err)
		}
		l.done(d, heads[i])
		progress = true
	}
	return true, progress
}

// done drops k, the oldest waiting update of its line, from memory and
// disk. Should the node stop between the write and the removal from
// disk, the next run writes k again: the same update twice leaves the
// same bindings, and the line's later updates follow it in order.
func (l *localRegistrations) done(d *Deps, k keptUpdate) {
	if k.key != nil {
		if err := d.Store.DequeueRegistrations([][]byte{k.key}); err != nil {
			d.Logger.Warn("actors: registration queue not updated (the update is written again after a restart)", "line", k.u.GetLine(), "err", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	line := k.u.GetLine()
	us := l.pending[line]
	if len(us) > 0 && us[0].u == k.u {
		us = us[1:]
		l.count--
		d.Metrics.keptRegistrations(l.count)
	}
	if len(us) == 0 {
		delete(l.pending, line)
		return
	}
	l.pending[line] = us
}

// resume reads back the updates of the node's registration queue, left
// by an earlier run or actor layer, and writes them once a leader takes
// writes. It is called before the grains take REGISTERs.
func (l *localRegistrations) resume(d *Deps) error {
	queued, err := d.Store.QueuedRegistrationUpdates()
	for _, q := range queued {
		l.keep(d, keptUpdate{key: q.Key, u: q.Update})
	}
	return err
}

// take moves the updates waiting in old (a halted writer) that are not on
// disk into l; those on disk, resume has read already.
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
		for _, k := range moved[line] {
			if k.key == nil {
				l.keep(d, k)
			}
		}
	}
}
