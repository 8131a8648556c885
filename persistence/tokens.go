package persistence

import (
	"crypto/sha256"
	"encoding/binary"
	"math"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Bearer token tables (docs/keyspace.md). A digest is the 32 raw bytes of
// a SHA-256 and always the last part of its key, so its NUL bytes never
// meet sep in a prefix scan.
const (
	tToken       = "d/bt/" // digest(32) → BearerToken
	tTokenUser   = "d/bu/" // user, index(8) digest(32) → empty (issue order)
	tTokenExpiry = "d/bx/" // expires_ms(8) digest(32) → empty (purges)
)

// MaxTokensPerUser bounds PutToken.max_per_user: a proposer cannot make
// one user's issue scan unbounded.
const MaxTokensPerUser = 10000

// MaxTicketsPerUser bounds PutToken.max_tickets_per_user likewise.
const MaxTicketsPerUser = 1000

func tokenKey(digest []byte) []byte { return key(tToken, string(digest)) }

func tokenUserKey(user string, index uint64, digest []byte) []byte {
	var ix [8]byte
	binary.BigEndian.PutUint64(ix[:], index)
	return key(tTokenUser, user, string(ix[:])+string(digest))
}

func tokenExpiryKey(expiresMs int64, digest []byte) []byte {
	return key(tTokenExpiry, timeKey(expiresMs)+string(digest))
}

func checkDigest(d []byte) error {
	if len(d) != sha256.Size {
		return invalidf("token digest has %d bytes, want %d (SHA-256)", len(d), sha256.Size)
	}
	return nil
}

func checkPutToken(p *dirpb.PutToken) error {
	tk := p.GetToken()
	if tk == nil {
		return invalidf("token is missing")
	}
	if err := checkDigest(tk.Digest); err != nil {
		return err
	}
	if err := checkID("token user", tk.User); err != nil {
		return err
	}
	switch {
	case tk.IssuedUnixMs <= 0:
		return invalidf("token issued_unix_ms=%d is not positive", tk.IssuedUnixMs)
	case tk.ExpiresUnixMs <= tk.IssuedUnixMs:
		return invalidf("token expires_unix_ms=%d is not after issued_unix_ms=%d", tk.ExpiresUnixMs, tk.IssuedUnixMs)
	case p.MaxPerUser < 1 || p.MaxPerUser > MaxTokensPerUser:
		return invalidf("max_per_user=%d is not in [1, %d]", p.MaxPerUser, MaxTokensPerUser)
	case tk.Ticket && (p.MaxTicketsPerUser < 1 || p.MaxTicketsPerUser > MaxTicketsPerUser):
		return invalidf("max_tickets_per_user=%d is not in [1, %d]", p.MaxTicketsPerUser, MaxTicketsPerUser)
	}
	return nil
}

// putToken stores a token of an existing, enabled user, after dropping
// that user's tokens and tickets expired at its issue time and then, for
// a token, the oldest live tokens beyond max_per_user-1. A ticket is
// refused when the user holds max_tickets_per_user live tickets: dropping
// one could end a browser's stream before it opened, and tickets never
// push out tokens. Everything is read before the first write.
func (t *txn) putToken(p *dirpb.PutToken) error {
	if err := checkPutToken(p); err != nil {
		return err
	}
	tk := p.Token
	u, err := t.user(tk.User)
	if err != nil {
		return withContext(err, "token")
	}
	if u.Disabled {
		return conflictf("token: user %q is disabled", tk.User)
	}
	taken, err := t.exists(tokenKey(tk.Digest))
	if err != nil {
		return err
	}
	if taken {
		return conflictf("token: digest exists")
	}
	drop, err := t.tokensToDrop(tk, p)
	if err != nil {
		return err
	}
	if err := t.deleteTokens(drop); err != nil {
		return err
	}
	tk.Index = t.index
	return t.writeToken(tk)
}

// tokensToDrop lists the tokens of tk's user to delete before tk is
// stored: the expired ones (of both kinds), then, for a token, the oldest
// live tokens so that at most max_per_user-1 remain. For a ticket it
// fails with ErrLimit when max_tickets_per_user live tickets remain.
func (t *txn) tokensToDrop(tk *dirpb.BearerToken, p *dirpb.PutToken) ([]*dirpb.BearerToken, error) {
	all, err := t.tokensOf(tk.User)
	if err != nil {
		return nil, err
	}
	var drop, live []*dirpb.BearerToken
	for _, o := range all {
		switch {
		case o.ExpiresUnixMs <= tk.IssuedUnixMs:
			drop = append(drop, o)
		case o.Ticket == tk.Ticket:
			live = append(live, o)
		}
	}
	if tk.Ticket {
		if len(live) >= int(p.MaxTicketsPerUser) {
			return nil, limitf("token: user %q holds %d live event-stream tickets, the most allowed (max_tickets_per_user)", tk.User, len(live))
		}
		return drop, nil
	}
	if excess := len(live) - (int(p.MaxPerUser) - 1); excess > 0 {
		drop = append(drop, live[:excess]...) // issue order: oldest first
	}
	return drop, nil
}

func (t *txn) writeToken(tk *dirpb.BearerToken) error {
	if err := t.put(tokenKey(tk.Digest), tk); err != nil {
		return err
	}
	if err := t.putEmpty(tokenUserKey(tk.User, tk.Index, tk.Digest)); err != nil {
		return err
	}
	return t.putEmpty(tokenExpiryKey(tk.ExpiresUnixMs, tk.Digest))
}

// deleteTokens deletes tks and emits one KindToken change per user, so
// that each node ends the sessions opened with them (event streams).
func (t *txn) deleteTokens(tks []*dirpb.BearerToken) error {
	users := map[string]bool{}
	for _, tk := range tks {
		if err := t.del(tokenKey(tk.Digest), tokenUserKey(tk.User, tk.Index, tk.Digest), tokenExpiryKey(tk.ExpiresUnixMs, tk.Digest)); err != nil {
			return err
		}
		if !users[tk.User] {
			users[tk.User] = true
			t.emit(Change{Kind: KindToken, ID: tk.User, Deleted: true})
		}
	}
	return nil
}

// revokeToken deletes one token by digest.
func (t *txn) revokeToken(digest []byte) error {
	if err := checkDigest(digest); err != nil {
		return err
	}
	tk, err := t.token(digest)
	if err != nil {
		return err
	}
	return t.deleteTokens([]*dirpb.BearerToken{tk})
}

// revokeUserTokens deletes every token of user; a user without tokens
// (or without a record) is not an error: signing out twice is harmless.
func (t *txn) revokeUserTokens(user string) error {
	if err := checkID("token user", user); err != nil {
		return err
	}
	return t.dropTokensOf(user)
}

// dropTokensOf deletes every token of user (sign out everywhere: user
// deleted or disabled, password changed).
func (t *txn) dropTokensOf(user string) error {
	tks, err := t.tokensOf(user)
	if err != nil {
		return err
	}
	return t.deleteTokens(tks)
}

// purgeTokens deletes every token expired at nowMs, through the expiry
// index (no scan over live tokens).
func (t *txn) purgeTokens(nowMs int64) error {
	if nowMs <= 0 {
		return invalidf("purge tokens: now_unix_ms=%d is not positive", nowMs)
	}
	tks, err := t.tokensExpiredAt(nowMs)
	if err != nil {
		return err
	}
	return t.deleteTokens(tks)
}

// tokenExpiryBound is the exclusive upper bound of the expiry keys of
// tokens with expires_unix_ms <= nowMs.
func tokenExpiryBound(nowMs int64) []byte {
	if nowMs == math.MaxInt64 {
		return prefixEnd([]byte(tTokenExpiry))
	}
	return []byte(tTokenExpiry + timeKey(nowMs+1))
}

func (v view) tokensExpiredAt(nowMs int64) ([]*dirpb.BearerToken, error) {
	lo := []byte(tTokenExpiry)
	var digests [][]byte
	err := v.scan(lo, tokenExpiryBound(nowMs), func(k, _ []byte) error {
		digests = append(digests, append([]byte(nil), k[len(lo)+8:]...))
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*dirpb.BearerToken, 0, len(digests))
	for _, d := range digests {
		tk, err := v.token(d)
		if err != nil {
			return nil, err // an expiry key without its token: the store is inconsistent
		}
		out = append(out, tk)
	}
	return out, nil
}

func (v view) token(digest []byte) (*dirpb.BearerToken, error) {
	return get(v, tokenKey(digest), &dirpb.BearerToken{}, "token", "(digest)")
}

// tokensOf returns the tokens of user in issue order.
func (v view) tokensOf(user string) ([]*dirpb.BearerToken, error) {
	p := prefix(tTokenUser, user)
	var digests [][]byte
	err := v.scanPrefix(p, func(k, _ []byte) error {
		digests = append(digests, append([]byte(nil), k[len(p)+8:]...))
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*dirpb.BearerToken, 0, len(digests))
	for _, d := range digests {
		tk, err := v.token(d)
		if err != nil {
			return nil, err
		}
		out = append(out, tk)
	}
	return out, nil
}

// Token returns the token whose SHA-256 is digest, expired or not, or
// ErrNotFound. A point read of this node's copy.
func (s *Store) Token(digest []byte) (*dirpb.BearerToken, error) {
	if len(digest) != sha256.Size {
		return nil, notFoundf("token (digest of %d bytes)", len(digest))
	}
	return s.view().token(digest)
}

// TokensOf returns the tokens of user in issue order, expired ones
// included until a purge removes them.
func (s *Store) TokensOf(user string) ([]*dirpb.BearerToken, error) {
	return s.view().tokensOf(user)
}

// TokensExpiredAt reports whether a PurgeTokens at nowMs would delete
// anything (one seek on the expiry index).
func (s *Store) TokensExpiredAt(nowMs int64) (bool, error) {
	return s.view().anyIn([]byte(tTokenExpiry), tokenExpiryBound(nowMs))
}
