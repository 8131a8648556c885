package server

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The leader purges exactly the tokens and registrations expired at its
// clock, through Raft, and proposes nothing when none is due.
func TestExpirySweep_PurgesExpiredTokensAndRegistrationsByInjectedClock(t *testing.T) {
	n := openDirectory(t)
	t0 := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	put := func(name string, ttl time.Duration) *dirpb.Command {
		d := sha256.Sum256([]byte(name))
		return &dirpb.Command{Op: &dirpb.Command_PutToken{PutToken: &dirpb.PutToken{MaxPerUser: 10, Token: &dirpb.BearerToken{
			Digest: d[:], User: "bob", IssuedUnixMs: t0.UnixMilli(), ExpiresUnixMs: t0.Add(ttl).UnixMilli()}}}}
	}
	reg := func(contact string, ttl time.Duration) *dirpb.Command {
		return &dirpb.Command{Op: &dirpb.Command_PutRegistration{PutRegistration: &dirpb.PutRegistration{Registration: &dirpb.Registration{
			Line: "100", Contact: contact, ExpiresAtUnix: t0.Add(ttl).Unix()}}}}
	}
	mustApply(t, n, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob"}}}},
		put("short", time.Hour), put("long", 24*time.Hour),
		&dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: "100", Owner: "bob"}}}},
		reg("sip:100@192.0.2.1", 2*time.Hour), reg("sip:100@192.0.2.2", 24*time.Hour))
	clock := t0.Add(30 * time.Minute)
	s := &expirySweep{dir: n, now: func() time.Time { return clock }, logger: slog.New(slog.DiscardHandler)}

	ctx := context.Background()
	before := n.Applied()
	if purged, err := s.sweep(ctx); err != nil || purged != 0 || n.Applied() != before {
		t.Fatalf("sweep before any expiry: purged=%d err=%v, applied %d → %d", purged, err, before, n.Applied())
	}
	clock = t0.Add(time.Hour)
	if purged, err := s.sweep(ctx); err != nil || purged != 1 {
		t.Fatalf("sweep at the first token expiry: purged=%d err=%v, want 1 purge", purged, err)
	}
	if tks, err := n.Store().TokensOf("bob"); err != nil || len(tks) != 1 || tks[0].ExpiresUnixMs != t0.Add(24*time.Hour).UnixMilli() {
		t.Fatalf("tokens left: %v %v, want the long one", tks, err)
	}
	clock = t0.Add(2 * time.Hour)
	if purged, err := s.sweep(ctx); err != nil || purged != 1 {
		t.Fatalf("sweep at the first registration expiry: purged=%d err=%v, want 1 purge", purged, err)
	}
	if regs, err := n.Store().Registrations("100"); err != nil || len(regs) != 1 || regs[0].Contact != "sip:100@192.0.2.2" {
		t.Fatalf("registrations left: %v %v, want the long one", regs, err)
	}
	if purged, err := s.sweep(ctx); err != nil || purged != 0 {
		t.Fatalf("sweep with nothing more due: purged=%d err=%v", purged, err)
	}
}
