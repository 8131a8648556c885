package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/ucgrid/ucgrid/cluster/pki"
)

const tlsUsage = `usage:
  ucgrid tls ca create [--dir D] [--days N]
      make a cluster CA: D/ca.pem and D/ca-key.pem (keep the key offline)
  ucgrid tls cert create --node NAME [--ca FILE] [--ca-key FILE] [--dir D] [--days N] [--ip IP,..] [--dns NAME,..]
      make a node certificate signed by the CA: D/NAME.pem and D/NAME-key.pem
`

// tlsCmd runs `ucgrid tls ...`: the certificates for node-to-node TLS,
// for operators without a PKI of their own (docs/cluster.md).
func tlsCmd(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) >= 2 && args[0] == "ca" && args[1] == "create":
		return tlsCACreate(args[2:], stdout, stderr)
	case len(args) >= 2 && args[0] == "cert" && args[1] == "create":
		return tlsCertCreate(args[2:], stdout, stderr)
	case len(args) == 1 && (args[0] == "help" || args[0] == "--help" || args[0] == "-h"):
		fmt.Fprint(stdout, tlsUsage)
		return 0
	}
	fmt.Fprint(stderr, tlsUsage)
	return 2
}

func tlsCACreate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ucgrid tls ca create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "directory to write ca.pem and ca-key.pem into")
	days := fs.Int("days", 3650, "days the CA is valid")
	if code, done := parseTLSFlags(fs, args, stderr); done {
		return code
	}
	if *days < 1 {
		fmt.Fprintf(stderr, "ucgrid tls ca create: --days %d: give at least 1\n", *days)
		return 2
	}
	cert, key, err := pki.CreateCA(*dir, *days, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "ucgrid tls ca create: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ucgrid: wrote CA certificate %s and its key %s (keep the key off the nodes)\n", cert, key)
	return 0
}

func tlsCertCreate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ucgrid tls cert create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	node := fs.String("node", "", "node name the certificate is for (as --node of serve); required")
	ca := fs.String("ca", pki.CAFile, "CA certificate")
	caKey := fs.String("ca-key", pki.CAKeyFile, "CA private key")
	dir := fs.String("dir", ".", "directory to write NAME.pem and NAME-key.pem into")
	days := fs.Int("days", 825, "days the certificate is valid (at most the CA's remaining life)")
	ips := fs.String("ip", "", "comma-separated IP addresses to add as SANs (for other tools; nodes check the node name)")
	dns := fs.String("dns", "", "comma-separated DNS names to add as SANs")
	if code, done := parseTLSFlags(fs, args, stderr); done {
		return code
	}
	req, err := nodeRequest(*node, *days, *ips, *dns)
	if err != nil {
		fmt.Fprintf(stderr, "ucgrid tls cert create: %v\n", err)
		return 2
	}
	cert, key, err := pki.CreateNode(*ca, *caKey, *dir, req, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "ucgrid tls cert create: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ucgrid: wrote certificate %s and key %s for node %q; start it with --node %s --tls-ca %s --tls-cert %s --tls-key %s\n",
		cert, key, req.Node, req.Node, *ca, cert, key)
	return 0
}

// parseTLSFlags parses args; done reports that the command ends with code.
func parseTLSFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q (flags start with --)\n", fs.Name(), fs.Arg(0))
		return 2, true
	}
	return 0, false
}

func nodeRequest(node string, days int, ips, dns string) (pki.NodeRequest, error) {
	req := pki.NodeRequest{Node: node, Days: days}
	if node == "" {
		return req, errors.New("--node is required: name the node the certificate is for")
	}
	if days < 1 {
		return req, fmt.Errorf("--days %d: give at least 1", days)
	}
	for _, s := range splitList(ips) {
		ip := net.ParseIP(s)
		if ip == nil {
			return req, fmt.Errorf("--ip %q is not an IP address", s)
		}
		req.IPs = append(req.IPs, ip)
	}
	req.DNSNames = splitList(dns)
	return req, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
