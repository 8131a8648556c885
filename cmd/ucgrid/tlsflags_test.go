package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseServeOptions_ClusterTLSSettings(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ucgrid.yaml")
	writeFile(t, cfg, "tls_ca: /etc/ucgrid/ca.pem\ntls_cert: /etc/ucgrid/n1.pem\ntls_key: /etc/ucgrid/n1-key.pem\n")
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		insecure bool
	}{
		{"config file", []string{"--config", cfg}, nil, false},
		{"switch flag", []string{"--config", cfg, "--insecure-cluster"}, nil, true},
		{"environment", []string{"--config", cfg}, map[string]string{"UCGRID_INSECURE_CLUSTER": "true"}, true},
		{"flag over environment", []string{"--config", cfg, "--insecure-cluster=false"}, map[string]string{"UCGRID_INSECURE_CLUSTER": "true"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseServeOptions(tc.args, env(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if o.TLSCA != "/etc/ucgrid/ca.pem" || o.TLSCert != "/etc/ucgrid/n1.pem" || o.TLSKey != "/etc/ucgrid/n1-key.pem" {
				t.Errorf("files %q %q %q", o.TLSCA, o.TLSCert, o.TLSKey)
			}
			if got, _ := o.insecureCluster(); got != tc.insecure {
				t.Errorf("insecure = %v, want %v", got, tc.insecure)
			}
		})
	}
	_, err := parseServeOptions(nil, env(map[string]string{"UCGRID_INSECURE_CLUSTER": "maybe"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--insecure-cluster") {
		t.Errorf("UCGRID_INSECURE_CLUSTER=maybe: err %v", err)
	}
}

func TestTLSCommand_BadInputIsOneClearLine(t *testing.T) {
	dir := t.TempDir()
	runOK(t, "tls", "ca", "create", "--dir", dir)
	ca, caKey := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"CA again", []string{"tls", "ca", "create", "--dir", dir}, 1, "refusing to overwrite"},
		{"no node", []string{"tls", "cert", "create", "--dir", dir, "--ca", ca, "--ca-key", caKey}, 2, "--node is required"},
		{"bad ip", []string{"tls", "cert", "create", "--node", "n1", "--dir", dir, "--ca", ca, "--ca-key", caKey, "--ip", "10.0.0"}, 2, `--ip "10.0.0"`},
		{"missing CA key", []string{"tls", "cert", "create", "--node", "n1", "--dir", dir, "--ca", ca, "--ca-key", filepath.Join(dir, "nope.pem")}, 1, "nope.pem"},
		{"unknown subcommand", []string{"tls", "key", "rotate"}, 2, "usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut strings.Builder
			if code := run(tc.args, &out, &errOut); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tc.want)
			}
		})
	}
}
