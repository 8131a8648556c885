package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// IndexHeader carries the consistency token: every write answers with the
// Raft index of its entry, and a read given that index (in this header or
// ?index=) on any node waits until the node has applied it, so it sees the
// write. Reads answer with the index they read at.
const IndexHeader = "X-Ucgrid-Index"

// routeFunc serves one authenticated route. It writes its success answer
// itself and returns any error for the wrapper to answer.
type routeFunc func(w http.ResponseWriter, r *http.Request, c *caller) error

func (h *Handler) routes() {
	h.mux.HandleFunc("GET /v1/openapi.yaml", serveOpenAPI)
	h.mux.HandleFunc("POST /v1/tokens", h.wrap(h.createToken))
	h.mux.HandleFunc("DELETE /v1/tokens/{token}", h.wrap(h.revokeToken))

	h.mux.HandleFunc("GET /v1/me", h.wrap(h.getMe))
	h.mux.HandleFunc("GET /v1/users", h.wrap(h.listUsers))
	h.mux.HandleFunc("PUT /v1/users/{id}", h.wrap(h.putUser))
	h.mux.HandleFunc("GET /v1/users/{id}", h.wrap(h.getUser))
	h.mux.HandleFunc("DELETE /v1/users/{id}", h.wrap(h.deleteUser))
	h.mux.HandleFunc("GET /v1/users/{id}/card", h.wrap(h.getCard))
	h.mux.HandleFunc("GET /v1/users/{id}/services", h.wrap(h.getServices))
	if h.cfg.Presence != nil {
		h.mux.HandleFunc("GET /v1/users/{id}/presence", h.wrap(h.getPresence))
		h.mux.HandleFunc("PUT /v1/users/{id}/presence", h.wrap(h.putPresence))
	}
	h.mux.HandleFunc("GET /v1/directory", h.wrap(h.searchDirectory))

	h.mux.HandleFunc("GET /v1/groups", h.wrap(h.listGroups))
	h.mux.HandleFunc("PUT /v1/groups/{id}", h.wrap(h.putGroup))
	h.mux.HandleFunc("GET /v1/groups/{id}", h.wrap(h.getGroup))
	h.mux.HandleFunc("DELETE /v1/groups/{id}", h.wrap(h.deleteGroup))
	h.mux.HandleFunc("PUT /v1/groups/{id}/override", h.wrap(h.putOverride))
	h.mux.HandleFunc("PUT /v1/groups/{id}/members/{user}/availability", h.wrap(h.putAvailability))

	h.mux.HandleFunc("GET /v1/global", h.wrap(h.getGlobal))
	h.mux.HandleFunc("PUT /v1/global", h.wrap(h.putGlobal))
	h.mux.HandleFunc("GET /v1/users/{target}/grants", h.wrap(h.listGrants))
	h.mux.HandleFunc("PUT /v1/users/{target}/grants/{viewer}", h.wrap(h.putUserGrant))
	h.mux.HandleFunc("DELETE /v1/users/{target}/grants/{viewer}", h.wrap(h.deleteUserGrant))
	h.mux.HandleFunc("PUT /v1/admin/grants/{target}/{viewer}", h.wrap(h.putPreset))
	h.mux.HandleFunc("DELETE /v1/admin/grants/{target}/{viewer}", h.wrap(h.deletePreset))
	h.mux.HandleFunc("GET /v1/rights/{viewer}/{target}", h.wrap(h.explainRights))

	h.mux.HandleFunc("GET /v1/lines", h.wrap(h.listLines))
	h.mux.HandleFunc("PUT /v1/lines/{number}", h.wrap(h.putLine))
	h.mux.HandleFunc("GET /v1/lines/{number}", h.wrap(h.getLine))
	h.mux.HandleFunc("DELETE /v1/lines/{number}", h.wrap(h.deleteLine))
	h.mux.HandleFunc("PUT /v1/lines/{number}/forwarding", h.wrap(h.putForwarding))
	h.mux.HandleFunc("GET /v1/lines/{number}/forwarding", h.wrap(h.getForwarding))

	h.mux.HandleFunc("GET /v1/trunks", h.wrap(h.listTrunks))
	h.mux.HandleFunc("PUT /v1/trunks/{id}", h.wrap(h.putTrunk))
	h.mux.HandleFunc("GET /v1/trunks/{id}", h.wrap(h.getTrunk))
	h.mux.HandleFunc("DELETE /v1/trunks/{id}", h.wrap(h.deleteTrunk))
	h.mux.HandleFunc("GET /v1/dialplan", h.wrap(h.getDialPlan))
	h.mux.HandleFunc("PUT /v1/dialplan", h.wrap(h.putDialPlan))

	h.mux.HandleFunc("GET /v1/users/{id}/journal", h.wrap(h.getJournal))
	h.mux.HandleFunc("PATCH /v1/journal/{entry}", h.wrap(h.patchJournal))
	h.mux.HandleFunc("POST /v1/chat/{user}", h.wrap(h.postChat))
	h.mux.HandleFunc("GET /v1/chat/{user}", h.wrap(h.getChat))

	h.mux.HandleFunc("GET /v1/ldap/status", h.wrap(h.getLDAPStatus))
	h.mux.HandleFunc("POST /v1/ldap/sync", h.wrap(h.postLDAPSync))
}

// wrap makes a routeFunc a handler: it authenticates (see authenticateAt
// for the consistency token) and answers errors.
func (h *Handler) wrap(fn routeFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := h.authenticateAt(r)
		if err != nil {
			if errors.Is(err, errNoCredentials) || errors.Is(err, errBadCredentials) {
				// Bearer only: a Basic challenge makes browsers prompt and
				// cache the password for the origin. Basic credentials
				// sent unasked still work.
				w.Header().Set("WWW-Authenticate", `Bearer realm="ucgrid"`)
			}
			h.fail(w, r, err)
			return
		}
		h.readIndex(w)
		if err := fn(w, r, c); err != nil {
			h.fail(w, r, err)
		}
	}
}

// authenticateAt authenticates the request as of the index it names (its
// consistency token), so that a token issued, a token revoked or a
// password changed on another node counts here as it does there.
//
// Nobody unauthenticated is held waiting for an index without bound: with
// an index this node has not applied yet, the credentials are checked
// first, then the node waits, then authenticates again against the
// directory at that index. Credentials not valid here yet may be valid at
// the index (a token issued, a user created, a password changed on
// another node): at most MaxPendingTokenWaits such requests wait at a
// time; beyond that they are answered 401 at once (mayWaitFor).
func (h *Handler) authenticateAt(r *http.Request) (*caller, error) {
	index, raw, err := requestIndex(r)
	if err != nil {
		return nil, err
	}
	if index > h.dir.Applied() {
		release, valid, err := h.mayWaitFor(r)
		if err != nil {
			return nil, err
		}
		err = h.awaitIndex(r.Context(), index, raw)
		release()
		if err != nil && !valid {
			if _, aerr := h.auth.authenticate(r); aerr != nil {
				return nil, aerr // not "index not applied" to someone not signed in
			}
		}
		if err != nil {
			return nil, err
		}
	}
	c, err := h.auth.authenticate(r)
	if err != nil {
		return nil, err
	}
	c.index = index
	return c, nil
}

// mayWaitFor checks the credentials of a request before it waits for an
// index. Valid ones wait. Others (a token issued, a user created, a
// password changed on another node moments ago) wait only if one of
// MaxPendingTokenWaits slots is free (the returned release frees it), so
// that nobody without valid credentials holds more than that many
// requests; the authentication after the wait decides, and counts a
// failure.
func (h *Handler) mayWaitFor(r *http.Request) (release func(), valid bool, err error) {
	valid, err = h.auth.validNow(r)
	if err != nil {
		return nil, false, err
	}
	if valid {
		return func() {}, true, nil
	}
	select {
	case h.tokenWaits <- struct{}{}:
		return func() { <-h.tokenWaits }, false, nil
	default:
		// Counted as a failure: a full pool is what a flood looks like.
		_, err := h.auth.authenticate(r)
		if err == nil {
			err = errBadCredentials
		}
		return nil, false, err
	}
}

// requestIndex reads the index the request names (header or ?index=): 0
// when none; a 400 naming the field when it is not a number.
func requestIndex(r *http.Request) (uint64, string, error) {
	raw, field := r.Header.Get(IndexHeader), IndexHeader
	if raw == "" {
		raw, field = r.URL.Query().Get("index"), "index"
	}
	if raw == "" {
		return 0, "", nil
	}
	index, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, "", invalid(field, "%q is not a Raft index (a decimal integer from %s)", raw, IndexHeader)
	}
	return index, raw, nil
}

// awaitIndex waits until this node has applied index, at most ReadWait.
func (h *Handler) awaitIndex(ctx context.Context, index uint64, raw string) error {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.ReadWait)
	defer cancel()
	if err := h.dir.WaitApplied(ctx, index); err != nil {
		return &apiError{status: http.StatusServiceUnavailable, code: codeIndexNotYet, retryAfter: time.Second,
			msg: "this node has not yet applied index " + raw + "; retry, or read from another node"}
	}
	return nil
}

// apply writes cmd through Raft and sets the consistency token.
func (h *Handler) apply(w http.ResponseWriter, r *http.Request, cmd *dirpb.Command) error {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.WriteTimeout)
	defer cancel()
	index, err := h.dir.Apply(ctx, cmd)
	if err != nil {
		return err
	}
	w.Header().Set(IndexHeader, strconv.FormatUint(index, 10))
	return nil
}

// readIndex marks a read answer with the index it was read at.
func (h *Handler) readIndex(w http.ResponseWriter) {
	w.Header().Set(IndexHeader, strconv.FormatUint(h.dir.Applied(), 10))
}

// ok answers a read.
func (h *Handler) ok(w http.ResponseWriter, body any) error {
	writeJSON(w, http.StatusOK, body)
	return nil
}

// pathID returns the path value name, checked as an id.
func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	return v, checkID(name, v)
}

// pathNumber returns the path value name, checked as a number.
func pathNumber(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	return v, checkNumber(name, v)
}
