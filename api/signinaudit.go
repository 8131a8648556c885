package api

import (
	"log/slog"
	"sync"
	"time"
)

// signinAudit logs failed sign-ins for a security officer: one WARN line
// "sign-in failed" with the claimed user id (clipped to maxEcho
// characters), the client address (HandlerConfig.clientAddr, so behind a
// trusted proxy the forwarded one) and why (bad_credentials, throttled).
// A guesser cannot flood the log: one line per address per window; the
// failures not logged meanwhile are counted and reported as "suppressed"
// on that address's next line. Passwords and tokens are never logged.
type signinAudit struct {
	log    *slog.Logger
	window time.Duration
	// maxAddrs bounds the addresses tracked; past it, failures from new
	// addresses share the overflow entry (one line per window for all).
	maxAddrs int

	mu        sync.Mutex
	byAddr    map[string]*auditEntry
	lastPrune time.Time
}

type auditEntry struct {
	logged     time.Time // when this address's last line was written
	suppressed int       // failures since then, not logged
}

// auditOverflow is the address logged for failures from addresses beyond
// maxAddrs.
const auditOverflow = "(other addresses)"

// Reasons of a "sign-in failed" line.
const (
	auditBadCredentials = "bad_credentials" // unknown user, wrong password, disabled user
	auditThrottled      = "throttled"       // refused by the sign-in throttle before any check
)

func newSigninAudit(log *slog.Logger, window time.Duration, maxAddrs int) *signinAudit {
	return &signinAudit{log: log, window: window, maxAddrs: maxAddrs, byAddr: map[string]*auditEntry{}}
}

// failed records a failed sign-in of the claimed user id from addr at now
// and logs it unless addr already had a line within the window.
func (a *signinAudit) failed(user, addr, reason string, now time.Time) {
	addr, suppressed, ok := a.admit(addr, now)
	if !ok {
		return
	}
	a.log.Warn("sign-in failed", "user", clip(user), "addr", clip(addr), "reason", reason,
		"suppressed", suppressed, "suppressed_window", a.window.String())
}

// admit decides whether a failure from addr at now gets a line, the
// address to log (auditOverflow when too many are tracked), and how many
// failures from it went unlogged since its previous line. The overflow
// entry comes on top of maxAddrs.
func (a *signinAudit) admit(addr string, now time.Time) (string, int, bool) {
	var forgotten map[string]int
	defer func() { a.logForgotten(forgotten) }() // after the unlock
	a.mu.Lock()
	defer a.mu.Unlock()
	e, found := a.byAddr[addr]
	if !found && a.tracked() >= a.maxAddrs {
		forgotten = a.prune(now)
		if a.tracked() >= a.maxAddrs {
			addr = auditOverflow
			e, found = a.byAddr[addr]
		}
	}
	if !found {
		a.byAddr[addr] = &auditEntry{logged: now}
		return addr, 0, true
	}
	if now.Sub(e.logged) < a.window {
		e.suppressed++
		return addr, 0, false
	}
	n := e.suppressed
	*e = auditEntry{logged: now}
	return addr, n, true
}

// tracked is the number of addresses tracked, the overflow entry not
// counted.
func (a *signinAudit) tracked() int {
	if _, ok := a.byAddr[auditOverflow]; ok {
		return len(a.byAddr) - 1
	}
	return len(a.byAddr)
}

// prune forgets the addresses whose last line is a window old (at most
// once a second: it scans the map) and returns the suppressed counts of
// those that had any, so that they are still reported.
func (a *signinAudit) prune(now time.Time) map[string]int {
	if now.Sub(a.lastPrune) < time.Second {
		return nil
	}
	a.lastPrune = now
	out := map[string]int{}
	for k, e := range a.byAddr {
		if now.Sub(e.logged) >= a.window {
			if e.suppressed > 0 {
				out[k] = e.suppressed
			}
			delete(a.byAddr, k)
		}
	}
	return out
}

// logForgotten reports the failures of forgotten addresses that were not
// logged: one line each, which is their one line of the window.
func (a *signinAudit) logForgotten(counts map[string]int) {
	for addr, n := range counts {
		a.log.Warn("sign-in failures not logged", "addr", clip(addr), "suppressed", n, "suppressed_window", a.window.String())
	}
}
