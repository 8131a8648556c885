package throttle

import (
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
	for _, c := range []Config{{Burst: 0, Every: 1, MaxKeys: 1}, {Burst: 1, Every: 0, MaxKeys: 1}, {Burst: 1, Every: 1}} {
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
