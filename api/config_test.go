package api

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/api/tokens"
	"github.com/ucgrid/ucgrid/persistence"
)

// eventHubStub only has to be non-nil: Validate checks Events' partners.
type eventHubStub struct{ EventHub }

func TestHandlerConfig_DefaultsValidate(t *testing.T) {
	c := HandlerConfig{Directory: &persistence.Node{}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	d := c.WithDefaults()
	if d.SIPRealm != "ucgrid.local" || d.MaxBodyBytes != 1<<20 || d.Live.Parallel != 8 || d.Logger == nil || d.Now == nil {
		t.Errorf("WithDefaults() = %+v", d)
	}
	if c.SIPRealm != "" {
		t.Error("WithDefaults changed its receiver")
	}
}

func TestHandlerConfig_ValidateNamesTheBadField(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*HandlerConfig)
		field string
	}{
		{"no directory", func(c *HandlerConfig) { c.Directory = nil }, "HandlerConfig.Directory"},
		{"small body", func(c *HandlerConfig) { c.MaxBodyBytes = 100 }, "HandlerConfig.MaxBodyBytes"},
		{"negative read wait", func(c *HandlerConfig) { c.ReadWait = -1 }, "HandlerConfig.ReadWait"},
		{"negative write timeout", func(c *HandlerConfig) { c.WriteTimeout = -1 }, "HandlerConfig.WriteTimeout"},
		{"negative known-source ttl", func(c *HandlerConfig) { c.KnownSourceTTL = -1 }, "HandlerConfig.KnownSourceTTL"},
		{"negative token waits", func(c *HandlerConfig) { c.MaxPendingTokenWaits = -1 }, "HandlerConfig.MaxPendingTokenWaits"},
		{"negative verifies", func(c *HandlerConfig) { c.MaxConcurrentVerify = -1 }, "HandlerConfig.MaxConcurrentVerify"},
		{"password time", func(c *HandlerConfig) { c.Passwords = password.Params{Threads: 1, KeyLen: 32, SaltLen: 16} }, "HandlerConfig.Passwords.Time"},
		{"password threads", func(c *HandlerConfig) { c.Passwords = password.Params{Time: 1, KeyLen: 32, SaltLen: 16} }, "HandlerConfig.Passwords.Threads"},
		{"password key", func(c *HandlerConfig) { c.Passwords = password.Params{Time: 1, Threads: 1, KeyLen: 8, SaltLen: 16} }, "HandlerConfig.Passwords.KeyLen"},
		{"password salt", func(c *HandlerConfig) { c.Passwords = password.Params{Time: 1, Threads: 1, KeyLen: 32, SaltLen: 4} }, "HandlerConfig.Passwords.SaltLen"},
		{"realm with newline", func(c *HandlerConfig) { c.SIPRealm = "a\nb" }, "HandlerConfig.SIPRealm"},
		{"tokens", func(c *HandlerConfig) { c.Tokens = tokens.Config{TTL: time.Hour, MaxPerUser: -1} }, "HandlerConfig.Tokens"},
		{"live keep-alive", func(c *HandlerConfig) { c.Live.KeepAlive = -1 }, "LiveConfig.KeepAlive"},
		{"live buffer", func(c *HandlerConfig) { c.Live.EventBuffer = -1 }, "LiveConfig.EventBuffer"},
		{"live parallel", func(c *HandlerConfig) { c.Live.Parallel = -1 }, "LiveConfig.Parallel"},
		{"live targets", func(c *HandlerConfig) { c.Live.MaxTargets = -1 }, "LiveConfig.MaxTargets"},
		{"events alone", func(c *HandlerConfig) { c.Live.Events = eventHubStub{} }, "HandlerConfig.Live.Events"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := HandlerConfig{Directory: &persistence.Node{}}
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "api: "+tc.field) {
				t.Errorf("Validate() = %v, want an error starting %q", err, "api: "+tc.field)
			}
		})
	}
	c := HandlerConfig{Directory: &persistence.Node{}, Live: LiveConfig{Events: eventHubStub{}}}
	if err := c.Validate(); !errors.Is(err, errLiveNeeds) {
		t.Errorf("Events without Presence and Lines: %v, want errLiveNeeds", err)
	}
}

func TestConfig_ValidateNamesTheBadField(t *testing.T) {
	ready := func() error { return nil }
	valid := func() Config {
		return Config{Addr: "127.0.0.1:0", Ready: ready, Gatherer: prometheus.NewRegistry()}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no addr", func(c *Config) { c.Addr = "" }, "Config.Addr"},
		{"addr without port", func(c *Config) { c.Addr = "localhost" }, "Config.Addr"},
		{"no ready", func(c *Config) { c.Ready = nil }, "Config.Ready"},
		{"no gatherer", func(c *Config) { c.Gatherer = nil }, "Config.Gatherer"},
		{"cert without key", func(c *Config) { c.TLSCert = "c.pem" }, "Config.TLSKey"},
		{"key without cert", func(c *Config) { c.TLSKey = "k.pem" }, "Config.TLSCert"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "api: "+tc.field+": ") {
				t.Errorf("Validate() = %v, want an error starting %q", err, "api: "+tc.field+": ")
			}
		})
	}
}
