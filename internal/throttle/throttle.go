package throttle

import (
	"errors"
	"sync"
	"time"
)

// Config sizes a limiter's buckets.
type Config struct {
	// Burst is how many failures a key may have in a row before it must
	// wait. At least 1.
	Burst int
	// Every is how long one failure takes to be forgiven: the sustained
	// rate a key may fail at is one per Every. Positive.
	Every time.Duration
	// Lockout, when longer than Every, is how long a key that has spent
	// its burst waits (instead of Every): "Burst failures within
	// Burst×Every block the key for Lockout". A failure right after the
	// lockout, while the bucket is still nearly empty, locks the key out
	// again. Zero: no lockout, a key that spent its burst gets one more
	// try every Every.
	Lockout time.Duration
	// MaxKeys bounds memory: when that many keys are tracked, a new one
	// evicts the key that failed least recently. At least 1.
	MaxKeys int
}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Burst < 1:
		return errors.New("throttle: Config.Burst must be at least 1")
	case c.Every <= 0:
		return errors.New("throttle: Config.Every must be positive")
	case c.Lockout < 0:
		return errors.New("throttle: Config.Lockout must not be negative")
	case c.MaxKeys < 1:
		return errors.New("throttle: Config.MaxKeys must be at least 1")
	}
	return nil
}

// Limiter is a token bucket per key (GCRA: one instant per key), drained
// by failures and refilled by time. It is safe for concurrent use; the
// caller passes the time in.
type Limiter struct {
	cfg Config
	mu  sync.Mutex
	// debt is, per key, the instant at which the key's bucket is full
	// again; a key is throttled while debt - now exceeds the burst's worth
	// of time minus one failure. A key whose bucket is full is dropped.
	debt *lru[time.Time]
}

// New returns a limiter; cfg must be valid.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Limiter{cfg: cfg, debt: newLRU[time.Time](cfg.MaxKeys)}, nil
}

// window is the time a full burst of failures takes to be forgiven.
func (l *Limiter) window() time.Duration { return time.Duration(l.cfg.Burst) * l.cfg.Every }

// Wait returns how long key must wait before its next attempt: 0 when it
// may try now.
func (l *Limiter) Wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	full, ok := l.debt.get(key, now)
	if !ok {
		return 0
	}
	return l.wait(full, now)
}

// wait is how long a key whose bucket is full at full must wait: one more
// failure is allowed while it keeps the debt within window.
func (l *Limiter) wait(full, now time.Time) time.Duration {
	return max(full.Sub(now)+l.cfg.Every-l.window(), 0)
}

// Fail records a failed attempt of key.
func (l *Limiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	full, ok := l.debt.get(key, now) // a key refilled by now is gone
	if !ok {
		full = now
	}
	full = full.Add(l.cfg.Every)
	if l.cfg.Lockout > l.cfg.Every && l.wait(full, now) > 0 {
		// Spent: owe enough that the wait is Lockout.
		full = later(full, now.Add(l.window()-l.cfg.Every+l.cfg.Lockout))
	}
	l.debt.put(key, full, full, now)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Succeed forgets key's failures: a person who finally typed the right
// password starts afresh.
func (l *Limiter) Succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.debt.delete(key)
}

// Len is the number of keys tracked (keys refilled since they were last
// touched may still be counted until they reach the least recent end or
// the bound).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.debt.len()
}
