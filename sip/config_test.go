package sip

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
)

// validConfig has every required field; Validate checks nothing else in
// it (Store and Backend are only checked for presence).
func validConfig() Config {
	return Config{Domain: testDomain, Store: &persistence.Store{}, Backend: &dirBackend{}}
}

func TestConfig_DefaultsValidate(t *testing.T) {
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	d := c.WithDefaults()
	if d.Addr != "127.0.0.1:5060" || d.MinExpires != time.Minute || d.MaxConnsPerSource != 32 || d.Logger == nil {
		t.Errorf("WithDefaults() = %+v", d)
	}
	if c.Addr != "" {
		t.Error("WithDefaults changed its receiver")
	}
	if d.WithDefaults().Addr != d.Addr {
		t.Error("WithDefaults is not idempotent")
	}
}

func TestConfig_ValidateNamesTheBadField(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no domain", func(c *Config) { c.Domain = "" }, "Domain"},
		{"no store", func(c *Config) { c.Store = nil }, "Store"},
		{"no backend", func(c *Config) { c.Backend = nil }, "Backend"},
		{"addr without port", func(c *Config) { c.Addr = "127.0.0.1" }, "Addr"},
		{"tls addr without port", func(c *Config) { c.TLSAddr, c.TLSCertFile, c.TLSKeyFile = "x", "c", "k" }, "TLSAddr"},
		{"tls without certificate", func(c *Config) { c.TLSAddr, c.TLSKeyFile = "127.0.0.1:0", "k" }, "TLSCertFile"},
		{"tls without key", func(c *Config) { c.TLSAddr, c.TLSCertFile = "127.0.0.1:0", "c" }, "TLSKeyFile"},
		{"negative min expires", func(c *Config) { c.MinExpires = -time.Second }, "MinExpires"},
		{"min above max expires", func(c *Config) { c.MinExpires, c.MaxExpires = time.Hour, time.Minute }, "MinExpires"},
		{"nat expires below min", func(c *Config) { c.MinExpires, c.NATExpires = 2*time.Minute, time.Minute }, "NATExpires"},
		{"negative idle timeout", func(c *Config) { c.IdleTimeout = -1 }, "IdleTimeout"},
		{"negative message timeout", func(c *Config) { c.MessageTimeout = -1 }, "MessageTimeout"},
		{"negative nonce ttl", func(c *Config) { c.NonceTTL = -1 }, "NonceTTL"},
		{"negative auth window", func(c *Config) { c.AuthWindow = -1 }, "AuthWindow"},
		{"negative no-answer timeout", func(c *Config) { c.NoAnswerTimeout = -1 }, "NoAnswerTimeout"},
		{"negative ring timeout", func(c *Config) { c.RingTimeout = -1 }, "RingTimeout"},
		{"negative backend timeout", func(c *Config) { c.BackendTimeout = -1 }, "BackendTimeout"},
		{"negative nat ping misses", func(c *Config) { c.NATPingMisses = -1 }, "NATPingMisses"},
		{"negative conns per source", func(c *Config) { c.MaxConnsPerSource = -1 }, "MaxConnsPerSource"},
		{"negative auth failures", func(c *Config) { c.AuthFailures = -1 }, "AuthFailures"},
		{"negative line pair failures", func(c *Config) { c.LinePairFailures = -1 }, "LinePairFailures"},
		{"negative line failures", func(c *Config) { c.LineFailures = -1 }, "LineFailures"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "sip: Config."+tc.field+": ") {
				t.Errorf("Validate() = %v, want an error starting %q", err, "sip: Config."+tc.field+": ")
			}
		})
	}
}

func TestConfig_BadAdvertiseIsAnAdvertiseError(t *testing.T) {
	c := validConfig()
	c.Addr, c.Advertise = "127.0.0.1:5060", "[::1]"
	var ae *AdvertiseError
	if err := c.Validate(); !errors.As(err, &ae) {
		t.Fatalf("Validate() = %v, want an *AdvertiseError", err)
	}
}
