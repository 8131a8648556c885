package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSIPTestCert writes a self-signed ECDSA certificate for 127.0.0.1 and
// its key, and returns the file names.
func writeSIPTestCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "sip.crt"), filepath.Join(dir, "sip.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	return certFile, keyFile
}

func TestSIPConfig_SIPSServesTheHTTPSCertificateUnlessGivenItsOwn(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		cert, key, err string
	}{
		{"https certificate", []string{"--sips", "127.0.0.1:5061", "--http-tls-cert", "h.pem", "--http-tls-key", "h-key.pem"}, "h.pem", "h-key.pem", ""},
		{"own certificate", []string{"--sips", "127.0.0.1:5061", "--http-tls-cert", "h.pem", "--http-tls-key", "h-key.pem",
			"--sip-tls-cert", "s.pem", "--sip-tls-key", "s-key.pem"}, "s.pem", "s-key.pem", ""},
		{"only a sip key", []string{"--sips", "127.0.0.1:5061", "--sip-tls-key", "s-key.pem"}, "", "", "--sips needs a certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := parseServeOptions(tc.args, env(nil), io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := opts.sipConfig()
			if err != nil {
				t.Fatal(err)
			}
			if c.TLSCertFile != tc.cert || c.TLSKeyFile != tc.key {
				t.Fatalf("SIP TLS files = %q, %q; want %q, %q", c.TLSCertFile, c.TLSKeyFile, tc.cert, tc.key)
			}
		})
	}
}
