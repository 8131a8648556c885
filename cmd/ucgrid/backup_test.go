package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
)

// TestBackup_RoundTrip: `ucgrid backup` of a running two-node cluster
// (taken through the follower), `ucgrid restore` into a new data dir, and
// a node started on it serves every user written before the backup.
func TestBackup_RoundTrip(t *testing.T) {
	c := startCluster(t, 2)
	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("b-%d", i)
		code, body, _ := apiCall(t, http.MethodPut, c.nodes[i%2].http, "/v1/users/"+id, map[string]any{"display_name": "Backup " + id})
		if code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", id, code, body)
		}
		ids = append(ids, id)
	}
	file := filepath.Join(t.TempDir(), "cluster.backup")
	var out, errOut bytes.Buffer
	if code := run([]string{"backup", "--http", c.nodes[1].http, "--password", testAdminPW, "--out", file}, &out, &errOut); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut.String())
	}
	t.Log(strings.TrimSpace(out.String()))

	// A truncated file is refused before anything is written.
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.backup")
	if err := os.WriteFile(bad, raw[:len(raw)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	badData := filepath.Join(t.TempDir(), "bad-data")
	if code := run([]string{"restore", "--from", bad, "--data", badData}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "not a complete ucgrid backup") {
		t.Errorf("restore of a truncated backup: exit %d: %s", code, errOut.String())
	}
	if _, err := os.Stat(badData); err == nil {
		t.Errorf("a refused restore created %s", badData)
	}

	data := filepath.Join(t.TempDir(), "restored")
	errOut.Reset()
	if code := run([]string{"restore", "--from", file, "--data", data, "--node", "r1"}, &out, &errOut); code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errOut.String())
	}
	// A restored directory is refused a second time.
	if code := run([]string{"restore", "--from", file, "--data", data}, &out, &errOut); code != 1 {
		t.Errorf("restore into a non-empty dir: exit %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, err := persistence.Open(ctx, persistence.Config{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if err := dir.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range append(ids, "admin") {
		if _, err := dir.Store().User(id); err != nil {
			t.Errorf("restored directory: user %s: %v", id, err)
		}
	}
}
