// Package throttle slows down password guessing in bounded memory: a
// Limiter is a token bucket per key (a user id, a source address, a
// (user, address) pair) that failed attempts drain and time refills, with
// an optional lockout once the burst is spent; Known remembers the keys
// that succeeded recently (exempt from a ceiling). Both keep at most a
// configured number of keys, evicting the least recent, and expire keys
// without walking their map, so an attacker spraying addresses or names
// costs neither memory beyond the bound nor time per request. It is pure:
// the caller passes the time in. The API's sign-in throttles (api) and
// the SIP digest throttles (sip) use it.
//
//	l, err := throttle.New(throttle.Config{Burst: 10, Every: 30 * time.Second, MaxKeys: 100_000})
//	if wait := l.Wait(key, now); wait > 0 {
//		// refuse, Retry-After: wait
//	}
//	if !ok {
//		l.Fail(key, now)
//	}
package throttle
