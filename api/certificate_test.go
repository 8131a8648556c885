package api

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestListen_WarnsOfPlainHTTPBeyondLoopback: plain HTTP on every
// interface logs a warning naming the TLS flags; on loopback it does not.
func TestListen_WarnsOfPlainHTTPBeyondLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		warn bool
	}{{"127.0.0.1:0", false}, {"0.0.0.0:0", true}} {
		var log bytes.Buffer
		s, err := Listen(Config{Addr: tc.addr, Ready: func() error { return nil }, Gatherer: prometheus.NewRegistry(),
			Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(log.String(), "without TLS") && strings.Contains(log.String(), "--http-tls-cert"); got != tc.warn {
			t.Errorf("%s: warning logged %v, want %v; log:\n%s", tc.addr, got, tc.warn, log.String())
		}
	}
}

func TestConfig_TLSCertAndKeyGoTogether(t *testing.T) {
	_, err := Listen(Config{Addr: "127.0.0.1:0", Ready: func() error { return nil }, Gatherer: prometheus.NewRegistry(),
		Logger: testLogger(t), TLSCert: "cert.pem"})
	if err == nil || !strings.Contains(err.Error(), "TLSKey") {
		t.Errorf("a certificate without key: %v", err)
	}
}
