package server

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The leader purges exactly the tokens expired at its clock, through
// Raft, and proposes nothing when none is due.
func TestTokenSweep_PurgesExpiredTokensByInjectedClock(t *testing.T) {
	n := openDirectory(t)
	t0 := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	put := func(name string, ttl time.Duration) *dirpb.Command {
		d := sha256.Sum256([]byte(name))
		return &dirpb.Command{Op: &dirpb.Command_PutToken{PutToken: &dirpb.PutToken{MaxPerUser: 10, Token: &dirpb.BearerToken{
			Digest: d[:], User: "bob", IssuedUnixMs: t0.UnixMilli(), ExpiresUnixMs: t0.Add(ttl).UnixMilli()}}}}
	}
	mustApply(t, n, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob"}}}},
		put("short", time.Hour), put("long", 24*time.Hour))
	clock := t0.Add(30 * time.Minute)
	s := &tokenSweep{dir: n, now: func() time.Time { return clock }, logger: slog.New(slog.DiscardHandler)}

	ctx := context.Background()
	before := n.Applied()
	if purged, err := s.sweep(ctx); err != nil || purged || n.Applied() != before {
		t.Fatalf("sweep before any expiry: purged=%v err=%v, applied %d → %d", purged, err, before, n.Applied())
	}
	clock = t0.Add(time.Hour)
	if purged, err := s.sweep(ctx); err != nil || !purged {
		t.Fatalf("sweep at the first expiry: purged=%v err=%v", purged, err)
	}
	if tks, err := n.Store().TokensOf("bob"); err != nil || len(tks) != 1 || tks[0].ExpiresUnixMs != t0.Add(24*time.Hour).UnixMilli() {
		t.Fatalf("tokens left: %v %v, want the long one", tks, err)
	}
}
