package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/ucgrid/ucgrid/api/tokens"
)

type tokenJSON struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createToken issues a bearer token to the caller. Tokens live in this
// node's memory only: see docs/api.md.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	tok, t, err := h.auth.tokens.Issue(c.id(), h.cfg.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenJSON{Token: tok, ExpiresAt: t.ExpiresAt.UTC()})
	return nil
}

// revokeToken ends a token: "current" is the one the request came with;
// another must be the caller's own (system roles may end anyone's).
func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	tok := r.PathValue("token")
	if tok == "current" {
		if c.token == "" {
			return invalid("token", "current names the bearer token of the request, and this request came with Basic credentials")
		}
		tok = c.token
	}
	t, err := h.auth.tokens.Check(tok, h.cfg.Now())
	if errors.Is(err, tokens.ErrUnknown) {
		return errorf(http.StatusNotFound, codeNotFound, "token: unknown, expired or already revoked")
	}
	if err != nil {
		return err
	}
	if t.User != c.id() && !c.subject.IsSystem() {
		// Same answer as unknown: a token of someone else is not yours to probe.
		return errorf(http.StatusNotFound, codeNotFound, "token: unknown, expired or already revoked")
	}
	if _, err := h.auth.tokens.Revoke(tok); err != nil {
		return errorf(http.StatusNotFound, codeNotFound, "token: unknown, expired or already revoked")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
