package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// File names CreateCA and CreateNode write into their directory.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

// NodeFiles returns the certificate and key file names CreateNode writes
// for node: NAME.pem and NAME-key.pem.
func NodeFiles(node string) (cert, key string) { return node + ".pem", node + "-key.pem" }

// nodeNameRE is what a node name may be (as --node of serve accepts).
var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// NodeRequest describes a node certificate to make.
type NodeRequest struct {
	// Node is the node name (required), carried as URI SAN ucgrid://node/NAME.
	Node string
	// IPs and DNSNames are extra SANs, for tools that check host names
	// (nodes themselves verify the node name, not the host).
	IPs      []net.IP
	DNSNames []string
	// Days is how long the certificate is valid. Default 825 days (the
	// longest lifetime browsers accept; renew before).
	Days int
}

// CreateCA makes a new cluster CA (ECDSA P-256, valid days; default 3650)
// and writes ca.pem and ca-key.pem (0600) into dir, refusing to overwrite
// either. It returns the paths written.
func CreateCA(dir string, days int, now time.Time) (certPath, keyPath string, err error) {
	if days <= 0 {
		days = 3650
	}
	certPath, keyPath = filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	if err := checkAbsent(certPath, keyPath); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("pki: generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ucgrid cluster CA", Organization: []string{"ucgrid"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(0, 0, days),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", fmt.Errorf("pki: create CA certificate: %w", err)
	}
	return certPath, keyPath, writePair(certPath, keyPath, der, key)
}

// CreateNode makes a certificate for req.Node signed by the CA in caCert
// and caKey (PEM files), and writes NAME.pem and NAME-key.pem (0600) into
// dir, refusing to overwrite either. It returns the paths written.
func CreateNode(caCert, caKey, dir string, req NodeRequest, now time.Time) (certPath, keyPath string, err error) {
	if !nodeNameRE.MatchString(req.Node) {
		return "", "", fmt.Errorf("pki: node name %q: use letters, digits, '.', '_' or '-' (at most 63)", req.Node)
	}
	if req.Days <= 0 {
		req.Days = 825
	}
	ca, signer, err := loadCAPair(caCert, caKey)
	if err != nil {
		return "", "", err
	}
	c, k := NodeFiles(req.Node)
	certPath, keyPath = filepath.Join(dir, c), filepath.Join(dir, k)
	if err := checkAbsent(certPath, keyPath); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("pki: generate key: %w", err)
	}
	notAfter := now.AddDate(0, 0, req.Days)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: req.Node, Organization: []string{"ucgrid"}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{NodeURI(req.Node)},
		IPAddresses:  req.IPs,
		DNSNames:     req.DNSNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, signer)
	if err != nil {
		return "", "", fmt.Errorf("pki: create certificate for node %q: %w", req.Node, err)
	}
	return certPath, keyPath, writePair(certPath, keyPath, der, key)
}

func loadCAPair(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tlsPair(certFile, keyFile)
	if err != nil {
		return nil, nil, err
	}
	if !pair.cert.IsCA {
		return nil, nil, fmt.Errorf("pki: CA certificate %s: not a CA certificate", certFile)
	}
	return pair.cert, pair.key, nil
}

type certKey struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func tlsPair(certFile, keyFile string) (certKey, error) {
	cert, err := readPEM(certFile, "CERTIFICATE")
	if err != nil {
		return certKey{}, err
	}
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		return certKey{}, fmt.Errorf("pki: %s: %w", certFile, err)
	}
	keyDER, err := readPEM(keyFile, "EC PRIVATE KEY")
	if err != nil {
		return certKey{}, err
	}
	k, err := x509.ParseECPrivateKey(keyDER)
	if err != nil {
		return certKey{}, fmt.Errorf("pki: %s: %w", keyFile, err)
	}
	if !k.PublicKey.Equal(c.PublicKey) {
		return certKey{}, fmt.Errorf("pki: key %s does not belong to certificate %s", keyFile, certFile)
	}
	return certKey{cert: c, key: k}, nil
}

func readPEM(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != typ {
		return nil, fmt.Errorf("pki: %s: no PEM %q block", path, typ)
	}
	return blk.Bytes, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail (Go ≥ 1.24)
	}
	return n
}

func checkAbsent(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("pki: %s already exists: refusing to overwrite it (move it away or choose another --dir)", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("pki: %w", err)
		}
	}
	return nil
}

// writePair writes the certificate (0644) and key (0600), each created
// exclusively; when the key cannot be written the certificate is removed.
func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki: encode key: %w", err)
	}
	if err := writeExcl(certPath, 0o644, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
		return err
	}
	if err := writeExcl(keyPath, 0o600, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}); err != nil {
		if rmErr := os.Remove(certPath); rmErr != nil {
			return errors.Join(err, fmt.Errorf("pki: remove %s: %w", certPath, rmErr))
		}
		return err
	}
	return nil
}

func writeExcl(path string, mode os.FileMode, blk *pem.Block) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	err = pem.Encode(f, blk)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// Leave no half-written file; a failed removal is reported too.
		return errors.Join(fmt.Errorf("pki: write %s: %w", path, err), os.Remove(path))
	}
	return nil
}
