package sip

import (
	"sync"
	"time"
)

// Brute-force protection of digest authentication (docs/sip.md):
//
//   - per source address: Config.AuthFailures failures within AuthWindow
//     block the address for AuthWindow, whatever line it tries;
//   - per (line, source) pair: Config.LinePairFailures failures block
//     that address for that line (hard: a guesser rotating nothing else
//     is stopped after a few tries);
//   - per line, from everywhere: Config.LineFailures failures (a higher
//     threshold: a guessing run spread over many addresses) put the line
//     under guard for AuthWindow. Under guard only the addresses that
//     authenticated as the line within knownSourceTTL may try; others get
//     503. This is deliberately soft: the attack cannot lock the real
//     owner's phones out (they authenticated from their addresses
//     before), only a device the line never used from there waits.
//
// Missing lines are counted like existing ones, so the answers do not
// tell them apart.

// throttle blocks keys (source addresses, lines, pairs) after repeated
// authentication failures.
type throttle struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	sources map[string]*failures
}

type failures struct {
	count        int
	since        time.Time
	blockedUntil time.Time
}

// maxThrottleKeys bounds each throttle's memory; beyond it the entries
// whose window passed are pruned.
const maxThrottleKeys = 65536

func newThrottle(limit int, window time.Duration) *throttle {
	return &throttle{limit: limit, window: window, sources: map[string]*failures{}}
}

// blocked reports whether key may not try now, and for how long.
func (t *throttle) blocked(key string, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.sources[key]
	if f == nil || !now.Before(f.blockedUntil) {
		return 0, false
	}
	return f.blockedUntil.Sub(now), true
}

// fail counts one failure of key.
func (t *throttle) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.sources) >= maxThrottleKeys {
		t.prune(now)
	}
	f := t.sources[key]
	if f == nil && len(t.sources) >= maxThrottleKeys {
		return // full of live entries: memory stays bounded, the other layers still count
	}
	if f == nil || now.Sub(f.since) > t.window {
		f = &failures{since: now, blockedUntil: f.blockedUntilOrZero()}
		t.sources[key] = f
	}
	f.count++
	if f.count >= t.limit {
		f.blockedUntil = now.Add(t.window)
		f.count, f.since = 0, now
	}
}

func (f *failures) blockedUntilOrZero() time.Time {
	if f == nil {
		return time.Time{}
	}
	return f.blockedUntil
}

func (t *throttle) prune(now time.Time) {
	for k, f := range t.sources {
		if now.Sub(f.since) > t.window && !now.Before(f.blockedUntil) {
			delete(t.sources, k)
		}
	}
}

// knownSourceTTL is how long a successful authentication makes its
// source address known for the line (allowed while the line is under
// guard): longer than any registration or its refresh interval.
const knownSourceTTL = 24 * time.Hour

// lineGuard counts failures per line and per (line, source) pair, and
// remembers the sources each line authenticated from.
type lineGuard struct {
	pairs *throttle
	lines *throttle

	mu    sync.Mutex
	known map[string]time.Time // pairKey → last success
}

func newLineGuard(pairLimit, lineLimit int, window time.Duration) *lineGuard {
	return &lineGuard{pairs: newThrottle(pairLimit, window), lines: newThrottle(lineLimit, window), known: map[string]time.Time{}}
}

func pairKey(line, source string) string { return line + "\x00" + source }

// blocked reports whether source may not authenticate as line now, for
// how long, and the metric reason.
func (g *lineGuard) blocked(line, source string, now time.Time) (time.Duration, string, bool) {
	if wait, ok := g.pairs.blocked(pairKey(line, source), now); ok {
		return wait, "throttled", true
	}
	wait, guarded := g.lines.blocked(line, now)
	if !guarded || g.isKnown(line, source, now) {
		return 0, "", false
	}
	return wait, "line_guarded", true
}

func (g *lineGuard) fail(line, source string, now time.Time) {
	g.pairs.fail(pairKey(line, source), now)
	g.lines.fail(line, now)
}

// succeeded remembers that source authenticated as line.
func (g *lineGuard) succeeded(line, source string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.known) >= maxThrottleKeys {
		for k, at := range g.known {
			if now.Sub(at) > knownSourceTTL {
				delete(g.known, k)
			}
		}
		if len(g.known) >= maxThrottleKeys {
			return // full of live entries: the line guard stays strict for newcomers
		}
	}
	g.known[pairKey(line, source)] = now
}

func (g *lineGuard) isKnown(line, source string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	at, ok := g.known[pairKey(line, source)]
	return ok && now.Sub(at) <= knownSourceTTL
}
