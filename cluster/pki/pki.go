package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// uriScheme and uriHost form a node's URI SAN: ucgrid://node/NAME.
const (
	uriScheme = "ucgrid"
	uriHost   = "node"
)

// ErrNotNode is returned (wrapped) for a certificate that names no ucgrid
// node, or another node than the expected one.
var ErrNotNode = errors.New("certificate names no ucgrid node")

// NodeURI is the URI SAN that names node in its certificate.
func NodeURI(node string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriHost, Path: "/" + node}
}

// NodeName returns the node a certificate names, or "" when it names none.
func NodeName(cert *x509.Certificate) string {
	for _, u := range cert.URIs {
		if u.Scheme == uriScheme && u.Host == uriHost && len(u.Path) > 1 && !strings.Contains(u.Path[1:], "/") {
			return u.Path[1:]
		}
	}
	return ""
}

// Bundle is a node's TLS material: the cluster CA it trusts and its own
// certificate and key. It is immutable and safe for concurrent use.
type Bundle struct {
	roots *x509.CertPool
	cert  tls.Certificate
	leaf  *x509.Certificate
	// Now is the clock peers' certificates are checked against; nil = time.Now.
	now func() time.Time
}

// Node returns the node name this bundle's certificate carries.
func (b *Bundle) Node() string { return NodeName(b.leaf) }

// Load reads the CA certificate, the node certificate and its key (PEM
// files) and checks that they belong together: the key matches the
// certificate, the certificate is valid now, chains to the CA, names a
// node and may act as TLS server and client. Every error names the file.
func Load(caFile, certFile, keyFile string) (*Bundle, error) {
	return load(caFile, certFile, keyFile, time.Now)
}

func load(caFile, certFile, keyFile string, now func() time.Time) (*Bundle, error) {
	roots, err := loadCA(caFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: certificate %s with key %s: %w", certFile, keyFile, oneLine(err))
	}
	b := &Bundle{roots: roots, cert: cert, leaf: cert.Leaf, now: now}
	if err := b.verify(cert.Certificate); err != nil {
		return nil, fmt.Errorf("pki: certificate %s: %w", certFile, err)
	}
	return b, nil
}

func loadCA(caFile string) (*x509.CertPool, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	pool, n := x509.NewCertPool(), 0
	for rest := data; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil || blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("pki: CA certificate %s: not a PEM certificate", caFile)
		}
		if !c.IsCA {
			return nil, fmt.Errorf("pki: CA certificate %s: %q is not a CA certificate", caFile, c.Subject.CommonName)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("pki: CA certificate %s: no PEM certificate in the file", caFile)
	}
	return pool, nil
}

// oneLine flattens multi-line library errors for a one-line message.
func oneLine(err error) error {
	if s := err.Error(); strings.Contains(s, "\n") {
		return errors.New(strings.ReplaceAll(s, "\n", "; "))
	}
	return err
}

// verify checks a peer's (or our own) certificate chain: signed by the
// CA, valid now, usable for both TLS sides, and naming a node.
func (b *Bundle) verify(rawCerts [][]byte) error {
	if len(rawCerts) == 0 {
		return errors.New("no certificate presented")
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, raw := range rawCerts {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return fmt.Errorf("unparsable certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	now := time.Now
	if b.now != nil {
		now = b.now
	}
	leaf := certs[0]
	_, err := leaf.Verify(x509.VerifyOptions{Roots: b.roots, Intermediates: inter, CurrentTime: now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return fmt.Errorf("not a valid certificate of this cluster's CA: %w", err)
	}
	if NodeName(leaf) == "" {
		return fmt.Errorf("%w (no %s://%s/NAME URI SAN; make it with `ucgrid tls cert create`)", ErrNotNode, uriScheme, uriHost)
	}
	return nil
}

// VerifyPeer checks a peer's certificate chain as Server and Client do;
// it returns the node name the certificate carries.
func (b *Bundle) VerifyPeer(rawCerts [][]byte) (string, error) {
	if err := b.verify(rawCerts); err != nil {
		return "", fmt.Errorf("pki: peer certificate: %w", err)
	}
	c, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return "", fmt.Errorf("pki: unparsable certificate: %w", err)
	}
	return NodeName(c), nil
}

// Server returns the TLS configuration a node's listener uses: TLS 1.3,
// its own certificate, and a client certificate required and verified
// (VerifyPeer). nextProtos are the ALPN protocols it accepts.
func (b *Bundle) Server(nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{b.cert},
		// The chain is verified by VerifyPeerCertificate (node name, both
		// key usages); RequireAnyClientCert only makes a certificate
		// mandatory.
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: b.verifyHook(""),
		NextProtos:            nextProtos,
	}
}

// Client returns the TLS configuration a node dials peers with: its own
// certificate as client certificate, and the server's certificate
// verified by VerifyPeer instead of by host name (peers are dialled by
// address). When node is not "", the server must be that node.
func (b *Bundle) Client(node string, nextProtos ...string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{b.cert},
		// Not insecure: VerifyPeerCertificate verifies the chain against
		// the cluster CA; only the host-name check is replaced.
		InsecureSkipVerify:    true, //nolint:gosec // see above
		VerifyPeerCertificate: b.verifyHook(node),
		NextProtos:            nextProtos,
	}
}

func (b *Bundle) verifyHook(node string) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		got, err := b.VerifyPeer(raw)
		if err != nil {
			return err
		}
		if node != "" && got != node {
			return fmt.Errorf("%w: it names node %q, expected %q", ErrNotNode, got, node)
		}
		return nil
	}
}
