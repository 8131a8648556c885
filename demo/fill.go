package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/api/tokens"
)

// Config is what Fill needs. API and Tokens are required.
type Config struct {
	// API is the node's /v1 handler (api.NewHandler). Fill sends it every
	// write as an HTTP request in-process, so the API validates, checks
	// the rights of and stores each record as it would an administrator's.
	API http.Handler
	// Tokens issues the bearer tokens Fill acts with: the system owner's
	// for most requests, and the person's own for the grants people make
	// on their own behalf (only the target may). Each is revoked when
	// Fill returns.
	Tokens *tokens.Store
	// Admin is the system owner Fill acts as. Default "admin" (the one a
	// first start creates).
	Admin string
	// SIPDomain is the domain of the people's SIP addresses; it should be
	// the node's (the realm of the SIP passwords). Default "ucgrid.local",
	// the API's default realm.
	SIPDomain string
	// Now dates the holidays of the call groups. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Admin == "" {
		c.Admin = "admin"
	}
	if c.SIPDomain == "" {
		c.SIPDomain = "ucgrid.local"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// SignIn is the credentials of one person Fill prints.
type SignIn struct {
	// Who says what the person is, e.g. "administrator (system_admin)".
	Who string
	// User, Name and Password sign in (POST /v1/tokens with Basic).
	User, Name, Password string
	// Line and SIPPassword register the person's desk phone (digest user
	// Line, realm the SIP domain).
	Line, SIPPassword string
}

// Result is what Fill wrote.
type Result struct {
	// People, Groups and Lines count the records written.
	People, Groups, Lines int
	// SignIns are the administrator, the manager and the plain user, in
	// that order, with their passwords: shown once, stored only as hashes.
	SignIns []SignIn
}

// passwordLen is the length of the generated passwords, as the admin's.
const passwordLen = 20

// Fill writes the demo company through the API. It does not check that
// the directory is empty (the node does, before it starts): on a filled
// one the people and groups are written again with new passwords. An
// error names the request the API refused; what was written before it
// stays.
func Fill(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if cfg.API == nil || cfg.Tokens == nil {
		return nil, errors.New("demo: Config.API and Config.Tokens are required")
	}
	res, sec, err := newResult()
	if err != nil {
		return nil, err
	}
	c := &client{cfg: cfg, tokens: map[string]string{}}
	defer func() {
		// After a failed step: best effort, the step's error is the one
		// to report (after success the tokens are gone already).
		_ = c.signOut()
	}()
	for _, s := range plan(cfg.Admin, cfg.SIPDomain, cfg.Now(), sec) {
		if err := c.do(ctx, s); err != nil {
			return nil, err
		}
	}
	if err := c.signOut(); err != nil {
		return nil, err
	}
	res.People, res.Groups = len(people), len(departments)
	for _, p := range people {
		res.Lines += len(linesOf(p))
	}
	return res, nil
}

// newResult generates the passwords of the three people Fill prints and
// the SIP passwords of their desk lines.
func newResult() (*Result, secrets, error) {
	sec := secrets{passwords: map[string]string{}, sipPasswords: map[string]string{}}
	res := &Result{}
	for _, who := range []struct{ id, what string }{
		{Administrator, "administrator (system_admin, head of IT)"},
		{Manager, "manager (leads Sales, group role manager)"},
		{PlainUser, "plain user (Sales, no role)"},
	} {
		pw, err := password.Generate(passwordLen)
		if err != nil {
			return nil, sec, err
		}
		sip, err := password.Generate(passwordLen)
		if err != nil {
			return nil, sec, err
		}
		p := lookup(who.id)
		sec.passwords[p.id], sec.sipPasswords[deskLine(p.index)] = pw, sip
		res.SignIns = append(res.SignIns, SignIn{Who: who.what, User: p.id, Name: p.name, Password: pw,
			Line: deskLine(p.index), SIPPassword: sip})
	}
	return res, sec, nil
}

func lookup(id string) person {
	for _, p := range people {
		if p.id == id {
			return p
		}
	}
	return person{id: id}
}

// client sends the plan's requests to the API, signed in as each step's
// user with a token of its own.
type client struct {
	cfg    Config
	tokens map[string]string
	// index is the highest consistency token seen: every request waits
	// for it, so it reads what the ones before it wrote.
	index uint64
}

func (c *client) do(ctx context.Context, s step) error {
	tok, err := c.token(ctx, s.as)
	if err != nil {
		return err
	}
	body, err := json.Marshal(s.body)
	if err != nil {
		return fmt.Errorf("demo: %s %s: %w", s.method, s.path, err)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, s.path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("demo: %s %s: %w", s.method, s.path, err)
	}
	req.RemoteAddr = "127.0.0.1:0" // in-process: the node itself
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	if c.index > 0 {
		req.Header.Set(api.IndexHeader, strconv.FormatUint(c.index, 10))
	}
	rec := newRecorder()
	c.cfg.API.ServeHTTP(rec, req)
	c.see(rec.header.Get(api.IndexHeader))
	if rec.status < 200 || rec.status > 299 {
		return fmt.Errorf("demo: %s %s as %q: the API answered %d: %s", s.method, s.path, s.as, rec.status, bytes.TrimSpace(rec.body.Bytes()))
	}
	return nil
}

func (c *client) see(index string) {
	if i, err := strconv.ParseUint(index, 10, 64); err == nil && i > c.index {
		c.index = i
	}
}

// token is user's token, issued on first use.
func (c *client) token(ctx context.Context, user string) (string, error) {
	if tok, ok := c.tokens[user]; ok {
		return tok, nil
	}
	tok, _, index, err := c.cfg.Tokens.Issue(ctx, user, c.cfg.Now())
	if err != nil {
		return "", fmt.Errorf("demo: sign in as %q: %w", user, err)
	}
	c.tokens[user] = tok
	if index > c.index {
		c.index = index
	}
	return tok, nil
}

// signOut revokes the tokens issued so far; it may be called again.
func (c *client) signOut() error {
	var errs []error
	for user, tok := range c.tokens {
		// A context of its own: the tokens go even when ctx ended.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := c.cfg.Tokens.Revoke(ctx, tok); err != nil && !errors.Is(err, tokens.ErrUnknown) {
			errs = append(errs, fmt.Errorf("demo: sign out %q: %w", user, err))
		}
		cancel()
		delete(c.tokens, user)
	}
	return errors.Join(errs...)
}

// recorder is the http.ResponseWriter of an in-process request.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
