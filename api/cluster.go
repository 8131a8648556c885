package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/ucgrid/ucgrid/api/roles"
)

// ClusterService is what the cluster routes need from the node
// (node implements it).
type ClusterService interface {
	// ClusterStatus returns the document of GET /v1/cluster (JSON-encodable).
	ClusterStatus(ctx context.Context) (any, error)
	// Internal serves the node-to-node routes under /v1/internal/; it
	// authenticates them itself (cluster secret), not with user credentials.
	Internal() http.Handler
}

// MountCluster adds the cluster routes: GET /v1/cluster (system roles),
// GET /v1/backup (system owner) and the node-to-node routes. Call it
// before the handler serves.
func (h *Handler) MountCluster(svc ClusterService) {
	h.mux.HandleFunc("GET /v1/cluster", h.wrap(func(w http.ResponseWriter, r *http.Request, c *caller) error {
		if !c.subject.IsSystem() {
			return forbidden("the cluster status is shown to system roles only")
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		doc, err := svc.ClusterStatus(ctx)
		if err != nil {
			return err
		}
		return h.ok(w, doc)
	}))
	h.mux.HandleFunc("GET /v1/backup", h.wrap(h.getBackup))
	h.mux.Handle("/v1/internal/", svc.Internal())
}

// BackupIndexHeader carries the Raft index a backup holds.
const BackupIndexHeader = "X-Ucgrid-Backup-Index"

// getBackup streams a consistent snapshot of the whole directory (the
// persistence snapshot format: `ucgrid restore` reads it). It holds
// password hashes and the journal: system owner only.
func (h *Handler) getBackup(w http.ResponseWriter, _ *http.Request, c *caller) error {
	if c.subject.System != roles.SystemOwner {
		return forbidden("backups are taken by the system owner only")
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="ucgrid.backup"`)
	// The index is known once the snapshot is written: it is a trailer.
	w.Header().Set("Trailer", BackupIndexHeader)
	index, err := h.dir.Backup(w)
	if err != nil {
		// Headers are sent: the client sees a truncated stream, which fails
		// its checksum; log for the operator.
		h.cfg.Logger.Error("backup failed", "err", err)
		panic(http.ErrAbortHandler)
	}
	w.Header().Set(BackupIndexHeader, strconv.FormatUint(index, 10))
	return nil
}
