package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testcert"
)

// writeSIPTestCert writes a self-signed certificate for 127.0.0.1 and
// its key, and returns the file names.
func writeSIPTestCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	return testcert.New(t, 1, time.Now().Add(time.Hour)).Write(t, t.TempDir())
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

// --sip-advertise comes from the flag, UCGRID_SIP_ADVERTISE or the
// sip_advertise key, into sip.Config.Advertise.
func TestSIPConfig_AdvertiseFromFlagEnvAndConfigFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ucgrid.yaml")
	writeFile(t, cfg, "sip: 0.0.0.0:5060\nsip_advertise: 203.0.113.7\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"config file", []string{"--config", cfg}, nil, "203.0.113.7"},
		{"environment", []string{"--config", cfg}, map[string]string{"UCGRID_SIP_ADVERTISE": "sip.example.com:5070"}, "sip.example.com:5070"},
		{"flag", []string{"--config", cfg, "--sip-advertise", "203.0.113.8"}, map[string]string{"UCGRID_SIP_ADVERTISE": "x.example.com"}, "203.0.113.8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseServeOptions(tc.args, env(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			c, err := o.sipConfig()
			if err != nil || c.Advertise != tc.want {
				t.Fatalf("Advertise %q, %v; want %q", c.Advertise, err, tc.want)
			}
		})
	}
}

// A bad --sip-advertise stops the node before it starts: exit status 2,
// one line naming the flag and what is wrong.
func TestServe_BadSIPAdvertiseIsOneLineAndNoStart(t *testing.T) {
	tests := []struct {
		name, sip, advertise, says string
	}{
		{"malformed", "0.0.0.0:5060", "203.0.113.7:port", "not a number"},
		{"not a host", "0.0.0.0:5060", "bad host!", "not an IP address or host name"},
		{"wildcard", "0.0.0.0:5060", "0.0.0.0", "cannot be reached"},
		{"unresolvable", "0.0.0.0:5060", "no-such-host.invalid", "does not resolve"},
		{"IPv6 on an IPv4 wildcard", "0.0.0.0:5060", "[2001:db8::7]:5060", "IPv4"},
		{"IPv6 on a specific IPv4 bind", "127.0.0.1:5060", "2001:db8::7", "IPv4"},
		{"IPv4 on an IPv6 bind", "[::1]:5060", "203.0.113.7", "IPv6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			var out, errb bytes.Buffer
			code := run([]string{"serve", "--data", data, "--sip", tc.sip, "--sip-advertise", tc.advertise}, &out, &errb)
			if code == 0 {
				t.Fatal("the node started")
			}
			msg := strings.TrimSpace(errb.String())
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "--sip-advertise") || !strings.Contains(msg, tc.says) {
				t.Fatalf("stderr %q, want one line naming --sip-advertise and saying %q", msg, tc.says)
			}
			if _, err := os.Stat(data); err == nil {
				t.Fatal("the data directory was created: the node began to start")
			}
		})
	}
}
