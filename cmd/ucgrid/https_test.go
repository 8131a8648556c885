package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testcert"

	"github.com/ucgrid/ucgrid/cluster/peers"
)

// servedSerial connects with TLS and returns the serial number of the
// certificate the server presents (verified against roots).
func servedSerial(addr string, roots *x509.CertPool) (*big.Int, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

func TestServe_HTTPSWithGoAndCurlClients(t *testing.T) {
	dir := t.TempDir()
	cert := testcert.New(t, 1, time.Now().Add(time.Hour))
	certFile, keyFile := cert.Write(t, dir)
	n := startNode(t, "--data", filepath.Join(dir, "data"), "--http-tls-cert", certFile, "--http-tls-key", keyFile,
		"--admin-password", "admin-pass-1")
	_, addr := n.waitServing(30 * time.Second)
	if !strings.Contains(n.out(), "serving https://"+addr) {
		t.Errorf("start-up line does not say https:\n%s", n.out())
	}

	client := &tlsClient{roots: cert.Pool(t)}
	for _, path := range []string{"/healthz", "/metrics", "/console/", "/v1/users/admin"} {
		code, body, err := client.get("https://"+addr+path, "admin", "admin-pass-1")
		if err != nil || code != 200 {
			t.Errorf("GET %s over TLS: %d %v %.200s", path, code, err, body)
		}
	}
	// Plain HTTP on the TLS port gets no answer of the API.
	if code, _, err := (&tlsClient{}).get("http://"+addr+"/healthz", "", ""); err == nil && code == 200 {
		t.Error("plain HTTP served on the HTTPS port")
	}
	// TLS 1.1 is refused.
	if _, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: cert.Pool(t), MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 handshake succeeded")
	}
	// A client that does not trust the certificate is refused.
	if _, err := tls.Dial("tcp", addr, &tls.Config{}); err == nil {
		t.Error("handshake verified a self-signed certificate against the system roots")
	}

	// curl with --cacert, as an operator would.
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, cert.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("curl", "-sS", "--fail", "--cacert", caFile, "--tlsv1.2", "-u", "admin:admin-pass-1",
		"https://"+addr+"/v1/users/admin").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(`"id":"admin"`)) {
		t.Errorf("curl --cacert: %v\n%s", err, out)
	}
	if out, err := exec.Command("curl", "-sS", "--fail", "https://"+addr+"/healthz").CombinedOutput(); err == nil {
		t.Errorf("curl without --cacert trusted the test certificate:\n%s", out)
	}

	// The admin commands reach an HTTPS node with --cacert.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"cluster", "status", "--http", "https://" + addr, "--password", "admin-pass-1", "--cacert", caFile, "--json"},
		&stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), `"raft"`) {
		t.Errorf("ucgrid cluster status --cacert: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"cluster", "status", "--http", "https://" + addr, "--password", "admin-pass-1"}, &stdout, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "certificate") {
		t.Errorf("ucgrid cluster status without --cacert: exit %d, stderr %s", code, stderr.String())
	}
}

func TestServe_CertificatesReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	first := testcert.New(t, 1, time.Now().Add(time.Hour))
	certFile, keyFile := first.Write(t, dir)
	// SIP over TLS serves the same certificate and reloads with it.
	sips := freeAddr(t)
	n := startNode(t, "--data", filepath.Join(dir, "data"), "--http-tls-cert", certFile, "--http-tls-key", keyFile, "--sips", sips)
	_, addr := n.waitServing(30 * time.Second)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(first.CertPEM)
	for _, a := range []string{addr, sips} {
		if s, err := servedSerial(a, roots); err != nil || s.Cmp(first.Serial) != 0 {
			t.Fatalf("first certificate on %s: serial %v, %v", a, s, err)
		}
	}
	// A connection open across the reload keeps working.
	open, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	// A broken file on reload: the old certificate stays, one line names the file.
	testcert.WriteFile(t, certFile, []byte("not a certificate\n"))
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a log line naming the broken certificate file", func() bool {
		return strings.Contains(n.errText(), "certificate not reloaded") && strings.Contains(n.errText(), certFile)
	})
	if s, err := servedSerial(addr, roots); err != nil || s.Cmp(first.Serial) != 0 {
		t.Fatalf("after a failed reload: serial %v, %v; want the first certificate still", s, err)
	}

	second := testcert.New(t, 2, time.Now().Add(2*time.Hour))
	second.Write(t, dir)
	roots.AppendCertsFromPEM(second.CertPEM)
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{addr, sips} {
		waitFor(t, 10*time.Second, "the new certificate served on "+a, func() bool {
			s, err := servedSerial(a, roots)
			return err == nil && s.Cmp(second.Serial) == 0
		})
	}
	if _, err := open.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Errorf("connection open across the reload: %v", err)
	}
	buf := make([]byte, 12)
	if err := open.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := open.Read(buf); err != nil || !strings.HasPrefix(string(buf), "HTTP/1.1 200") {
		t.Errorf("connection open across the reload: %q %v", buf, err)
	}
}

func TestServe_HTTPSBadCertificateIsOneClearLine(t *testing.T) {
	dir := t.TempDir()
	good := testcert.New(t, 1, time.Now().Add(time.Hour))
	certFile, keyFile := good.Write(t, dir)
	other := testcert.New(t, 2, time.Now().Add(time.Hour))
	otherKey := filepath.Join(dir, "other-key.pem")
	testcert.WriteFile(t, otherKey, other.KeyPEM)
	expired := testcert.New(t, 3, time.Now().Add(-time.Minute))
	expiredFile := filepath.Join(dir, "expired.pem")
	testcert.WriteFile(t, expiredFile, expired.CertPEM)
	expiredKey := filepath.Join(dir, "expired-key.pem")
	testcert.WriteFile(t, expiredKey, expired.KeyPEM)
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name        string
		args        []string
		code        int
		want, want2 string
	}{
		{"missing certificate", []string{"--http-tls-cert", missing, "--http-tls-key", keyFile}, 1, missing, "no such file"},
		{"missing key", []string{"--http-tls-cert", certFile, "--http-tls-key", missing}, 1, missing, "no such file"},
		{"key of another certificate", []string{"--http-tls-cert", certFile, "--http-tls-key", otherKey}, 1, certFile, "does not match"},
		{"expired certificate", []string{"--http-tls-cert", expiredFile, "--http-tls-key", expiredKey}, 1, expiredFile, "expired"},
		{"certificate without key", []string{"--http-tls-cert", certFile}, 2, "--http-tls-key", "together"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := startNode(t, append([]string{"--data", filepath.Join(t.TempDir(), "d")}, tc.args...)...)
			if code := n.wait(20 * time.Second); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			assertOneLine(t, n.errText(), tc.want)
			assertOneLine(t, n.errText(), tc.want2)
		})
	}
}

// tlsClient makes GET requests trusting roots only (nil: plain HTTP).
type tlsClient struct{ roots *x509.CertPool }

func (c *tlsClient) get(url, user, pw string) (int, string, error) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.roots}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitFor polls cond until it holds, failing the test after within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCluster_HTTPSNodesForwardWritesOverHTTPS: three nodes serving HTTPS
// with one certificate: a write sent to a follower is forwarded to the
// leader over HTTPS and read back on every node.
func TestCluster_HTTPSNodesForwardWritesOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	cert := testcert.New(t, 7, time.Now().Add(time.Hour))
	certFile, keyFile := cert.Write(t, dir)
	c := &testCluster{t: t}
	for i := range 3 {
		cn := &clusterNode{name: fmt.Sprintf("n%d", i+1), data: filepath.Join(t.TempDir(), "data"),
			gossip: freeAddr(t), raft: freeAddr(t), http: freeAddr(t)}
		if i == 0 {
			c.seed = cn.gossip
		}
		c.nodes = append(c.nodes, cn)
		c.start(cn, "--http-tls-cert", certFile, "--http-tls-key", keyFile)
		cn.proc.waitServing(clusterStart)
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool(t)}}}
	waitFor(t, clusterStart, "three Raft voters", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "https://"+c.nodes[0].http+"/v1/cluster", nil)
		req.Header.Set("Authorization", adminAuth())
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st peers.ClusterStatus
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil &&
			len(st.Raft.Voters) == 3 && st.Raft.Leader != ""
	})
	for _, cn := range c.nodes {
		body := strings.NewReader(`{"display_name":"User ` + cn.name + `","password":"pw-of-user-` + cn.name + `"}`)
		req, err := http.NewRequest(http.MethodPut, "https://"+cn.http+"/v1/users/u"+cn.name, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", adminAuth())
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("PUT on %s over HTTPS: %v", cn.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("PUT /v1/users/u%s on %s: %d", cn.name, cn.name, resp.StatusCode)
			continue
		}
		index := resp.Header.Get("X-Ucgrid-Index")
		for _, other := range c.nodes {
			req, _ := http.NewRequest(http.MethodGet, "https://"+other.http+"/v1/users/u"+cn.name, nil)
			req.Header.Set("Authorization", adminAuth())
			req.Header.Set("X-Ucgrid-Index", index)
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("GET u%s on %s: %v %v", cn.name, other.name, err, resp)
			}
			if resp != nil {
				resp.Body.Close()
			}
		}
	}
}
