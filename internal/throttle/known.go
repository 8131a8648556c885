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
	mu  sync.Mutex
	at  *lru[struct{}]
}

// NewKnown remembers a key for ttl after its last success, at most max
// keys (the least recent dropped first). ttl and max must be positive.
func NewKnown(ttl time.Duration, max int) *Known {
	return &Known{ttl: ttl, at: newLRU[struct{}](max)}
}

// Add records a success of key at now.
func (k *Known) Add(key string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.at.put(key, struct{}{}, now.Add(k.ttl), now)
}

// Has reports whether key succeeded within ttl before now.
func (k *Known) Has(key string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.at.get(key, now)
	return ok
}
