package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/ucgrid/ucgrid/api/tokens"
)

type tokenJSON struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

var errTokenNotFound = errorf(http.StatusNotFound, codeNotFound, "token: unknown, expired or already revoked")

// createToken issues a bearer token to the caller. Its digest goes
// through the directory's Raft log; the answer carries the index, so a
// request with the token and that index works on any node at once.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.WriteTimeout)
	defer cancel()
	tok, t, index, err := h.auth.tokens.Issue(ctx, c.id(), h.cfg.Now())
	if err != nil {
		return err
	}
	w.Header().Set(IndexHeader, strconv.FormatUint(index, 10))
	writeJSON(w, http.StatusCreated, tokenJSON{Token: tok, ExpiresAt: t.ExpiresAt.UTC()})
	return nil
}

// revokeToken ends tokens on every node: "current" is the one the request
// came with, "all" every token of the caller (sign out everywhere);
// another must be the caller's own (system roles may end anyone's).
func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.WriteTimeout)
	defer cancel()
	tok := r.PathValue("token")
	switch tok {
	case "all":
		index, err := h.auth.tokens.RevokeUser(ctx, c.id())
		return h.revoked(w, index, err)
	case "current":
		if c.token == "" {
			return invalid("token", "current names the bearer token of the request, and this request came with Basic credentials")
		}
		tok = c.token
	}
	t, err := h.auth.tokens.Check(tok, h.cfg.Now())
	if errors.Is(err, tokens.ErrUnknown) {
		return errTokenNotFound
	}
	if err != nil {
		return err
	}
	if t.User != c.id() && !c.subject.IsSystem() {
		// Same answer as unknown: a token of someone else is not yours to probe.
		return errTokenNotFound
	}
	index, err := h.auth.tokens.Revoke(ctx, tok)
	return h.revoked(w, index, err)
}

// revoked answers a revocation: 204 with the consistency token.
func (h *Handler) revoked(w http.ResponseWriter, index uint64, err error) error {
	if errors.Is(err, tokens.ErrUnknown) {
		return errTokenNotFound // revoked concurrently
	}
	if err != nil {
		return err
	}
	w.Header().Set(IndexHeader, strconv.FormatUint(index, 10))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
