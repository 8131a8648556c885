package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
)

// Error codes of the error body {"error":{"code","message"}}. docs/api.md
// lists them; clients branch on the code, people read the message.
const (
	codeMalformedJSON  = "malformed_json"
	codeUnknownField   = "unknown_field"
	codeInvalid        = "invalid"
	codeBodyTooLarge   = "body_too_large"
	codeNotFound       = "not_found"
	codeMethod         = "method_not_allowed"
	codeUnauthorized   = "unauthorized"
	codeForbidden      = "forbidden"
	codePresetLocked   = "preset_locked"
	codeConflict       = "conflict"
	codeThrottled      = "too_many_requests"
	codeNotLeader      = "not_leader"
	codeNoQuorum       = "no_quorum"
	codeUnavailable    = "unavailable"
	codeIndexNotYet    = "index_not_applied"
	codeInternal       = "internal"
	codeUnsupportedMTy = "unsupported_media_type"
)

// apiError is an error with the HTTP answer it deserves.
type apiError struct {
	status     int
	code       string
	msg        string
	retryAfter time.Duration // sets Retry-After when > 0
}

func (e *apiError) Error() string { return fmt.Sprintf("api: %d %s: %s", e.status, e.code, e.msg) }

// errorf builds an error answer. Every string argument is clipped to
// maxEcho characters (clipArgs): messages quote ids, field values and
// query parameters the client sent, and must not echo more than that of
// them. Pass text of our own inside the format.
func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, clipArgs(args)...)}
}

// invalid is a 400 naming the field. Only args are clipped: the
// field's name and the format are our own text, and clipping the whole
// message cut the explanation after 64 characters.
func invalid(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeInvalid, msg: field + ": " + fmt.Sprintf(format, clipArgs(args)...)}
}

// maxEcho is the most characters of one piece of client input an error
// message repeats.
const maxEcho = 64

// clip shortens client input for an error message: at most maxEcho
// characters, then "…". Invalid UTF-8 is cut at a character boundary all
// the same (%q shows the bytes escaped).
func clip(s string) string {
	n := 0
	for i := range s {
		if n == maxEcho {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

func clipArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = clip(s)
		}
		out[i] = a
	}
	return out
}

// clipQuoted clips every Go-quoted string in msg (the directory's
// messages quote the ids they name with %q) to maxEcho characters.
func clipQuoted(msg string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(msg, '"')
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i])
		q, err := strconv.QuotedPrefix(msg[i:])
		if err != nil {
			b.WriteString(clip(msg[i:]))
			return b.String()
		}
		msg = msg[i+len(q):]
		if v, err := strconv.Unquote(q); err == nil && len(v) > maxEcho {
			q = strconv.Quote(clip(v))
		}
		b.WriteString(q)
	}
}

func notFound(what, id string) *apiError {
	return errorf(http.StatusNotFound, codeNotFound, "%s %q does not exist", what, id)
}

func forbidden(format string, args ...any) *apiError {
	return errorf(http.StatusForbidden, codeForbidden, format, args...)
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

// fail answers err: an *apiError as it says, a directory error by its
// sentinel, anything else as 500 (logged: it is our fault, not the
// client's).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := h.classify(err)
	if ae.status >= 500 && ae.status != http.StatusServiceUnavailable {
		h.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if ae.retryAfter > 0 {
		secs := int((ae.retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeError(w, ae.status, ae.code, ae.msg)
}

// noQuorumMessage answers a write on a node that reaches no Raft leader.
const noQuorumMessage = "the directory cannot be changed while this node cannot reach a majority of the cluster " +
	"(no Raft leader is reachable: this node or its site may be cut off from the majority, or an election is under way): " +
	"the write was not applied and reads here may be stale; calls between phones of this site go on, " +
	"and call journal entries are kept on the node until a leader is reachable again; retry the change then, or on a node of the majority"

func (h *Handler) classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ce *persistence.CommandError
	switch {
	case errors.As(err, &ce) && errors.Is(err, persistence.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: codeNotFound, msg: clipQuoted(ce.Msg)}
	case errors.As(err, &ce) && errors.Is(err, persistence.ErrConflict):
		return &apiError{status: http.StatusConflict, code: codeConflict, msg: clipQuoted(ce.Msg)}
	case errors.As(err, &ce) && errors.Is(err, persistence.ErrInvalid):
		return &apiError{status: http.StatusBadRequest, code: codeInvalid, msg: clipQuoted(ce.Msg)}
	case errors.Is(err, persistence.ErrNoLeader):
		return &apiError{status: http.StatusServiceUnavailable, code: codeNoQuorum, retryAfter: time.Second,
			msg: noQuorumMessage + " (" + err.Error() + ")"}
	case errors.Is(err, persistence.ErrOutcomeUnknown):
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, retryAfter: time.Second,
			msg: "the directory did not confirm the write in time; it may or may not have been applied"}
	case errors.Is(err, persistence.ErrNotLeader):
		return &apiError{status: http.StatusServiceUnavailable, code: codeNotLeader, retryAfter: time.Second,
			msg: "this node is not the directory's Raft leader; retry, or send writes to the leader: " + err.Error()}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, persistence.ErrClosed):
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, retryAfter: time.Second,
			msg: "the directory did not answer in time; a write may or may not have been applied"}
	case errors.Is(err, context.Canceled):
		return errorf(http.StatusServiceUnavailable, codeUnavailable, "request cancelled")
	}
	return errorf(http.StatusInternalServerError, codeInternal, "internal error")
}
