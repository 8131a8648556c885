package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/cluster/peers"
)

// runOK runs a ucgrid command in this process and fails the test unless it
// exits 0.
func runOK(t testing.TB, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("ucgrid %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

func basicAuth(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// tlsArgs makes a certificate for node with `ucgrid tls cert create`
// (the CA in dir is made on first use) and returns the serve flags.
func tlsArgs(t testing.TB, dir, node string) []string {
	t.Helper()
	ca, caKey := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if _, err := os.Stat(ca); err != nil {
		runOK(t, "tls", "ca", "create", "--dir", dir)
	}
	runOK(t, "tls", "cert", "create", "--node", node, "--dir", dir, "--ca", ca, "--ca-key", caKey, "--ip", "127.0.0.1")
	return []string{"--tls-ca", ca, "--tls-cert", filepath.Join(dir, node+".pem"), "--tls-key", filepath.Join(dir, node+"-key.pem")}
}

// TestCluster_MutualTLSFormsReplicatesAndServesGrains: two nodes with
// certificates from `ucgrid tls` form a cluster over mutual TLS (Raft,
// forwarded writes, actor remoting): a write through either node is read
// on the other, and presence set through one node is seen through the
// other, wherever the user grain lives.
func TestCluster_MutualTLSFormsReplicatesAndServesGrains(t *testing.T) {
	certs := t.TempDir()
	c := &testCluster{t: t}
	for i := range 2 {
		name := fmt.Sprintf("n%d", i+1)
		cn := &clusterNode{name: name, data: filepath.Join(t.TempDir(), "data"),
			gossip: freeAddr(t), raft: freeAddr(t), http: freeAddr(t), args: tlsArgs(t, certs, name)}
		if i == 0 {
			c.seed = cn.gossip
		}
		c.nodes = append(c.nodes, cn)
		c.start(cn)
		cn.proc.waitServing(clusterStart)
	}
	c.waitVoters(2, clusterStart)
	// Users until each node hosts a user grain (placement is by
	// rendezvous hash of random actor system ids): then calls have crossed
	// nodes both ways.
	var st peers.ClusterStatus
	for i := 0; ; i++ {
		u := fmt.Sprintf("user%d", i)
		via, other := c.nodes[i%2], c.nodes[(i+1)%2]
		crossUser(t, via, other, u)
		st = c.waitVoters(2, 10*time.Second)
		if st.Grains["n1"]["user"] > 0 && st.Grains["n2"]["user"] > 0 {
			break
		}
		if i == 40 {
			t.Fatalf("no user grain on one node after %d users (grains %v)", i+1, st.Grains)
		}
	}
	for _, m := range st.Members {
		if m.Error != "" || m.Applied == 0 {
			t.Errorf("member %s: %+v (the status request goes over the TLS link)", m.Node, m)
		}
	}
}

// crossUser creates user u through via and reads it on other with the
// write's token; u sets its presence through via and reads it on other.
func crossUser(t *testing.T, via, other *clusterNode, u string) {
	t.Helper()
	code, body, idx := apiCall(t, http.MethodPut, via.http, "/v1/users/"+u, map[string]any{"display_name": u, "password": u + "-password-1"})
	if code != http.StatusCreated {
		t.Fatalf("PUT user %s on %s: %d %s", u, via.name, code, body)
	}
	if code, body, _ := call(http.MethodGet, other.http, "/v1/users/"+u, adminAuth(), idx, nil); code != http.StatusOK {
		t.Fatalf("GET user %s on %s with token %s: %d %s", u, other.name, idx, code, body)
	}
	auth := basicAuth(u, u+"-password-1")
	if code, body, _ := call(http.MethodPut, via.http, "/v1/users/"+u+"/presence", auth, "", map[string]any{"state": "busy"}); code != http.StatusOK {
		t.Fatalf("PUT presence of %s on %s: %d %s", u, via.name, code, body)
	}
	code, body, _ = call(http.MethodGet, other.http, "/v1/users/"+u+"/presence", auth, "", nil)
	var p struct{ State string }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil || p.State != "busy" {
		t.Fatalf("GET presence of %s on %s: %d %s", u, other.name, code, body)
	}
}

// TestServe_ClusterTLSStartFailuresAreOneClearLine: non-loopback cluster
// binds without TLS, incomplete or bad TLS files, and a certificate of
// another node each stop the node with one line naming the flag or file.
func TestServe_ClusterTLSStartFailuresAreOneClearLine(t *testing.T) {
	certs, other := t.TempDir(), t.TempDir()
	n1 := tlsArgs(t, certs, "n1")
	foreign := tlsArgs(t, other, "n1")
	data := func() string { return filepath.Join(t.TempDir(), "d") }
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"raft on all interfaces", []string{"--data", data(), "--raft", "0.0.0.0:0"}, 1, "--raft 0.0.0.0:0 is not a loopback address"},
		{"actor on all interfaces", []string{"--data", data(), "--actor", "0.0.0.0:0"}, 1, "--tls-ca, --tls-cert and --tls-key"},
		{"half the TLS flags", []string{"--data", data(), "--tls-ca", n1[1]}, 2, "go together"},
		{"certificate of another CA", []string{"--data", data(), "--node", "n1", "--tls-ca", n1[1], "--tls-cert", foreign[3], "--tls-key", foreign[5]}, 2, foreign[3]},
		{"key of another certificate", []string{"--data", data(), "--node", "n1", "--tls-ca", n1[1], "--tls-cert", n1[3], "--tls-key", foreign[5]}, 2, foreign[5]},
		{"certificate of another node", []string{"--data", data(), "--node", "n2", n1[0], n1[1], n1[2], n1[3], n1[4], n1[5]}, 1, `is for node "n1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := startNode(t, tc.args...)
			if code := n.wait(30 * time.Second); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			assertOneLine(t, n.errText(), tc.want)
		})
	}
	t.Run("--insecure-cluster allows it", func(t *testing.T) {
		n := startNode(t, "--data", data(), "--gossip", "0.0.0.0:0", "--insecure-cluster")
		n.waitServing(30 * time.Second)
	})
}
