package pki_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/cluster/pki"
	"github.com/ucgrid/ucgrid/cluster/pki/pkitest"
)

func TestCreate_NodeCertificateNamesTheNodeAndIsPrivate(t *testing.T) {
	dir := t.TempDir()
	ca, _, cert, key := pkitest.Files(t, dir, "n1")
	b, err := pki.Load(ca, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if b.Node() != "n1" {
		t.Fatalf("node = %q, want n1", b.Node())
	}
	for _, f := range []string{key, filepath.Join(dir, pki.CAKeyFile)} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
}

func TestCreate_RefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, cert, _ := pkitest.Files(t, dir, "n1")
	before, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pki.CreateCA(dir, 1, time.Now()); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("CreateCA over an existing CA: err %v", err)
	}
	if _, _, err := pki.CreateNode(ca, caKey, dir, pki.NodeRequest{Node: "n1"}, time.Now()); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("CreateNode over an existing certificate: err %v", err)
	}
	after, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Fatal("the existing certificate was changed")
	}
}

func TestLoad_RefusesBadFilesNamingThem(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	ca, caKey, cert, key := pkitest.Files(t, dir, "n1")
	_, _, otherCert, otherKey := pkitest.Files(t, other, "n1")
	_, _, _, key2 := pkitest.Files(t, dir, "n2")
	expired := filepath.Join(t.TempDir(), "old")
	if err := os.Mkdir(expired, 0o700); err != nil {
		t.Fatal(err)
	}
	oldCert, oldKey, err := pki.CreateNode(ca, caKey, expired, pki.NodeRequest{Node: "n1", Days: 1}, time.Now().AddDate(0, 0, -3))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ca, cert, key, want string
	}{
		{"certificate of another CA", ca, otherCert, otherKey, otherCert},
		{"expired certificate", ca, oldCert, oldKey, oldCert},
		{"key of another certificate", ca, cert, key2, key2},
		{"missing CA file", filepath.Join(dir, "nope.pem"), cert, key, "nope.pem"},
		{"a node certificate as CA", cert, cert, key, cert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pki.Load(tc.ca, tc.cert, tc.key)
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line naming %s", err, tc.want)
			}
		})
	}
}

// The TLS configurations accept a peer of the same CA and refuse one of
// another CA, on both sides, and the client can insist on a node name.
func TestBundle_MutualTLSAcceptsOnlyTheClusterCA(t *testing.T) {
	dir := t.TempDir()
	n1, n2 := pkitest.Bundle(t, dir, "n1"), pkitest.Bundle(t, dir, "n2")
	// The stranger trusts our CA too: only the other side's check of its
	// certificate keeps it out.
	stranger := pkitest.Stranger(t, dir, "n2")
	for _, tc := range []struct {
		name           string
		server, client *pki.Bundle
		expect         string
		ok             bool
	}{
		{"same CA", n1, n2, "", true},
		{"same CA, expected node", n1, n2, "n1", true},
		{"same CA, another node expected", n1, n2, "n3", false},
		{"client of another CA", n1, stranger, "", false},
		{"server of another CA", stranger, n1, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(t, tc.server.Server(), tc.client.Client(tc.expect))
			if (err == nil) != tc.ok {
				t.Fatalf("handshake err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !tc.ok && tc.expect == "n3" && !errors.Is(err, pki.ErrNotNode) {
				t.Fatalf("err %v, want ErrNotNode", err)
			}
		})
	}
}

// handshake runs a TLS handshake over a real TCP connection; it returns
// the client's error, or the server's when only the server refused.
func handshake(t *testing.T, server, client *tls.Config) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, server)
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte{1}) // TLS 1.3: the client learns of a refusal on its first read
		}
		srvErr <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err == nil {
		buf := make([]byte, 1)
		_, err = c.Read(buf)
		c.Close()
	}
	if serr := <-srvErr; err == nil {
		err = serr
	}
	return err
}
