package throttle

import (
	"sync"
	"time"
)

// Known remembers keys that succeeded recently, e.g. the (user, address)
// pairs people signed in from: a user's usual place keeps working while
// the user is under attack from elsewhere. It is safe for concurrent use;
// the caller passes the time in.
type Known struct {
	ttl time.Duration
	max int
	mu  sync.Mutex
	at  map[string]time.Time // key → when it last succeeded
}

// NewKnown remembers a key for ttl after its last success, at most max
// keys (the least recent dropped first). ttl and max must be positive.
func NewKnown(ttl time.Duration, max int) *Known {
	return &Known{ttl: ttl, max: max, at: map[string]time.Time{}}
}

// Add records a success of key at now.
func (k *Known) Add(key string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.at[key]; !ok && len(k.at) >= k.max {
		k.evict(now)
	}
	k.at[key] = now
}

// Has reports whether key succeeded within ttl before now.
func (k *Known) Has(key string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	at, ok := k.at[key]
	return ok && now.Sub(at) < k.ttl
}

// evict drops the expired keys, or else the least recent one.
func (k *Known) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for key, at := range k.at {
		if now.Sub(at) >= k.ttl {
			delete(k.at, key)
			continue
		}
		if oldest == "" || at.Before(oldestAt) {
			oldest, oldestAt = key, at
		}
	}
	if len(k.at) >= k.max {
		delete(k.at, oldest)
	}
}
