package membership

import (
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate is memberlist's Delegate and EventDelegate. memberlist calls the
// event methods with its node lock held: they copy the node into members,
// signal changed without blocking, and return. They never call back into
// memberlist.
//
// Lock order: memberlist's node lock, then delegate.mu or delegate.metaMu.
// Both are leaves: nothing is called while holding them.
type delegate struct {
	logger  *slog.Logger
	changed chan struct{} // capacity 1: a pending "rebuild" signal

	metaMu      sync.Mutex
	meta        Meta   // local metadata
	metaEncoded []byte // meta, encoded

	mu      sync.Mutex
	members map[string]Member
}

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
)

func newDelegate(logger *slog.Logger, meta Meta, encoded []byte) *delegate {
	return &delegate{
		logger:      logger,
		changed:     make(chan struct{}, 1),
		meta:        meta.clone(),
		metaEncoded: encoded,
		members:     make(map[string]Member),
	}
}

// signal asks the notify loop to publish the member list. It never blocks:
// one pending signal covers any number of changes.
func (d *delegate) signal() {
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.record(n, StateAlive) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.record(n, StateAlive) }

// NotifyLeave reports a node that left or failed. n.State cannot tell
// which (memberlist updates nodeState.State, which shadows Node.State), so
// the Leaving flag of the node's last metadata decides.
func (d *delegate) NotifyLeave(n *memberlist.Node) { d.record(n, StateFailed) }

func (d *delegate) record(n *memberlist.Node, state State) {
	m := memberFromNode(n, state, time.Now())
	if state != StateAlive && m.Meta.Leaving {
		m.State = StateLeft
	}
	if m.MetaErr != nil {
		d.logger.Warn("membership: member metadata unreadable", "member", m.Name, "addr", m.Addr, "error", m.MetaErr)
	}
	d.mu.Lock()
	if old, ok := d.members[m.Name]; ok && old.State == m.State {
		m.Since = old.Since
	}
	d.members[m.Name] = m
	d.mu.Unlock()
	d.signal()
}

// localMeta returns a copy of the local metadata.
func (d *delegate) localMeta() Meta {
	d.metaMu.Lock()
	defer d.metaMu.Unlock()
	return d.meta.clone()
}

// setLocalMeta replaces the local metadata and our own entry's copy of it.
func (d *delegate) setLocalMeta(name string, meta Meta, encoded []byte) {
	d.metaMu.Lock()
	d.meta, d.metaEncoded = meta.clone(), encoded
	d.metaMu.Unlock()

	d.mu.Lock()
	if m, ok := d.members[name]; ok {
		m.Meta, m.MetaErr = meta.clone(), nil
		d.members[name] = m
	}
	d.mu.Unlock()
	d.signal()
}

// snapshot returns the members sorted by name, dropping departed members
// older than departedRetention.
func (d *delegate) snapshot(now time.Time) []Member {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Member, 0, len(d.members))
	for name, m := range d.members {
		if m.State != StateAlive && now.Sub(m.Since) > departedRetention {
			delete(d.members, name)
			continue
		}
		out = append(out, m.clone())
	}
	sortMembers(out)
	return out
}

func (d *delegate) member(name string) (Member, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.members[name]
	return m.clone(), ok
}

// NodeMeta returns the local metadata. Its size was checked when it was
// set, so the limit (memberlist.MetaMaxSize) always holds.
func (d *delegate) NodeMeta(limit int) []byte {
	d.metaMu.Lock()
	defer d.metaMu.Unlock()
	if len(d.metaEncoded) > limit {
		// Unreachable: EncodeMeta checks MaxMetaSize. memberlist would
		// panic on oversized metadata, so send none rather than crash.
		d.logger.Error("membership: local metadata over limit, not sent", "bytes", len(d.metaEncoded), "limit", limit)
		return nil
	}
	return append([]byte(nil), d.metaEncoded...)
}

// The rest of memberlist.Delegate is unused: we gossip metadata only.

func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}
