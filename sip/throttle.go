package sip

import (
	"fmt"
	"time"

	"github.com/ucgrid/ucgrid/internal/throttle"
)

// Brute-force protection of digest authentication (docs/sip.md), with
// the token buckets of internal/throttle that the API's sign-in throttle
// uses too:
//
//   - per source address: Config.AuthFailures failures in a row (within
//     AuthWindow) block the address for AuthWindow, whatever line it
//     tries;
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
// Each bucket forgives one failure per AuthWindow/N (N its limit), so a
// key failing at N per AuthWindow or slower is never blocked. Missing
// lines are counted like existing ones, so the answers do not tell them
// apart.

// maxThrottleKeys bounds each throttle's memory (and the known sources):
// beyond it a new key evicts the least recent one.
const maxThrottleKeys = 65536

// failureThrottle is a limiter that blocks a key for window once it
// failed limit times within window; field names the Config field of limit
// in the error.
func failureThrottle(field string, limit int, window time.Duration) (*throttle.Limiter, error) {
	if limit < 1 {
		return nil, fmt.Errorf("sip: config: %s %d must be at least 1", field, limit)
	}
	l, err := throttle.New(throttle.Config{Burst: limit, Every: window / time.Duration(limit),
		Lockout: window, MaxKeys: maxThrottleKeys})
	if err != nil {
		return nil, fmt.Errorf("sip: config: %s %d within AuthWindow %v: %w", field, limit, window, err)
	}
	return l, nil
}

// knownSourceTTL is how long a successful authentication makes its
// source address known for the line (allowed while the line is under
// guard): longer than any registration or its refresh interval.
const knownSourceTTL = 24 * time.Hour

// lineGuard counts failures per line and per (line, source) pair, and
// remembers the sources each line authenticated from.
type lineGuard struct {
	pairs *throttle.Limiter
	lines *throttle.Limiter
	known *throttle.Known // pairKey → authenticated within knownSourceTTL
}

func newLineGuard(cfg Config) (*lineGuard, error) {
	pairs, err := failureThrottle("LinePairFailures", cfg.LinePairFailures, cfg.AuthWindow)
	if err != nil {
		return nil, err
	}
	lines, err := failureThrottle("LineFailures", cfg.LineFailures, cfg.AuthWindow)
	if err != nil {
		return nil, err
	}
	return &lineGuard{pairs: pairs, lines: lines, known: throttle.NewKnown(knownSourceTTL, maxThrottleKeys)}, nil
}

func pairKey(line, source string) string { return line + "\x00" + source }

// blocked reports whether source may not authenticate as line now, for
// how long, and the metric reason.
func (g *lineGuard) blocked(line, source string, now time.Time) (time.Duration, string, bool) {
	if wait := g.pairs.Wait(pairKey(line, source), now); wait > 0 {
		return wait, "throttled", true
	}
	wait := g.lines.Wait(line, now)
	if wait == 0 || g.known.Has(pairKey(line, source), now) {
		return 0, "", false
	}
	return wait, "line_guarded", true
}

func (g *lineGuard) fail(line, source string, now time.Time) {
	g.pairs.Fail(pairKey(line, source), now)
	g.lines.Fail(line, now)
}

// succeeded remembers that source authenticated as line.
func (g *lineGuard) succeeded(line, source string, now time.Time) {
	g.known.Add(pairKey(line, source), now)
}
