//go:build !race

// Built without -race: see server_test.go.

package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testlog"
)

// startLoggedServer starts a node whose logs, at debug level, all go to
// the returned buffer (and whose data directory is returned); the caller
// shuts it down.
func startLoggedServer(t *testing.T) (*Node, string, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	cfg := testConfig(t)
	cfg.Out = logs
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg.DataDir, logs
}

func sentinel(t *testing.T, prefix string) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// filesHolding lists the files under dir that contain any of needles.
func filesHolding(t *testing.T, dir string, needles ...string) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(data, []byte(n)) {
				found[n] = append(found[n], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// Presence is never written anywhere: a note set hundreds of times to
// unique sentinels, seen live by a watcher, is in no file of the data
// directory (Pebble tables and WAL, Raft log, snapshots), in no log line
// (debug level) and not in /metrics. A control value written through the
// directory is found by the same scan, so the scan can see what is there.
func TestServer_PresenceNeverReachesDiskLogsOrMetrics(t *testing.T) {
	s, dataDir, logs := startLoggedServer(t)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx) // the test failed before its own shutdown
		}
	})
	base := "http://" + s.HTTPAddr()
	admin := client{t, base, AdminID, "admin-secret"}
	for _, u := range []string{"anna", "ben"} {
		admin.must(http.StatusCreated, "PUT", "/v1/users/"+u, map[string]any{"display_name": u, "password": u + "-password"}, "")
	}
	anna, ben := client{t, base, "anna", "anna-password"}, client{t, base, "ben", "ben-password"}
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/grants/ben", map[string]any{"level": "personal"}, "")
	control := sentinel(t, "CONTROL-")
	admin.must(http.StatusOK, "PUT", "/v1/users/ben", map[string]any{"display_name": control}, "")

	st, code, body := ben.openEvents("?monitor=false&user=anna")
	if code != http.StatusOK {
		t.Fatalf("open events: %d %s", code, body)
	}
	st.snapshot()
	prefix := "PRESENCE-" + sentinel(t, "")[:8] + "-"
	var notes []string
	states := []string{"available", "away", "busy", "dnd"}
	for i := range 200 {
		note := sentinel(t, prefix)
		notes = append(notes, note)
		anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": states[i%len(states)], "note": note}, "")
		if i%50 == 0 { // the watcher sees it live (earlier changes may come first)
			for p := st.nextPresence(); p.Note != note; p = st.nextPresence() {
			}
		}
	}
	// The presence is really there, in memory.
	var pres map[string]any
	pres, _ = ben.must(http.StatusOK, "GET", "/v1/users/anna/presence", nil, "")
	if pres["note"] != notes[len(notes)-1] {
		t.Fatalf("presence note %v, want the last sentinel", pres["note"])
	}

	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v", res.StatusCode, err)
	}
	if bytes.Contains(metrics, []byte(prefix)) {
		t.Error("/metrics holds a presence note")
	}

	// A Raft snapshot, then a clean shutdown: every byte is on disk.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Directory().Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	st.close()
	stopped = true
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	found := filesHolding(t, dataDir, prefix, control)
	if len(found[control]) == 0 {
		t.Fatal("the scan does not find the control value written through the directory: it proves nothing")
	}
	t.Logf("control value found in %d files (e.g. %s)", len(found[control]), filepath.Base(found[control][0]))
	if files := found[prefix]; len(files) > 0 {
		t.Errorf("presence notes on disk in %v", files)
	}
	if l := logs.Bytes(); bytes.Contains(l, []byte(prefix)) {
		t.Errorf("presence notes in the logs (%d bytes of logs)", len(l))
	} else if len(l) == 0 {
		t.Error("no logs captured: the log check proves nothing")
	}
}

// With anna's idle display off, her idle changes reach no watcher: a
// watcher's next event after many idle toggles is the state change that
// followed them. With it on, an idle change is an event.
func TestServer_IdleDisplaySwitchHidesIdleChanges(t *testing.T) {
	_, admin, anna, ben, _ := liveFixture(t)
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "available"}, "")
	st, code, body := ben.openEvents("?monitor=false&user=anna")
	if code != http.StatusOK {
		t.Fatalf("open events: %d %s", code, body)
	}
	st.snapshot()
	for i := range 20 {
		anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"idle": i%2 == 1}, "")
	}
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"state": "away"}, "")
	ev := st.next()
	var p map[string]any
	if err := json.Unmarshal(ev.data, &p); err != nil {
		t.Fatal(err)
	}
	if ev.event != "presence" || p["state"] != "away" || p["idle"] == true {
		t.Fatalf("first event after idle toggles with the display off: %s %s, want the state change to away without idle", ev.event, ev.data)
	}
	// anna's own view still shows her idle flag.
	own, _ := anna.must(http.StatusOK, "GET", "/v1/users/anna/presence", nil, "")
	if own["idle"] != true {
		t.Errorf("anna's own presence %v: she sees her idle flag", own)
	}

	_, idx := admin.must(http.StatusOK, "PUT", "/v1/users/anna", map[string]any{"display_name": "Anna", "idle_display": true}, "")
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"idle": false}, idx)
	anna.must(http.StatusOK, "PUT", "/v1/users/anna/presence", map[string]any{"idle": true}, idx)
	for deadline := time.Now().Add(10 * time.Second); ; {
		ev := st.next()
		var p map[string]any
		if err := json.Unmarshal(ev.data, &p); err != nil {
			t.Fatal(err)
		}
		if ev.event == "presence" && p["user"] == "anna" && p["idle"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no idle event with the display on")
		}
	}
}
