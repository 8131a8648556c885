// Package pkitest makes cluster certificates for tests: a CA per
// directory and node bundles signed by it, on real files.
package pkitest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/cluster/pki"
)

// Bundle returns a loaded bundle for node, signed by the CA in caDir
// (created on first use). Two calls with different caDirs give bundles
// of unrelated CAs.
func Bundle(t testing.TB, caDir, node string) *pki.Bundle {
	t.Helper()
	ca, _, cert, nodeKey := Files(t, caDir, node)
	b, err := pki.Load(ca, cert, nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Files creates (when absent) the CA in caDir and a certificate for node
// there, and returns the CA certificate, CA key, node certificate and
// node key paths.
func Files(t testing.TB, caDir, node string) (ca, caKey, cert, key string) {
	t.Helper()
	ca, caKey = filepath.Join(caDir, pki.CAFile), filepath.Join(caDir, pki.CAKeyFile)
	if _, err := os.Stat(ca); errors.Is(err, os.ErrNotExist) {
		if _, _, err := pki.CreateCA(caDir, 30, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	c, k := pki.NodeFiles(node)
	cert, key = filepath.Join(caDir, c), filepath.Join(caDir, k)
	if _, err := os.Stat(cert); errors.Is(err, os.ErrNotExist) {
		if _, _, err := pki.CreateNode(ca, caKey, caDir, pki.NodeRequest{Node: node, Days: 30}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return ca, caKey, cert, key
}

// Stranger returns the bundle of an attacker on the cluster network: its
// certificate for node comes from a CA of its own (in a new directory),
// but it trusts the cluster CA in caDir too (a CA certificate is public),
// so it accepts the cluster's servers and only their check of its
// certificate can keep it out.
func Stranger(t testing.TB, caDir, node string) *pki.Bundle {
	t.Helper()
	own := t.TempDir()
	ownCA, _, cert, key := Files(t, own, node)
	theirs, err := os.ReadFile(filepath.Join(caDir, pki.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	mine, err := os.ReadFile(ownCA)
	if err != nil {
		t.Fatal(err)
	}
	both := filepath.Join(own, "both-ca.pem")
	if err := os.WriteFile(both, append(mine, theirs...), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := pki.Load(both, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
