package throttle

import (
	"container/list"
	"time"
)

// lru is a map of at most max keys, each with the instant it expires,
// kept in the order the keys were last put. Every operation costs the
// same however many keys it holds: put drops the expired keys it finds
// at the least recent end (each key is dropped once, so this is constant
// per put on average) and, when the map is full, the least recent key;
// get checks the one key's expiry. No call walks the map.
//
// It is what hashicorp/golang-lru/v2's expirable.LRU does, but with the
// time passed in (tests drive a fake clock) and no background goroutine
// (expirable.NewLRU starts one that never ends). Not safe for concurrent
// use: the owner holds a lock.
type lru[V any] struct {
	max   int
	items map[string]*list.Element // key → element of order, whose Value is *lruEntry[V]
	order *list.List               // most recently put first
}

type lruEntry[V any] struct {
	key   string
	val   V
	until time.Time // the key is gone from this instant on
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, items: map[string]*list.Element{}, order: list.New()}
}

// get returns key's value while now is before its expiry.
func (m *lru[V]) get(key string, now time.Time) (V, bool) {
	e, ok := m.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	ent := e.Value.(*lruEntry[V])
	if !now.Before(ent.until) {
		m.remove(e)
		var zero V
		return zero, false
	}
	return ent.val, true
}

// put sets key's value until the given instant and makes it the most
// recent key.
func (m *lru[V]) put(key string, val V, until, now time.Time) {
	m.dropExpired(now)
	if e, ok := m.items[key]; ok {
		ent := e.Value.(*lruEntry[V])
		ent.val, ent.until = val, until
		m.order.MoveToFront(e)
		return
	}
	if len(m.items) >= m.max {
		m.remove(m.order.Back())
	}
	m.items[key] = m.order.PushFront(&lruEntry[V]{key: key, val: val, until: until})
}

// delete forgets key.
func (m *lru[V]) delete(key string) {
	if e, ok := m.items[key]; ok {
		m.remove(e)
	}
}

// dropExpired drops the expired keys at the least recent end; it stops at
// the first live one (a key put later but expiring sooner waits for it,
// and for the bound).
func (m *lru[V]) dropExpired(now time.Time) {
	for e := m.order.Back(); e != nil && !now.Before(e.Value.(*lruEntry[V]).until); e = m.order.Back() {
		m.remove(e)
	}
}

func (m *lru[V]) remove(e *list.Element) {
	delete(m.items, e.Value.(*lruEntry[V]).key)
	m.order.Remove(e)
}

func (m *lru[V]) len() int { return len(m.items) }
