package api

import (
	"context"
	"net/http"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// DirectorySyncService runs the LDAP / Active Directory sync for
// POST /v1/ldap/sync (ldapsync.Runner). Safe for concurrent use.
type DirectorySyncService interface {
	// SyncDirectory runs one sync now on this node. It fails with an
	// error wrapping persistence.ErrNotLeader on a follower; when the
	// server could not be read (unreachable, bind refused) the result's
	// Status.Error says why, in one line without secrets.
	SyncDirectory(ctx context.Context, dryRun bool) (DirectorySyncResult, error)
}

// DirectorySyncResult is one sync's outcome: its status (as stored) and
// its plan.
type DirectorySyncResult struct {
	Status *dirpb.DirectorySyncStatus
	// Actions are the creates, updates and disables, in the order they
	// were (or, in a dry run, would be) applied.
	Actions []DirectorySyncAction
}

// DirectorySyncAction is one change of a sync's plan.
type DirectorySyncAction struct {
	// Op is "create", "update" or "disable" (a user disabled, a group or
	// line no longer managed).
	Op string `json:"op"`
	// Kind is "user", "group" or "line".
	Kind string `json:"kind"`
	// ID is the user or group id or the line number.
	ID string `json:"id"`
	DN string `json:"dn"`
	// Fields are what an update changes.
	Fields []string `json:"fields,omitempty"`
}

// codeLDAPFailed: the sync could not read the directory server.
const codeLDAPFailed = "ldap_failed"

// syncedJSON is a record's sync mark on the wire (read-only).
type syncedJSON struct {
	DN       string     `json:"dn"`
	Gone     bool       `json:"gone"`
	SyncedAt *time.Time `json:"synced_at,omitempty"`
}

func syncedOut(s *dirpb.SyncSource) *syncedJSON {
	if s == nil {
		return nil
	}
	return &syncedJSON{DN: s.Dn, Gone: s.Gone, SyncedAt: unixTime(s.SyncedUnix)}
}

// syncStatusJSON is a DirectorySyncStatus on the wire.
type syncStatusJSON struct {
	Node       string     `json:"node"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DryRun     bool       `json:"dry_run"`
	Error      string     `json:"error"`
	Created    int32      `json:"created"`
	Updated    int32      `json:"updated"`
	Disabled   int32      `json:"disabled"`
	Unchanged  int32      `json:"unchanged"`
	Problems   []string   `json:"problems"`
	IntervalS  int32      `json:"interval_s"`
	Source     string     `json:"source"`
}

func syncStatusOut(s *dirpb.DirectorySyncStatus) *syncStatusJSON {
	if s == nil {
		return nil
	}
	return &syncStatusJSON{Node: s.Node, StartedAt: unixTime(s.StartedUnix), FinishedAt: unixTime(s.FinishedUnix),
		DryRun: s.DryRun, Error: s.Error, Created: s.Created, Updated: s.Updated, Disabled: s.Disabled,
		Unchanged: s.Unchanged, Problems: nonNil(s.Problems), IntervalS: s.IntervalS, Source: s.Source}
}

// ldapStatusJSON answers GET /v1/ldap/status.
type ldapStatusJSON struct {
	// Configured: this node was started with a mapping file.
	Configured bool `json:"configured"`
	// Status is the last sync's (any node's), null before the first.
	Status *syncStatusJSON `json:"status"`
}

// ldapSyncJSON answers POST /v1/ldap/sync.
type ldapSyncJSON struct {
	Status *syncStatusJSON       `json:"status"`
	Plan   []DirectorySyncAction `json:"plan"`
}

func (h *Handler) getLDAPStatus(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.subject.IsSystem() {
		return forbidden("the LDAP sync status is shown to system roles")
	}
	st, err := h.store.DirectorySyncStatus()
	if err != nil {
		return err
	}
	h.readIndex(w)
	return h.ok(w, ldapStatusJSON{Configured: h.cfg.DirectorySync != nil, Status: syncStatusOut(st)})
}

func (h *Handler) postLDAPSync(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.subject.IsSystem() {
		return forbidden("the LDAP sync is run by system roles")
	}
	var in struct {
		DryRun bool `json:"dry_run"`
	}
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	if h.cfg.DirectorySync == nil {
		return errorf(http.StatusNotFound, codeNotFound, "no LDAP sync is configured on this node (start it with serve --ldap-config FILE)")
	}
	res, err := h.cfg.DirectorySync.SyncDirectory(r.Context(), in.DryRun)
	if err != nil {
		if res.Status.GetError() != "" {
			// 503, not 502: the API answers no 5xx but 503 (the node is
			// fine; what it depends on is not).
			return &apiError{status: http.StatusServiceUnavailable, code: codeLDAPFailed, msg: "the LDAP sync failed: " + res.Status.GetError()}
		}
		return err
	}
	return h.ok(w, ldapSyncJSON{Status: syncStatusOut(res.Status), Plan: nonNil(res.Actions)})
}
