package throttle

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func TestLimiter_BurstThenOnePerInterval(t *testing.T) {
	l, err := New(Config{Burst: 3, Every: 10 * time.Second, MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for i := range 3 {
		if w := l.Wait("k", now); w != 0 {
			t.Fatalf("attempt %d waits %v", i, w)
		}
		l.Fail("k", now)
	}
	if w := l.Wait("k", now); w != 10*time.Second {
		t.Fatalf("after burst: wait %v, want 10s", w)
	}
	now = now.Add(10 * time.Second)
	if w := l.Wait("k", now); w != 0 {
		t.Fatalf("after one interval: wait %v", w)
	}
	l.Fail("k", now)
	if w := l.Wait("k", now); w != 10*time.Second {
		t.Fatalf("after one more failure: wait %v", w)
	}
	if w := l.Wait("other", now); w != 0 {
		t.Fatalf("other key waits %v", w)
	}
	l.Succeed("k")
	if w := l.Wait("k", now); w != 0 {
		t.Fatalf("after success: wait %v", w)
	}
}

func TestLimiter_BoundsKeys(t *testing.T) {
	l, err := New(Config{Burst: 1, Every: time.Minute, MaxKeys: 3})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		l.Fail(k, now.Add(time.Duration(i)*time.Second))
	}
	if l.Len() > 3 {
		t.Fatalf("tracks %d keys, max 3", l.Len())
	}
	if w := l.Wait("e", now.Add(5*time.Second)); w == 0 {
		t.Fatal("the newest key was evicted")
	}
}

func TestConfig_ValidateNamesField(t *testing.T) {
	for _, c := range []Config{{Burst: 0, Every: 1, MaxKeys: 1}, {Burst: 1, Every: 0, MaxKeys: 1}, {Burst: 1, Every: 1}, {Burst: 1, Every: 1, Lockout: -1, MaxKeys: 1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
}

func TestKnown_ForgetsAfterTTLAndBoundsMemory(t *testing.T) {
	k := NewKnown(time.Hour, 2)
	now := time.Unix(1000, 0)
	k.Add("a", now)
	k.Add("b", now.Add(time.Second))
	if !k.Has("a", now.Add(time.Minute)) || k.Has("zz", now) {
		t.Fatal("Has is wrong before expiry")
	}
	k.Add("c", now.Add(2*time.Second)) // full: the least recent (a) goes
	if k.Has("a", now.Add(3*time.Second)) || !k.Has("b", now.Add(3*time.Second)) || !k.Has("c", now.Add(3*time.Second)) {
		t.Fatal("eviction dropped the wrong key")
	}
	if k.Has("c", now.Add(2*time.Second+time.Hour)) {
		t.Fatal("c is still known after its ttl")
	}
}

// Burst failures in a row lock the key out for Lockout, not Every; once
// it lapses the bucket still refills one failure per Every, and failing at
// that rate is never locked out.
func TestLimiter_LockoutAfterBurst(t *testing.T) {
	l, err := New(Config{Burst: 3, Every: 20 * time.Second, Lockout: time.Minute, MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for range 3 {
		l.Fail("k", now)
	}
	if w := l.Wait("k", now); w != time.Minute {
		t.Fatalf("after the burst: wait %v, want 1m", w)
	}
	now = now.Add(time.Minute)
	if w := l.Wait("k", now); w != 0 {
		t.Fatalf("after the lockout: wait %v", w)
	}
	l.Fail("k", now)
	if w := l.Wait("k", now); w != time.Minute {
		t.Fatalf("a failure right after the lockout: wait %v, want 1m", w)
	}
	for i := range 10 { // one failure per Every, once one was forgiven
		now = now.Add(time.Minute + 20*time.Second)
		if i > 0 {
			now = now.Add(-time.Minute)
		}
		if w := l.Wait("k", now); w != 0 {
			t.Fatalf("failure %d at one per Every: wait %v", i, w)
		}
		l.Fail("k", now)
	}
}

// A full limiter evicts the key that failed least recently instead of
// growing, and a key is admitted again once its bucket refilled, however
// many keys are tracked.
func TestLimiter_FullEvictsOldestAndExpiresWithoutSweep(t *testing.T) {
	const n = 10_000
	l, err := New(Config{Burst: 1, Every: time.Minute, MaxKeys: n})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for i := range n {
		l.Fail(strconv.Itoa(i), now.Add(time.Duration(i)*time.Millisecond))
	}
	now = now.Add(n * time.Millisecond)
	l.Fail("new", now)
	if l.Len() != n {
		t.Fatalf("tracks %d keys, want %d", l.Len(), n)
	}
	if w := l.Wait("0", now); w != 0 {
		t.Fatalf("the oldest key was kept (wait %v)", w)
	}
	for _, k := range []string{"1", strconv.Itoa(n - 1), "new"} {
		if w := l.Wait(k, now); w == 0 {
			t.Fatalf("key %s was evicted", k)
		}
	}
	now = now.Add(time.Minute)
	if w := l.Wait("new", now); w != 0 {
		t.Fatalf("after the window: wait %v", w)
	}
}

func TestLRU_PutDropsOnlyTheExpiredTail(t *testing.T) {
	m := newLRU[int](100_000)
	now := time.Unix(1000, 0)
	m.put("long", 0, now.Add(time.Hour), now)
	for i := range 1000 {
		m.put(strconv.Itoa(i), i, now.Add(time.Second), now)
	}
	// The tail is live: put walks nothing, the expired keys wait.
	m.put("x", 0, now.Add(time.Hour), now.Add(2*time.Second))
	if m.len() != 1002 {
		t.Fatalf("len %d, want 1002", m.len())
	}
	if _, ok := m.get("5", now.Add(2*time.Second)); ok {
		t.Fatal("an expired key is returned")
	}
	m.delete("long")
	m.put("y", 0, now.Add(time.Hour), now.Add(2*time.Second))
	if m.len() != 2 {
		t.Fatalf("after the live tail went: len %d, want 2 (x, y)", m.len())
	}
}

// The limiter against an unbounded map doing the same arithmetic: same
// waits for random failures, successes and clocks.
func TestLimiter_MatchesNaiveReference(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	cfg := Config{Burst: 4, Every: 5 * time.Second, Lockout: 30 * time.Second, MaxKeys: 1000}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref := map[string]time.Time{}
	window := time.Duration(cfg.Burst) * cfg.Every
	refWait := func(k string, now time.Time) time.Duration {
		full, ok := ref[k]
		if !ok {
			return 0
		}
		return max(full.Sub(now)+cfg.Every-window, 0)
	}
	now := time.Unix(1000, 0)
	for i := range 20_000 {
		now = now.Add(time.Duration(r.IntN(4000)) * time.Millisecond)
		k := strconv.Itoa(r.IntN(20))
		switch r.IntN(10) {
		case 0:
			l.Succeed(k)
			delete(ref, k)
		case 1, 2, 3, 4:
			l.Fail(k, now)
			full, ok := ref[k]
			if !ok || full.Before(now) {
				full = now
			}
			full = full.Add(cfg.Every)
			if full.Sub(now)+cfg.Every-window > 0 && full.Before(now.Add(window-cfg.Every+cfg.Lockout)) {
				full = now.Add(window - cfg.Every + cfg.Lockout)
			}
			ref[k] = full
		}
		if got, want := l.Wait(k, now), refWait(k, now); got != want {
			t.Fatalf("step %d key %s: wait %v, reference %v", i, k, got, want)
		}
	}
}

func BenchmarkLimiter_FailFullMap(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			l, err := New(Config{Burst: 10, Every: time.Second, MaxKeys: n})
			if err != nil {
				b.Fatal(err)
			}
			now := time.Unix(1000, 0)
			keys := make([]string, 2*n)
			for i := range keys {
				keys[i] = strconv.Itoa(i)
			}
			for i := range n {
				l.Fail(keys[i], now)
			}
			b.ResetTimer()
			for i := range b.N {
				k := keys[i%len(keys)]
				l.Wait(k, now)
				l.Fail(k, now)
			}
		})
	}
}
