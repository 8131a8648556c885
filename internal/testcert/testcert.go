// Package testcert makes self-signed server certificates for the tests of
// ucgrid's TLS listeners (HTTPS, SIP over TLS): ECDSA P-256, valid for
// 127.0.0.1, localhost and any names given, written the way certificate
// tools write them. Cluster certificates come from cluster/pki/pkitest.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a self-signed certificate and its key, in PEM.
type Cert struct {
	CertPEM, KeyPEM []byte
	// Serial tells certificates apart (a reload test asks which is served).
	Serial *big.Int
}

// New makes a certificate with serial number serial, valid from an hour
// ago until notAfter, for 127.0.0.1, localhost and names.
func New(t testing.TB, serial int64, notAfter time.Time, names ...string) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "ucgrid test"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: append([]string{"localhost"}, names...),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return Cert{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		Serial:  big.NewInt(serial),
	}
}

// Write writes the pair to dir/cert.pem and dir/key.pem (0600), each
// replaced at once by a rename, and returns the file names.
func (c Cert) Write(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	WriteFile(t, keyFile, c.KeyPEM)
	WriteFile(t, certFile, c.CertPEM)
	return certFile, keyFile
}

// Pool is a certificate pool that trusts c.
func (c Cert) Pool(t testing.TB) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(c.CertPEM) {
		t.Fatal("testcert: certificate not parsed")
	}
	return p
}

// WriteFile replaces path with b (0600) at once, by a rename.
func WriteFile(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
