// Package tokens issues and checks bearer tokens: random 256-bit secrets
// of which only the SHA-256 is kept, in the directory (written through
// Raft), so that a token works on every node of the cluster and survives
// restarts. Checking a token is a point read of the node's own copy. The
// caller passes the time in.
package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Prefix starts every token, so that a leaked one is recognisable (secret
// scanners, logs).
const Prefix = "ucg_"

// tokenLen is the length of a token: Prefix and 32 bytes in base64url.
var tokenLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(32)

// ErrUnknown is returned for a token that was never issued, has expired
// or was revoked (or whose revocation has not reached this node yet).
var ErrUnknown = errors.New("tokens: unknown, expired or revoked token")

// Config sizes the tokens. Zero fields take the defaults documented on
// each (Default); New fills them in (WithDefaults) and then calls
// Validate.
type Config struct {
	// TTL is how long a token is valid. Default 12h: one working day, so
	// a client signs in once a day with the password.
	TTL time.Duration
	// MaxPerUser bounds the live tokens of one user; issuing one more
	// drops that user's oldest (in the directory, on every node alike).
	// Default 100 (clients, browser tabs).
	MaxPerUser int
	// MaxTicketsPerUser bounds the live event-stream tickets of one user,
	// apart from MaxPerUser: tickets never push out tokens. One more is
	// refused (ErrTooManyTickets) until one is used or expires. Default
	// 20: a browser makes one per stream it opens and uses it at
	// once, so 20 live at a time is far beyond any real client.
	MaxTicketsPerUser int
}

// DefaultMaxTicketsPerUser is Config.MaxTicketsPerUser's default.
const DefaultMaxTicketsPerUser = 20

// Default is the default configuration.
var Default = Config{TTL: 12 * time.Hour, MaxPerUser: 100, MaxTicketsPerUser: DefaultMaxTicketsPerUser}

// WithDefaults returns a copy of c with every zero field set to its
// default (Default's).
func (c Config) WithDefaults() Config {
	if c.TTL == 0 {
		c.TTL = Default.TTL
	}
	if c.MaxPerUser == 0 {
		c.MaxPerUser = Default.MaxPerUser
	}
	if c.MaxTicketsPerUser == 0 {
		c.MaxTicketsPerUser = Default.MaxTicketsPerUser
	}
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.TTL < time.Millisecond:
		return fmt.Errorf("tokens: Config.TTL: %v, must be at least 1ms", c.TTL)
	case c.MaxPerUser < 1 || c.MaxPerUser > persistence.MaxTokensPerUser:
		return fmt.Errorf("tokens: Config.MaxPerUser: %d, must be in [1, %d]", c.MaxPerUser, persistence.MaxTokensPerUser)
	case c.MaxTicketsPerUser < 1 || c.MaxTicketsPerUser > persistence.MaxTicketsPerUser:
		return fmt.Errorf("tokens: Config.MaxTicketsPerUser: %d, must be in [1, %d]", c.MaxTicketsPerUser, persistence.MaxTicketsPerUser)
	}
	return nil
}

// Token is an issued token as the directory knows it (without the secret).
type Token struct {
	User      string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Store issues tokens into a directory and checks them against its local
// copy. It holds no state of its own and is safe for concurrent use.
type Store struct {
	cfg Config
	dir *persistence.Node
}

// New returns a store over dir with cfg's defaults filled in; it fails
// when Validate does.
func New(cfg Config, dir *persistence.Node) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dir == nil {
		return nil, errors.New("tokens: directory is nil")
	}
	return &Store{cfg: cfg, dir: dir}, nil
}

// Issue creates a token for user valid from now for the configured TTL
// and writes its digest through Raft. It returns the token, what the
// directory holds of it, and the Raft index of the write: a check on
// another node that first waits for that index (WaitApplied) finds it.
// The directory refuses a missing or disabled user (persistence.ErrNotFound,
// ErrConflict).
func (s *Store) Issue(ctx context.Context, user string, now time.Time) (string, Token, uint64, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Token{}, 0, fmt.Errorf("tokens: random: %w", err)
	}
	tok := Prefix + base64.RawURLEncoding.EncodeToString(secret[:])
	d := sha256.Sum256([]byte(tok))
	rec := &dirpb.BearerToken{Digest: d[:], User: user, IssuedUnixMs: now.UnixMilli(),
		ExpiresUnixMs: now.Add(s.cfg.TTL).UnixMilli()}
	cmd := &dirpb.Command{Op: &dirpb.Command_PutToken{PutToken: &dirpb.PutToken{Token: rec, MaxPerUser: int32(s.cfg.MaxPerUser)}}}
	index, err := s.dir.Apply(ctx, cmd)
	if err != nil {
		return "", Token{}, 0, fmt.Errorf("tokens: issue for user=%q: %w", user, err)
	}
	return tok, tokenOf(rec), index, nil
}

// Check returns the live token tok names in this node's directory, or
// ErrUnknown. A malformed token is refused without a read.
func (s *Store) Check(tok string, now time.Time) (Token, error) {
	d, ok := digest(tok)
	if !ok {
		return Token{}, ErrUnknown
	}
	return s.CheckDigest(d, now)
}

// Revoke ends tok on every node and returns the Raft index of the
// revocation, or ErrUnknown when the directory holds no such token.
func (s *Store) Revoke(ctx context.Context, tok string) (uint64, error) {
	d, ok := digest(tok)
	if !ok {
		return 0, ErrUnknown
	}
	cmd := &dirpb.Command{Op: &dirpb.Command_RevokeToken{RevokeToken: &dirpb.RevokeToken{Digest: d}}}
	index, err := s.dir.Apply(ctx, cmd)
	var ce *persistence.CommandError
	if errors.As(err, &ce) && errors.Is(err, persistence.ErrNotFound) {
		return index, ErrUnknown
	}
	if err != nil {
		return 0, fmt.Errorf("tokens: revoke: %w", err)
	}
	return index, nil
}

// RevokeUser ends every token of user on every node (sign out
// everywhere) and returns the Raft index of the revocation. The directory
// does the same by itself when a user is deleted, disabled or given a new
// password.
func (s *Store) RevokeUser(ctx context.Context, user string) (uint64, error) {
	cmd := &dirpb.Command{Op: &dirpb.Command_RevokeUserTokens{RevokeUserTokens: &dirpb.RevokeUserTokens{User: user}}}
	index, err := s.dir.Apply(ctx, cmd)
	if err != nil {
		return 0, fmt.Errorf("tokens: revoke all of user=%q: %w", user, err)
	}
	return index, nil
}

// digest is the SHA-256 of tok, or false when tok cannot be a token.
func digest(tok string) ([]byte, bool) {
	if len(tok) != tokenLen || !strings.HasPrefix(tok, Prefix) {
		return nil, false
	}
	d := sha256.Sum256([]byte(tok))
	return d[:], true
}

func tokenOf(rec *dirpb.BearerToken) Token {
	return Token{User: rec.User, IssuedAt: time.UnixMilli(rec.IssuedUnixMs), ExpiresAt: time.UnixMilli(rec.ExpiresUnixMs)}
}

// CheckDigest is Check for a token known by its SHA-256 only (the token
// an event-stream ticket was made from).
func (s *Store) CheckDigest(d []byte, now time.Time) (Token, error) {
	rec, err := s.dir.Store().Token(d)
	if errors.Is(err, persistence.ErrNotFound) {
		return Token{}, ErrUnknown
	}
	if err != nil {
		return Token{}, fmt.Errorf("tokens: check: %w", err)
	}
	if now.UnixMilli() >= rec.ExpiresUnixMs {
		return Token{}, ErrUnknown
	}
	return tokenOf(rec), nil
}

// Digest is the SHA-256 of a token as the directory keys it, or false
// when tok cannot be a token.
func Digest(tok string) ([]byte, bool) { return digest(tok) }
