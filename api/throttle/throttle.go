// Package throttle slows down password guessing: a token bucket per key
// (a (user id, source address) pair, a user id, a source address) that
// failed sign-ins drain and time refills, and Known, the keys that
// succeeded recently (exempt from a ceiling). It is pure: the caller
// passes the time in.
package throttle

import (
	"errors"
	"sync"
	"time"
)

// Config sizes the buckets.
type Config struct {
	// Burst is how many failures a key may have in a row before it must
	// wait. Default 10: enough for a person who mistypes, far too few for
	// a dictionary.
	Burst int
	// Every is how long one failure takes to be forgiven. Default 30s: a
	// locked-out key gets one more try every 30 s, 2 880 a day.
	Every time.Duration
	// MaxKeys bounds memory: when that many keys are tracked, the fully
	// refilled ones are dropped, and if none is, the key that would wait
	// least. Default 100 000 (a few MB).
	MaxKeys int
}

// DefaultPair are the defaults per (user id, source address) pair: the
// one who guesses is slowed down, not the user everywhere.
var DefaultPair = Config{Burst: 10, Every: 30 * time.Second, MaxKeys: 100_000}

// DefaultUser are the defaults of the per-user-id ceiling against guessing
// spread over many addresses: 100 failures in a row from anywhere, then
// one every 10 s (8 640 a day against one account). Addresses that
// signed in as the user recently are not held by it.
var DefaultUser = Config{Burst: 100, Every: 10 * time.Second, MaxKeys: 100_000}

// DefaultAddress are the per-source-address defaults: more generous, as
// one address may be an office behind NAT.
var DefaultAddress = Config{Burst: 50, Every: 5 * time.Second, MaxKeys: 100_000}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Burst < 1:
		return errors.New("throttle: Config.Burst must be at least 1")
	case c.Every <= 0:
		return errors.New("throttle: Config.Every must be positive")
	case c.MaxKeys < 1:
		return errors.New("throttle: Config.MaxKeys must be at least 1")
	}
	return nil
}

// Limiter tracks the buckets. It is safe for concurrent use.
type Limiter struct {
	cfg Config
	mu  sync.Mutex
	// debt is, per key, the instant at which the key's bucket is full
	// again; a key is throttled while debt - now exceeds the burst's worth
	// of time minus one failure.
	debt map[string]time.Time
}

// New returns a limiter; cfg must be valid.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Limiter{cfg: cfg, debt: map[string]time.Time{}}, nil
}

// window is the time a full burst of failures takes to be forgiven.
func (l *Limiter) window() time.Duration { return time.Duration(l.cfg.Burst) * l.cfg.Every }

// Wait returns how long key must wait before its next attempt: 0 when it
// may try now.
func (l *Limiter) Wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wait(key, now)
}

func (l *Limiter) wait(key string, now time.Time) time.Duration {
	full, ok := l.debt[key]
	if !ok {
		return 0
	}
	// One more failure is allowed while it keeps the debt within window.
	over := full.Sub(now) + l.cfg.Every - l.window()
	return max(over, 0)
}

// Fail records a failed attempt of key.
func (l *Limiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	full, ok := l.debt[key]
	if !ok || full.Before(now) {
		full = now
	}
	if !ok && len(l.debt) >= l.cfg.MaxKeys {
		l.evict(now)
	}
	l.debt[key] = full.Add(l.cfg.Every)
}

// Succeed forgets key's failures: a person who finally typed the right
// password starts afresh.
func (l *Limiter) Succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.debt, key)
}

// evict drops the refilled keys, or else the one closest to refilled.
func (l *Limiter) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, full := range l.debt {
		if !full.After(now) {
			delete(l.debt, k)
			continue
		}
		if oldest == "" || full.Before(oldestAt) {
			oldest, oldestAt = k, full
		}
	}
	if len(l.debt) >= l.cfg.MaxKeys {
		delete(l.debt, oldest)
	}
}

// Len is the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.debt)
}
