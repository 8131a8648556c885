package tokens

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStore_IssueCheckRevokeExpire(t *testing.T) {
	s, err := New(Config{TTL: time.Hour, MaxPerUser: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	tok, info, err := s.Issue("bob", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, Prefix) || len(tok) != len(Prefix)+43 || info.User != "bob" {
		t.Fatalf("token %q info %+v", tok, info)
	}
	if got, err := s.Check(tok, now.Add(59*time.Minute)); err != nil || got.User != "bob" {
		t.Fatalf("Check = %+v %v", got, err)
	}
	if _, err := s.Check(tok, now.Add(time.Hour)); !errors.Is(err, ErrUnknown) {
		t.Fatalf("expired token: %v", err)
	}
	if _, err := s.Check(tok+"x", now); !errors.Is(err, ErrUnknown) {
		t.Fatalf("forged token: %v", err)
	}
	if _, err := s.Revoke(tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(tok, now); !errors.Is(err, ErrUnknown) {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestStore_MaxPerUserDropsOldest(t *testing.T) {
	s, err := New(Config{TTL: time.Hour, MaxPerUser: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	first, _, _ := s.Issue("bob", now)
	s.Issue("bob", now)
	s.Issue("bob", now)
	if _, err := s.Check(first, now); !errors.Is(err, ErrUnknown) {
		t.Fatal("the oldest token survived")
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d", s.Len())
	}
	if n := s.RevokeUser("bob"); n != 2 || s.Len() != 0 {
		t.Fatalf("RevokeUser = %d, Len %d", n, s.Len())
	}
	s.Issue("amy", now)
	s.Sweep(now.Add(2 * time.Hour))
	if s.Len() != 0 {
		t.Fatalf("Sweep left %d", s.Len())
	}
}
