package main

import (
	"io"
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
