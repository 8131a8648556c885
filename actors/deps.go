package actors

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Deps are what the grains of one node need. Grain factories are
// package-global in protoactor-go and shared by every node of a process, so
// a grain finds its node's Deps through its actor system (Register).
type Deps struct {
	// Store is the node's local copy of the directory.
	Store *persistence.Store
	// Applied is the directory index the local copy has applied, and
	// WaitApplied waits until it reaches an index (persistence.Node's
	// methods of those names).
	Applied     func() uint64
	WaitApplied func(ctx context.Context, index uint64) error
	// Request calls a grain anywhere in the cluster (cluster.Node.Request:
	// explicit timeout, real back-off).
	Request func(ctx context.Context, identity, kind string, msg proto.Message) (proto.Message, error)
	// Apply writes a command through the directory (Raft) from any node and
	// returns its index once applied (persistence.Node.Apply).
	Apply func(ctx context.Context, cmd *dirpb.Command) (uint64, error)
	// ApplyGrouped and ApplyGroupedAll write through group commit: commands
	// of concurrent callers share one Raft entry
	// (persistence.Node.ApplyGrouped, ApplyGroupedAll). Nil: Apply, one
	// command at a time.
	ApplyGrouped    func(ctx context.Context, cmd *dirpb.Command) (uint64, error)
	ApplyGroupedAll func(ctx context.Context, cmds []*dirpb.Command) []persistence.Result
	// JournalFlush is how long a call's journal entry waits for others to
	// share its directory write; 0: DefaultJournalFlush. It is also the
	// window of entries a crash of the node loses (docs/persistence.md).
	JournalFlush time.Duration
	// JournalBatch flushes the waiting journal entries at once when this
	// many wait; 0: DefaultJournalBatch.
	JournalBatch int
	Logger       *slog.Logger
	// Metrics count grain life cycles; nil: counted, not exported.
	Metrics *GrainMetrics

	local localGrains
	// handovers are the hand-overs of stopping grains still in flight.
	handovers sync.WaitGroup
	// aside is work grains left running outside their message loop: a
	// journal entry's Raft commit, a ring plan waiting for the members'
	// grains. It reads and writes the directory, so the node waits for it
	// before the directory closes.
	aside sync.WaitGroup
	// journal batches the journal entries of ended calls (linejournal.go).
	journal journalWriter
	// regs are the REGISTERs answered while no leader took them
	// (localregs.go).
	regs localRegistrations
	// names are the display names of numbers for journal entries.
	names numberNames
	// noHandover: the node stops without successors (the last node, or
	// one its peers have blocked): stopping grains hand nothing over.
	noHandover atomic.Bool
	// topology counts cluster topology changes (memberwatch.go).
	topology atomic.Uint64
}

// SkipHandovers makes grains that stop from now on hand nothing over: the
// node stops and no other node will take their grains (it is the last
// one, or its peers blocked it), so a hand-over could only time out.
func (d *Deps) SkipHandovers() { d.noHandover.Store(true) }

// handOver runs a grain's hand-over request aside, counted in handovers.
func (d *Deps) handOver(kind, id string, msg proto.Message) {
	if d.noHandover.Load() {
		return
	}
	d.handovers.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), handoverTimeout)
		defer cancel()
		if _, err := d.Request(ctx, id, kind, msg); err != nil {
			d.Metrics.handover(kind, "failed")
			d.Logger.Warn("actors: runtime state not handed over", "kind", kind, "id", id, "err", err)
			return
		}
		d.Metrics.handover(kind, "sent")
	})
}

// goAside runs a grain's work outside its message loop, counted in aside.
func (d *Deps) goAside(f func()) { d.aside.Go(f) }

// applyGrouped writes cmd through group commit (Apply without it).
func (d *Deps) applyGrouped(ctx context.Context, cmd *dirpb.Command) (uint64, error) {
	if d.ApplyGrouped != nil {
		return d.ApplyGrouped(ctx, cmd)
	}
	return d.Apply(ctx, cmd)
}

// applyGroupedAll writes cmds through group commit (one Apply each
// without it).
func (d *Deps) applyGroupedAll(ctx context.Context, cmds []*dirpb.Command) []persistence.Result {
	if d.ApplyGroupedAll != nil {
		return d.ApplyGroupedAll(ctx, cmds)
	}
	out := make([]persistence.Result, len(cmds))
	for i, cmd := range cmds {
		out[i].Index, out[i].Err = d.Apply(ctx, cmd)
	}
	return out
}

// WaitAside waits until the grains that stopped have handed their runtime
// state to their next activations, and the work grains left running aside
// is done (each bounded by its timeout). A node leaving the cluster calls
// it before it stops talking to peers, and again once its actor system
// has stopped, before the directory closes. It also stops committing the
// node's journal queue: what is left there waits on disk for the next
// actor layer or run (ResumeJournal).
func (d *Deps) WaitAside() {
	d.handovers.Wait()
	d.aside.Wait()
	d.journal.halt()
	d.regs.halt()
}

// ResumeJournal commits the journal entries left in the node's durable
// queue (persistence.Store.QueueJournal) by an earlier actor layer or run
// of the process, once a Raft leader takes them. The node calls it when
// its actor layer starts.
func (d *Deps) ResumeJournal() error { return d.journal.resume(d) }

// ResumeRegistrations reads back the registration updates left in the
// node's durable queue (persistence.Store.QueueRegistrations) by an
// earlier actor layer or run of the process: the line grains see them
// at once, and they are written once a Raft leader takes them. The node
// calls it when its actor layer starts, before the grains take REGISTERs.
func (d *Deps) ResumeRegistrations() error { return d.regs.resume(d) }

// AdoptRegistrations takes over the REGISTERs the node's previous actor
// layer answered while no Raft leader took them and had not written yet
// (a layer restarted after a cut) and could not store on disk (those on
// disk ResumeRegistrations read): d writes them instead.
func (d *Deps) AdoptRegistrations(old *Deps) { d.regs.take(d, &old.regs) }

// localGrains are the grains active on this node, by kind and identity, so
// the node can tell them about directory changes without activating others.
type localGrains struct {
	mu   sync.Mutex
	pids map[string]map[string]*actor.PID // kind → identity → pid
	// lineOwner and linesOf index the local line grains by owner: a change
	// of the owner's rights inputs reaches the owner's lines too.
	lineOwner map[string]string              // line → owner
	linesOf   map[string]map[string]struct{} // owner → lines
}

// setOwner records line's owner ("" = none, the grain stopped).
func (l *localGrains) setOwner(line, owner string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.lineOwner[line]; ok {
		if old == owner {
			return
		}
		delete(l.linesOf[old], line)
		if len(l.linesOf[old]) == 0 {
			delete(l.linesOf, old)
		}
		delete(l.lineOwner, line)
	}
	if owner == "" {
		return
	}
	if l.lineOwner == nil {
		l.lineOwner, l.linesOf = map[string]string{}, map[string]map[string]struct{}{}
	}
	l.lineOwner[line] = owner
	if l.linesOf[owner] == nil {
		l.linesOf[owner] = map[string]struct{}{}
	}
	l.linesOf[owner][line] = struct{}{}
}

// linesOwnedBy are the pids of the local line grains of owner.
func (l *localGrains) linesOwnedBy(owner string) []*actor.PID {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*actor.PID
	for line := range l.linesOf[owner] {
		if pid := l.pids[KindLine][line]; pid != nil {
			out = append(out, pid)
		}
	}
	return out
}

// add lists an activation; it reports false when it replaced an older
// activation of the same grain that had not stopped yet.
func (l *localGrains) add(kind, id string, pid *actor.PID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pids == nil {
		l.pids = map[string]map[string]*actor.PID{}
	}
	if l.pids[kind] == nil {
		l.pids[kind] = map[string]*actor.PID{}
	}
	_, had := l.pids[kind][id]
	l.pids[kind][id] = pid
	return !had
}

// remove forgets a grain, unless a newer activation already replaced it;
// it reports whether it did.
func (l *localGrains) remove(kind, id string, pid *actor.PID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.pids[kind][id]; ok && cur.Equal(pid) {
		delete(l.pids[kind], id)
		return true
	}
	return false
}

func (l *localGrains) get(kind, id string) *actor.PID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pids[kind][id]
}

func (l *localGrains) all(kind string) []*actor.PID {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*actor.PID, 0, len(l.pids[kind]))
	for _, pid := range l.pids[kind] {
		out = append(out, pid)
	}
	return out
}

// Count returns the number of active grains of kind on this node.
func (d *Deps) Count(kind string) int {
	d.local.mu.Lock()
	defer d.local.mu.Unlock()
	return len(d.local.pids[kind])
}

var registry sync.Map // actor system ID → *Deps

// Register makes d the Deps of the grains of system. Call it before the
// actor cluster starts; call the returned function after it stopped.
func Register(system *actor.ActorSystem, d *Deps) (unregister func()) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = NewGrainMetrics()
	}
	registry.Store(system.ID, d)
	stopWatch := d.watchTopology(system)
	return func() { stopWatch(); registry.Delete(system.ID) }
}

func depsOf(system *actor.ActorSystem) *Deps {
	d, ok := registry.Load(system.ID)
	if !ok {
		return nil
	}
	return d.(*Deps)
}
