package sip

import (
	"fmt"
	"testing"
	"time"
)

// A used nonce stays refused for as long as it is fresh, across the
// rotation of the generations, and its use is forgotten once it is
// stale anyway: the uses held stay bounded by two NonceTTLs of claims.
func TestNonces_UseKeptWhileFreshAndDroppedAfter(t *testing.T) {
	const ttl = time.Minute
	n := newNonces(ttl)
	t0 := time.Unix(1_800_000_000, 0)
	early := n.issue(t0)
	if !n.claim(early, 1, t0) {
		t.Fatal("first claim refused")
	}
	late := n.issue(t0.Add(ttl - time.Second))
	if !n.claim(late, 1, t0.Add(ttl-time.Second)) {
		t.Fatal("first claim of the late nonce refused")
	}
	// Rotation: cur (both uses) becomes prev.
	other := n.issue(t0.Add(ttl))
	if !n.claim(other, 1, t0.Add(ttl)) {
		t.Fatal("claim at the rotation refused")
	}
	for _, tc := range []struct {
		name  string
		nonce string
		nc    int
		at    time.Time
		want  nonceVerdict
	}{
		{"same nc after rotation", late, 1, t0.Add(ttl + time.Second), nonceStale},
		{"higher nc after rotation", late, 2, t0.Add(ttl + time.Second), nonceFresh},
		{"expired", early, 2, t0.Add(ttl + time.Second), nonceStale},
	} {
		if got := n.check(tc.nonce, tc.nc, tc.at); got != tc.want {
			t.Errorf("%s: check = %d, want %d", tc.name, got, tc.want)
		}
	}
	if n.claim(late, 1, t0.Add(ttl+time.Second)) {
		t.Error("replay of the late nonce after rotation accepted")
	}
	if !n.claim(late, 2, t0.Add(ttl+2*time.Second)) {
		t.Error("next nonce-count of the late nonce refused")
	}
	// Second rotation: the first generation is gone.
	n.claim(n.issue(t0.Add(2*ttl+time.Second)), 1, t0.Add(2*ttl+time.Second))
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.usedNC(early); ok {
		t.Error("use of a nonce stale for a NonceTTL still held")
	}
	if nc, ok := n.usedNC(late); !ok || nc != 2 {
		t.Errorf("late nonce's use = %d, %v; want 2 (claimed in the previous generation)", nc, ok)
	}
}

// BenchmarkNonceClaim claims fresh nonces with held uses already kept:
// at 1,000 REGISTERs/s a NonceTTL of 5 min holds 300,000.
func BenchmarkNonceClaim(b *testing.B) {
	for _, held := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			n := newNonces(5 * time.Minute)
			now := time.Unix(1_800_000_000, 0)
			for range held {
				n.claim(n.issue(now), 1, now)
			}
			fresh := make([]string, b.N)
			for i := range fresh {
				fresh[i] = n.issue(now)
			}
			b.ResetTimer()
			for i := range b.N {
				if !n.claim(fresh[i], 1, now) {
					b.Fatal("fresh nonce refused")
				}
			}
		})
	}
}
