package persistence

import (
	"context"
	"sync"
	"sync/atomic"
)

// feed delivers applied changes to in-process subscribers.
//
// Policy: the FSM never blocks on a subscriber. Each subscriber's channel
// has room for its buffer plus one spare slot. A change is sent while fewer
// than buffer are queued; when the buffer is full, the change is dropped
// and a Reset marker goes into the spare slot instead (unless one is already
// queued there). So every applied change is either delivered or followed,
// in the channel, by a Reset the subscriber reads after the change was
// applied: flushing all caches on Reset keeps them correct.
//
// Only the FSM goroutine publishes; the mutex orders it with Subscribe and
// cancel, and makes the length checks exact (receivers only shrink queues).
type feed struct {
	mu        sync.Mutex
	subs      map[*subscriber]struct{}
	closed    bool
	overflows atomic.Uint64
}

type subscriber struct {
	ch     chan Change
	buffer int
}

func newFeed() *feed { return &feed{subs: map[*subscriber]struct{}{}} }

// subscribe registers a subscriber with room for buffer changes (at least 1).
// cancel unregisters it and closes the channel; it is safe to call twice.
func (f *feed) subscribe(buffer int) (<-chan Change, func()) {
	buffer = max(buffer, 1)
	s := &subscriber{ch: make(chan Change, buffer+1), buffer: buffer}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		close(s.ch)
		return s.ch, func() {}
	}
	f.subs[s] = struct{}{}
	return s.ch, func() { f.unsubscribe(s) }
}

func (f *feed) unsubscribe(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[s]; ok {
		delete(f.subs, s)
		close(s.ch)
	}
}

func (f *feed) publish(changes []Change) {
	if len(changes) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		for _, c := range changes {
			if s.send(c) {
				f.overflows.Add(1)
			}
		}
	}
}

// send queues c, or a Reset when the buffer is full. It reports whether
// a Reset was queued.
func (s *subscriber) send(c Change) bool {
	switch n := len(s.ch); {
	case n < s.buffer:
		s.ch <- c
		return false
	case n == s.buffer:
		s.ch <- Change{Index: c.Index, Reset: true}
		return true
	default:
		return false // the queued Reset covers c
	}
}

// reset tells every subscriber to drop its caches (snapshot restore).
func (f *feed) reset(index uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		if len(s.ch) <= s.buffer {
			s.ch <- Change{Index: index, Reset: true}
		}
	}
}

// close closes every subscriber's channel; later subscribers get a closed
// channel at once.
func (f *feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for s := range f.subs {
		delete(f.subs, s)
		close(s.ch)
	}
}

// Follow calls fn with every change from changes, in order, until changes
// is closed or ctx ends: the loop of every change-feed subscriber.
func Follow(ctx context.Context, changes <-chan Change, fn func(Change)) {
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-changes:
			if !ok {
				return
			}
			fn(c)
		}
	}
}
