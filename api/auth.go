package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/api/roles"
	"github.com/ucgrid/ucgrid/api/tokens"
	"github.com/ucgrid/ucgrid/internal/throttle"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// caller is the authenticated user of a request.
type caller struct {
	user    *dirpb.User
	subject roles.Subject
	// token is the bearer token the request came with ("" for Basic).
	token string
	// index is the consistency token the request named (0 = none), already
	// applied on this node; passed on to the grains.
	index uint64
}

func (c *caller) id() string { return c.user.GetId() }

// authenticator checks credentials. Basic: argon2id against the stored
// hash, throttled per (user id, source address) pair and per source
// address, under a much higher per-user ceiling that addresses the user
// signed in from recently are exempt from, with a dummy hash
// verified for unknown users so that both cases cost the same and answer
// the same. Bearer: a point read of the token's digest in this node's
// directory (api/tokens); the request's consistency token, awaited before
// authentication, makes a token issued on another node known here.
type authenticator struct {
	cfg    *HandlerConfig
	store  *persistence.Store
	tokens *tokens.Store
	byPair *throttle.Limiter
	byUser *throttle.Limiter
	byAddr *throttle.Limiter
	// known holds the pairs that signed in recently: exempt from byUser.
	known *throttle.Known
	// verifying bounds concurrent argon2 runs (memory).
	verifying chan struct{}
	// dummy returns a hash of a random password under cfg.Passwords,
	// computed once, in the background from the start.
	dummy func() (string, error)
	// audit logs failed sign-ins, rate-limited per address.
	audit *signinAudit
}

// Sign-in failure log limits (signinAudit): one line per client address
// per minute, at most 4096 addresses tracked at once (~0.5 MB).
const (
	signinAuditWindow   = time.Minute
	signinAuditMaxAddrs = 4096
)

func newAuthenticator(cfg *HandlerConfig, st *persistence.Store) (*authenticator, error) {
	a := &authenticator{cfg: cfg, store: st, verifying: make(chan struct{}, cfg.MaxConcurrentVerify),
		audit: newSigninAudit(cfg.Logger, signinAuditWindow, signinAuditMaxAddrs)}
	var err error
	if a.tokens, err = tokens.New(cfg.Tokens, cfg.Directory); err != nil {
		return nil, err
	}
	if a.byPair, err = throttle.New(cfg.PairThrottle); err != nil {
		return nil, err
	}
	a.known = throttle.NewKnown(cfg.KnownSourceTTL, cfg.PairThrottle.MaxKeys)
	if a.byUser, err = throttle.New(cfg.UserThrottle); err != nil {
		return nil, err
	}
	if a.byAddr, err = throttle.New(cfg.AddressThrottle); err != nil {
		return nil, err
	}
	pw, err := password.Generate(24)
	if err != nil {
		return nil, err
	}
	// Hashed in the background: one argon2id run (~0.3–0.9 s with the
	// production costs on a loaded 2-core machine) is not on the way to
	// ready; the first sign-in that needs it waits for it.
	a.dummy = sync.OnceValues(func() (string, error) { return password.Hash(pw, cfg.Passwords) })
	go a.dummy() //nolint:errcheck // the error is the first caller's
	return a, nil
}

// errBadCredentials is the one answer to every failed sign-in: unknown
// user, wrong password, disabled user, unknown or expired token.
var errBadCredentials = &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
	msg: "invalid credentials: sign in with HTTP Basic (user id and password) or a bearer token from POST /v1/tokens"}

var errNoCredentials = &apiError{status: http.StatusUnauthorized, code: codeUnauthorized,
	msg: "authentication required: HTTP Basic (user id and password) or Authorization: Bearer TOKEN"}

// authenticate returns the request's caller or an *apiError (401, 429).
func (a *authenticator) authenticate(r *http.Request) (*caller, error) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return nil, errNoCredentials
	}
	if tok, ok := cutScheme(authz, "Bearer"); ok {
		return a.bearer(r, tok)
	}
	if user, pw, ok := r.BasicAuth(); ok {
		return a.basic(r.Context(), user, pw, a.cfg.clientAddr(r))
	}
	return nil, errNoCredentials
}

// cutScheme returns the credentials after an auth scheme, which is
// case-insensitive (RFC 9110 §11.1).
func cutScheme(authz, scheme string) (string, bool) {
	if len(authz) <= len(scheme) || !strings.EqualFold(authz[:len(scheme)], scheme) || authz[len(scheme)] != ' ' {
		return "", false
	}
	return strings.TrimSpace(authz[len(scheme)+1:]), true
}

func (a *authenticator) bearer(r *http.Request, tok string) (*caller, error) {
	now := a.cfg.Now()
	addr := a.cfg.clientAddr(r)
	if wait := a.byAddr.Wait(addr, now); wait > 0 {
		return nil, throttled(wait)
	}
	t, err := a.tokens.Check(tok, now)
	if errors.Is(err, tokens.ErrUnknown) {
		a.byAddr.Fail(addr, now)
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, err
	}
	u, err := a.store.User(t.User)
	if errors.Is(err, persistence.ErrNotFound) || (err == nil && u.Disabled) {
		// The directory drops the tokens of a deleted or disabled user in
		// the same command; this is a second line of defence.
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, err
	}
	return a.caller(u, tok)
}

// validNow checks the request's credentials without counting a failure:
// true when they are valid on this node now; false when they are not
// (yet: a token issued, a user created or a password changed on another
// node is not known here before this node applies it); an error for no
// credentials or a throttled sign-in.
func (a *authenticator) validNow(r *http.Request) (bool, error) {
	authz, now, addr := r.Header.Get("Authorization"), a.cfg.Now(), a.cfg.clientAddr(r)
	if tok, ok := cutScheme(authz, "Bearer"); ok {
		if wait := a.byAddr.Wait(addr, now); wait > 0 {
			return false, throttled(wait)
		}
		_, err := a.tokens.Check(tok, now)
		return err == nil, nil
	}
	id, pw, ok := r.BasicAuth()
	if authz == "" || !ok {
		return false, errNoCredentials
	}
	if wait := a.wait(id, addr, now); wait > 0 {
		a.audit.failed(id, addr, auditThrottled, now)
		return false, throttled(wait)
	}
	select {
	case a.verifying <- struct{}{}:
	case <-r.Context().Done():
		return false, r.Context().Err()
	}
	_, valid, err := a.verify(id, pw)
	<-a.verifying
	return valid, err
}

func (a *authenticator) basic(ctx context.Context, id, pw, addr string) (*caller, error) {
	now := a.cfg.Now()
	if wait := a.wait(id, addr, now); wait > 0 {
		a.audit.failed(id, addr, auditThrottled, now)
		return nil, throttled(wait)
	}
	select {
	case a.verifying <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	u, ok, err := a.verify(id, pw)
	<-a.verifying
	if err != nil {
		return nil, err
	}
	if !ok {
		a.byPair.Fail(pairKey(id, addr), now)
		a.byUser.Fail(id, now)
		a.byAddr.Fail(addr, now)
		a.audit.failed(id, addr, auditBadCredentials, now)
		return nil, errBadCredentials
	}
	// The per-user ceiling is not reset: a distributed guesser would win
	// another burst each time the user signs in. The user's own address
	// is exempt from it instead.
	a.byPair.Succeed(pairKey(id, addr))
	a.known.Add(pairKey(id, addr), now)
	return a.caller(u, "")
}

// wait is how long a sign-in of id from addr must wait: the longest of the
// pair's and the address's throttles, and of the user's ceiling unless the
// pair signed in recently.
func (a *authenticator) wait(id, addr string, now time.Time) time.Duration {
	wait := max(a.byPair.Wait(pairKey(id, addr), now), a.byAddr.Wait(addr, now))
	if !a.known.Has(pairKey(id, addr), now) {
		wait = max(wait, a.byUser.Wait(id, now))
	}
	return wait
}

// pairKey is the throttle key of a user id from an address; NUL is in
// neither.
func pairKey(id, addr string) string { return id + "\x00" + addr }

// confirm checks the signed-in user's current password, e.g. before the
// user sets a new one: a wrong one is a failed sign-in (throttled, counted
// like one) answered 403 naming field, as the caller is signed in.
func (a *authenticator) confirm(ctx context.Context, id, pw, addr, field string) error {
	_, err := a.basic(ctx, id, pw, addr)
	if errors.Is(err, errBadCredentials) {
		return forbidden("%s: wrong password", field)
	}
	return err
}

// verify runs argon2id exactly once whatever the case, so that an unknown
// user, a disabled one and a wrong password take the same time.
func (a *authenticator) verify(id, pw string) (*dirpb.User, bool, error) {
	u, err := a.store.User(id)
	if err != nil && !errors.Is(err, persistence.ErrNotFound) {
		return nil, false, err
	}
	hash, herr := a.dummy()
	if herr != nil {
		return nil, false, fmt.Errorf("api: dummy hash: %w", herr)
	}
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	ok, verr := password.Verify(hash, pw)
	if verr != nil {
		a.cfg.Logger.Warn("stored password hash unreadable", "user", id, "err", verr)
		ok = false
	}
	if u == nil || u.PasswordHash == "" || u.Disabled {
		return nil, false, nil
	}
	return u, ok, nil
}

func throttled(wait time.Duration) *apiError {
	return &apiError{status: http.StatusTooManyRequests, code: codeThrottled, retryAfter: wait,
		msg: fmt.Sprintf("too many failed sign-ins: retry in %d s", int((wait+time.Second-1)/time.Second))}
}

// caller builds the roles subject of u from its group memberships.
func (a *authenticator) caller(u *dirpb.User, tok string) (*caller, error) {
	sys, err := roles.ParseSystemRole(u.SystemRole)
	if err != nil {
		a.cfg.Logger.Warn("stored system role unknown; treated as none", "user", u.Id, "err", err)
	}
	ms, err := a.store.GroupsOf(u.Id)
	if err != nil {
		return nil, err
	}
	sub := roles.Subject{ID: u.Id, System: sys, Groups: make(map[string]roles.GroupRole, len(ms))}
	for _, m := range ms {
		role, err := roles.ParseGroupRole(m.Role)
		if err != nil {
			a.cfg.Logger.Warn("stored group role unknown; ignored", "user", u.Id, "group", m.Group, "err", err)
			continue
		}
		sub.Groups[m.Group] = role
	}
	return &caller{user: u, subject: sub, token: tok}, nil
}
