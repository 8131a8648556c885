package api

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// certificate serves the HTTP server's TLS certificate and replaces it on
// Reload without touching the listener: connections made after a reload
// get the new certificate, those already open keep theirs.
type certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// loadCertificate reads the pair at start; an error names the file.
func loadCertificate(certFile, keyFile string, now time.Time) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(now); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again. On error the certificate in use stays.
func (c *certificate) Reload(now time.Time) error {
	cert, err := readKeyPair(c.certFile, c.keyFile, now)
	if err != nil {
		return err
	}
	c.cur.Store(cert)
	return nil
}

// readKeyPair reads and checks a PEM certificate chain and its key; the
// error names the file at fault.
func readKeyPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("api: TLS certificate %s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("api: TLS key %s: %w", keyFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("api: TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("api: TLS certificate %s: %w", certFile, err)
	}
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("api: TLS certificate %s expired on %s", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("api: TLS certificate %s is not valid before %s", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	cert.Leaf = leaf
	return &cert, nil
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.cur.Load(); cert != nil {
		return cert, nil
	}
	return nil, errors.New("api: no TLS certificate loaded")
}

// tlsConfig is the server side of HTTPS: TLS 1.2 at least, Go's default
// cipher suites (AEAD with forward secrecy only for TLS 1.2), HTTP/2.
func (c *certificate) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.get,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// peerTLSConfig is the client side for node-to-node requests to other
// nodes' HTTPS servers: a peer must present a certificate that chains to
// the system roots or to a certificate of this node's own chain (one
// certificate for all nodes, or one CA). The host name is not checked:
// peers are found by the addresses they publish through gossip, and the
// cluster secret authenticates the requests themselves.
func (c *certificate) peerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verified by VerifyConnection, without the host name.
		InsecureSkipVerify: true,
		VerifyConnection:   func(cs tls.ConnectionState) error { return c.verifyPeer(cs.PeerCertificates) },
	}
}

func (c *certificate) verifyPeer(chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("api: peer presented no certificate")
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if own := c.cur.Load(); own != nil {
		for _, der := range own.Certificate {
			if crt, err := x509.ParseCertificate(der); err == nil {
				roots.AddCert(crt)
			}
		}
	}
	inter := x509.NewCertPool()
	for _, crt := range chain[1:] {
		inter.AddCert(crt)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("api: peer certificate %q: %w", chain[0].Subject.CommonName, err)
	}
	return nil
}
