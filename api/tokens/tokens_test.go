package tokens

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testdir"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// openDir opens a single-node directory in dir with user "bob", waits for
// leadership and closes it at the end of the test unless closed before.
func openDir(t *testing.T, dir string) *persistence.Node {
	t.Helper()
	n := testdir.Open(t, persistence.Config{Dir: dir, NodeID: "n1", ClusterID: "tokens-test"})
	if _, err := n.Apply(context.Background(), &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob"}}}}); err != nil {
		t.Fatal(err)
	}
	return n
}

func newStore(t *testing.T, cfg Config) (*Store, *persistence.Node) {
	t.Helper()
	n := openDir(t, t.TempDir())
	s, err := New(cfg, n)
	if err != nil {
		t.Fatal(err)
	}
	return s, n
}

func TestStore_IssueCheckRevokeExpire(t *testing.T) {
	s, _ := newStore(t, Config{TTL: time.Hour, MaxPerUser: 2})
	ctx := context.Background()
	now := time.Unix(1000, 0)
	tok, info, index, err := s.Issue(ctx, "bob", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, Prefix) || len(tok) != len(Prefix)+43 || info.User != "bob" || index == 0 {
		t.Fatalf("token %q info %+v index %d", tok, info, index)
	}
	if got, err := s.Check(tok, now.Add(59*time.Minute)); err != nil || got.User != "bob" || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("Check = %+v %v", got, err)
	}
	if _, err := s.Check(tok, now.Add(time.Hour)); !errors.Is(err, ErrUnknown) {
		t.Fatalf("expired token: %v", err)
	}
	last := "A" // the last character changed (it is random, and may be an A)
	if strings.HasSuffix(tok, last) {
		last = "B"
	}
	for _, forged := range []string{tok + "x", tok[:len(tok)-1] + last, "ucg_", "", strings.TrimPrefix(tok, Prefix)} {
		if _, err := s.Check(forged, now); !errors.Is(err, ErrUnknown) {
			t.Fatalf("forged token %q: %v", forged, err)
		}
	}
	if _, err := s.Revoke(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(tok, now); !errors.Is(err, ErrUnknown) {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := s.Revoke(ctx, tok); !errors.Is(err, ErrUnknown) {
		t.Fatalf("revoked twice: %v", err)
	}
}

func TestStore_MaxPerUserDropsOldestAndRevokeUserEndsAll(t *testing.T) {
	s, n := newStore(t, Config{TTL: time.Hour, MaxPerUser: 2})
	ctx := context.Background()
	now := time.Unix(1000, 0)
	var toks []string
	for range 3 {
		tok, _, _, err := s.Issue(ctx, "bob", now)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	if _, err := s.Check(toks[0], now); !errors.Is(err, ErrUnknown) {
		t.Fatal("the oldest token survived")
	}
	if held, _ := n.Store().TokensOf("bob"); len(held) != 2 {
		t.Fatalf("bob holds %d tokens, want 2", len(held))
	}
	if _, err := s.RevokeUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if _, err := s.Check(tok, now); !errors.Is(err, ErrUnknown) {
			t.Fatalf("token after RevokeUser: %v", err)
		}
	}
	if _, _, _, err := s.Issue(ctx, "nobody", now); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("Issue for a missing user: %v, want ErrNotFound", err)
	}
}

// A token is in the directory, not in the process: it survives a restart.
func TestStore_TokenSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	n := openDir(t, dir)
	s, err := New(Default, n)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	tok, _, _, err := s.Issue(context.Background(), "bob", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = New(Default, openDir(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Check(tok, now); err != nil || got.User != "bob" {
		t.Fatalf("Check after reopen = %+v, %v", got, err)
	}
}

func TestConfig_ValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{TTL: time.Microsecond}, "TTL"},
		{Config{MaxPerUser: -1}, "MaxPerUser"},
		{Config{MaxPerUser: persistence.MaxTokensPerUser + 1}, "MaxPerUser"},
		{Config{MaxTicketsPerUser: -1}, "MaxTicketsPerUser"},
		{Config{MaxTicketsPerUser: persistence.MaxTicketsPerUser + 1}, "MaxTicketsPerUser"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), "tokens: Config."+tc.field+": ") {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
}
