package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ucgrid/ucgrid/internal/slapdtest"
)

// writeMapping writes a mapping file for srv syncing every watch, with
// the bind password in a file beside it.
func writeMapping(t *testing.T, srv *slapdtest.Server, password, watch string) string {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "ldap.pw")
	if err := os.WriteFile(pw, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("preset: openldap\nurl: %s\nbase_dn: %s\nbind_dn: %s\nbind_password_file: %s\nwatch: %s\n",
		srv.URL, slapdtest.Base, srv.AdminDN, pw, watch)
	path := filepath.Join(dir, "ldap.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLDAP_ServeRefusesABadMappingFileInOneLine(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ldap.yaml")
	if err := os.WriteFile(bad, []byte("preset: novell\nurl: ldap://x\nbase_dn: dc=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, "--data", filepath.Join(t.TempDir(), "d"), "--ldap-config", bad)
	if code := n.wait(20 * time.Second); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	assertOneLine(t, n.errText(), `preset: "novell" is not one of ad, openldap`)
}

// ldapStatusOf reads GET /v1/ldap/status from a node.
func ldapStatusOf(t *testing.T, addr string) (configured bool, st *ldapStatus) {
	t.Helper()
	code, body, _ := apiCall(t, http.MethodGet, addr, "/v1/ldap/status", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/ldap/status on %s: %d %s", addr, code, body)
	}
	var out struct {
		Configured bool        `json:"configured"`
		Status     *ldapStatus `json:"status"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	return out.Configured, out.Status
}

// waitLDAPSync polls addr until a sync that started after since, not by
// notBy, has finished, and returns its status.
func waitLDAPSync(t *testing.T, addr string, since time.Time, notBy string) *ldapStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, st := ldapStatusOf(t, addr); st != nil && st.StartedAt != nil && !st.StartedAt.Before(since.Truncate(time.Second)) && st.Node != notBy {
			return st
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
	t.Fatalf("no LDAP sync on %s since %v (not by %q)", addr, since, notBy)
	return nil
}

// TestLDAP_ClusterLeaderSyncsAndHandsOver: three nodes with the same
// mapping file; only the Raft leader syncs on the watch interval, every
// node shows the outcome and the users; `ucgrid ldap sync` asked on a
// follower runs on the leader; a dry run prints the plan; when the
// leader stops, the new one takes the sync over.
func TestLDAP_ClusterLeaderSyncsAndHandsOver(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Tree(50))
	mapping := writeMapping(t, srv, srv.AdminPassword, "2s")
	start := time.Now()
	c := startCluster(t, 3, "--ldap-config", mapping)
	st := c.waitVoters(3, clusterStart)
	leader := st.Raft.Leader
	var follower *clusterNode
	for _, cn := range c.nodes {
		if cn.name != leader {
			follower = cn
		}
	}
	synced := waitLDAPSync(t, follower.http, start, "")
	if synced.Node != leader || synced.Error != "" {
		t.Fatalf("sync ran on %q (error %q), want the leader %s", synced.Node, synced.Error, leader)
	}
	if configured, _ := ldapStatusOf(t, follower.http); !configured {
		t.Fatal("a follower with --ldap-config says it is not configured")
	}
	if code, body, _ := apiCall(t, http.MethodGet, follower.http, "/v1/users/person007", nil); code != http.StatusOK || !strings.Contains(body, `"dn":"uid=person007,ou=people,dc=example,dc=com"`) {
		t.Fatalf("person007 on a follower: %d %s", code, body)
	}

	// Asked on a follower, the sync runs on the leader and changes nothing.
	var out, errOut bytes.Buffer
	if code := run([]string{"ldap", "sync", "--http", follower.http, "--password", testAdminPW}, &out, &errOut); code != 0 {
		t.Fatalf("ldap sync: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "on "+leader+" from") || !strings.Contains(out.String(), "0 created, 0 updated, 0 disabled") {
		t.Fatalf("ldap sync printed %q", out.String())
	}
	out.Reset()
	if code := run([]string{"ldap", "status", "--http", follower.http, "--password", testAdminPW}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "sync on "+leader) || !strings.Contains(out.String(), "0 problems") {
		t.Fatalf("ldap status: exit %d, printed %q %q", code, out.String(), errOut.String())
	}
	// A dry run prints the plan of a removal and changes nothing.
	admin := srv.Admin(t)
	if err := admin.Del(ldap.NewDelRequest(slapdtest.PersonDN(2), nil)); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"ldap", "sync", "--dry-run", "--http", follower.http, "--password", testAdminPW}, &out, &errOut); code != 0 {
		t.Fatalf("ldap sync --dry-run: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "disable user  person002") || !strings.Contains(out.String(), "dry run (nothing changed)") {
		t.Fatalf("dry run printed %q", out.String())
	}

	// --watch prints the syncs the leader runs on its interval.
	watchOut := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan error, 1)
	go func() {
		watched <- ldapWatch(ctx, &adminOptions{HTTP: follower.http, User: "admin", Password: testAdminPW, Timeout: 10 * time.Second},
			nil, 100*time.Millisecond, watchOut)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(watchOut.String(), "sync on "+leader) < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	cancel()
	if err := <-watched; err != nil || strings.Count(watchOut.String(), "sync on "+leader) < 2 {
		t.Fatalf("--watch: %v, printed %q; want two of the leader's syncs", err, watchOut.String())
	}

	// The leader stops: another node syncs from now on.
	var lcn *clusterNode
	for _, cn := range c.nodes {
		if cn.name == leader {
			lcn = cn
		}
	}
	stopped := time.Now()
	if err := lcn.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	lcn.proc.wait(30 * time.Second)
	next := waitLDAPSync(t, follower.http, stopped, leader)
	if next.Node == leader || next.Error != "" {
		t.Fatalf("after the leader stopped the sync ran on %q (error %q)", next.Node, next.Error)
	}
	if code, body, _ := apiCall(t, http.MethodGet, follower.http, "/v1/users/person002", nil); code != http.StatusOK || !strings.Contains(body, `"disabled":true`) {
		t.Fatalf("removed person002 after the new leader's sync: %d %s", code, body)
	}
}

func TestLDAP_CLIWrongPasswordIsOneLine(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.Tree(3))
	var out, errOut bytes.Buffer
	code := run([]string{"ldap", "check", "--config", writeMapping(t, srv, "not-the-password", "0s")}, &out, &errOut)
	if code != 1 || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 || !strings.Contains(errOut.String(), "invalid credentials") ||
		strings.Contains(errOut.String(), "not-the-password") {
		t.Fatalf("exit %d, stderr %q: want one line saying invalid credentials, without the password", code, errOut.String())
	}
	out.Reset()
	if code := run([]string{"ldap", "check", "--config", writeMapping(t, srv, srv.AdminPassword, "0s")}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "3 people, 6 groups") {
		t.Fatalf("ldap check: exit %d, %q %q", code, out.String(), errOut.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
