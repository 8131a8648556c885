package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"

	"github.com/ucgrid/ucgrid/cluster/pki"
)

// switchOptions are the settings whose flag is a switch (--name alone
// means true); their values are "true", "false" or "" (false).
var switchOptions = map[string]bool{"insecure-cluster": true, "allow-wide-trunks": true, "demo": true}

// defineFlag defines o's flag in fs and returns where its value lands.
func defineFlag(fs *flag.FlagSet, o option) *string {
	usage := o.usage + " [$" + envName(o.name) + "]"
	if !switchOptions[o.name] {
		return fs.String(o.name, o.def, usage)
	}
	v := o.def
	fs.Var(boolString{&v}, o.name, usage)
	return &v
}

// boolString is a switch flag kept as "true"/"false", like the other
// settings, which are strings until validated.
type boolString struct{ p *string }

func (b boolString) String() string {
	if b.p == nil {
		return ""
	}
	return *b.p
}

func (b boolString) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("give true or false")
	}
	*b.p = strconv.FormatBool(v)
	return nil
}

func (b boolString) IsBoolFlag() bool { return true }

// validateTLS checks the node-to-node TLS settings: all three files or
// none, and a boolean --insecure-cluster.
func (o serveOptions) validateTLS() error {
	if _, err := o.insecureCluster(); err != nil {
		return err
	}
	set := 0
	for _, f := range []string{o.TLSCA, o.TLSCert, o.TLSKey} {
		if f != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		return errors.New("--tls-ca, --tls-cert and --tls-key go together: give all three (ucgrid tls ca create; ucgrid tls cert create --node NAME)")
	}
	return nil
}

func (o serveOptions) insecureCluster() (bool, error) {
	if o.InsecureCluster == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(o.InsecureCluster)
	if err != nil {
		return false, fmt.Errorf("--insecure-cluster %q: give true or false", o.InsecureCluster)
	}
	return v, nil
}

// tlsBundle loads the node's TLS files; nil when none are configured.
// Its error is one line naming the file at fault.
func (o serveOptions) tlsBundle() (*pki.Bundle, error) {
	if o.TLSCA == "" {
		return nil, nil
	}
	return pki.Load(o.TLSCA, o.TLSCert, o.TLSKey)
}
