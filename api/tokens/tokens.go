// Package tokens issues and checks bearer tokens: random 256-bit secrets of
// which only the SHA-256 is kept, in this process's memory, with an expiry.
// The caller passes the time in.
package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Prefix starts every token, so that a leaked one is recognisable (secret
// scanners, logs).
const Prefix = "ucg_"

// ErrUnknown is returned for a token that was never issued here, has
// expired or was revoked.
var ErrUnknown = errors.New("tokens: unknown, expired or revoked token")

// Config sizes the store.
type Config struct {
	// TTL is how long a token is valid. Default 12h: one working day, so
	// a client signs in once a day with the password.
	TTL time.Duration
	// MaxPerUser bounds the live tokens of one user; issuing one more
	// drops that user's oldest. Default 100 (clients, browser tabs).
	MaxPerUser int
}

// Default is the default configuration.
var Default = Config{TTL: 12 * time.Hour, MaxPerUser: 100}

// Validate names the first bad field.
func (c Config) Validate() error {
	switch {
	case c.TTL <= 0:
		return errors.New("tokens: Config.TTL must be positive")
	case c.MaxPerUser < 1:
		return errors.New("tokens: Config.MaxPerUser must be at least 1")
	}
	return nil
}

// Token is an issued token as the store knows it (without the secret).
type Token struct {
	User      string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type digest [sha256.Size]byte

// Store holds the digests of the live tokens. It is safe for concurrent use.
type Store struct {
	cfg    Config
	mu     sync.Mutex
	byHash map[digest]Token
	byUser map[string][]digest // issue order
}

// New returns an empty store; cfg must be valid.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{cfg: cfg, byHash: map[digest]Token{}, byUser: map[string][]digest{}}, nil
}

// Issue creates a token for user valid from now for the configured TTL.
func (s *Store) Issue(user string, now time.Time) (string, Token, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Token{}, fmt.Errorf("tokens: random: %w", err)
	}
	tok := Prefix + base64.RawURLEncoding.EncodeToString(secret[:])
	t := Token{User: user, IssuedAt: now, ExpiresAt: now.Add(s.cfg.TTL)}
	h := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepUser(user, now)
	if list := s.byUser[user]; len(list) >= s.cfg.MaxPerUser {
		delete(s.byHash, list[0])
		s.byUser[user] = list[1:]
	}
	s.byHash[h] = t
	s.byUser[user] = append(s.byUser[user], h)
	return tok, t, nil
}

// Check returns the live token tok names, or ErrUnknown.
func (s *Store) Check(tok string, now time.Time) (Token, error) {
	if !strings.HasPrefix(tok, Prefix) {
		return Token{}, ErrUnknown
	}
	h := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.byHash[h]
	if !ok || !now.Before(t.ExpiresAt) {
		return Token{}, ErrUnknown
	}
	return t, nil
}

// Revoke ends tok and returns whose it was, or ErrUnknown.
func (s *Store) Revoke(tok string) (Token, error) {
	h := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.byHash[h]
	if !ok {
		return Token{}, ErrUnknown
	}
	delete(s.byHash, h)
	list := s.byUser[t.User]
	for i, d := range list {
		if d == h {
			s.byUser[t.User] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(s.byUser[t.User]) == 0 {
		delete(s.byUser, t.User)
	}
	return t, nil
}

// RevokeUser ends every token of user (e.g. when the user is deleted,
// disabled or changes password) and returns how many there were.
func (s *Store) RevokeUser(user string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.byUser[user]
	for _, d := range list {
		delete(s.byHash, d)
	}
	delete(s.byUser, user)
	return len(list)
}

// sweepUser drops user's expired tokens; the caller holds mu.
func (s *Store) sweepUser(user string, now time.Time) {
	list := s.byUser[user]
	kept := list[:0]
	for _, d := range list {
		if now.Before(s.byHash[d].ExpiresAt) {
			kept = append(kept, d)
		} else {
			delete(s.byHash, d)
		}
	}
	s.byUser[user] = kept
}

// Sweep drops every expired token; call it now and then to bound memory
// held by users who never come back.
func (s *Store) Sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for user := range s.byUser {
		s.sweepUser(user, now)
		if len(s.byUser[user]) == 0 {
			delete(s.byUser, user)
		}
	}
}

// Len is the number of tokens held, expired ones not yet swept included.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHash)
}
