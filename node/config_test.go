package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/api/password"
)

func TestConfig_DefaultsValidate(t *testing.T) {
	c := Config{DataDir: "d", HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0"}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	d := c.WithDefaults()
	if d.GossipAddr != "127.0.0.1:7946" || d.ActorAddr != "127.0.0.1:0" || d.RaftVoters != 3 ||
		d.RaftDeadGrace != 30*time.Second || d.ReadyTimeout != 30*time.Second ||
		d.PasswordParams != password.Default || d.Out == nil || d.Logger == nil {
		t.Errorf("WithDefaults() = %+v", d)
	}
	if c.GossipAddr != "" {
		t.Error("WithDefaults changed its receiver")
	}
}

func TestConfig_ValidateNamesTheBadField(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no data dir", func(c *Config) { c.DataDir = "" }, "DataDir"},
		{"node id with nul", func(c *Config) { c.NodeID = "a\x00b" }, "NodeID"},
		{"node id not utf-8", func(c *Config) { c.NodeID = "\xff" }, "NodeID"},
		{"long node id", func(c *Config) { c.NodeID = strings.Repeat("n", 257) }, "NodeID"},
		{"no http addr", func(c *Config) { c.HTTPAddr = "" }, "HTTPAddr"},
		{"http addr without port", func(c *Config) { c.HTTPAddr = "127.0.0.1" }, "HTTPAddr"},
		{"no raft addr", func(c *Config) { c.RaftAddr = "" }, "RaftAddr"},
		{"raft addr without port", func(c *Config) { c.RaftAddr = "localhost" }, "RaftAddr"},
		{"gossip addr without port", func(c *Config) { c.GossipAddr = "127.0.0.1" }, "GossipAddr"},
		{"actor addr without port", func(c *Config) { c.ActorAddr = "127.0.0.1" }, "ActorAddr"},
		{"sip addr without port", func(c *Config) { c.SIPAddr = "127.0.0.1" }, "SIPAddr"},
		{"join without port", func(c *Config) { c.Join = []string{"127.0.0.1:7946", "10.0.0.2"} }, "Join[1]"},
		{"https certificate without key", func(c *Config) { c.HTTPTLSCert = "c.pem" }, "HTTPTLSKey"},
		{"https key without certificate", func(c *Config) { c.HTTPTLSKey = "k.pem" }, "HTTPTLSCert"},
		{"negative ready timeout", func(c *Config) { c.ReadyTimeout = -time.Second }, "ReadyTimeout"},
		{"negative raft voters", func(c *Config) { c.RaftVoters = -1 }, "RaftVoters"},
		{"negative raft dead grace", func(c *Config) { c.RaftDeadGrace = -time.Second }, "RaftDeadGrace"},
		{"demo on a joining node", func(c *Config) { c.Demo, c.Join = true, []string{"127.0.0.1:7946"} }, "Demo"},
		{"site with a space", func(c *Config) { c.Site = "new york" }, "Site"},
		{"site starting with -", func(c *Config) { c.Site = "-x" }, "Site"},
		{"site gossip port taken by raft", func(c *Config) {
			c.Site, c.GossipAddr, c.RaftAddr = "munich", "127.0.0.1:7946", "127.0.0.1:7947"
		}, "GossipAddr"},
		{"site gossip port taken by actors on every address", func(c *Config) {
			c.Site, c.GossipAddr, c.ActorAddr = "munich", "10.0.0.1:7946", "0.0.0.0:7947"
		}, "GossipAddr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{DataDir: "d", HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0"}
			tc.edit(&c)
			err := c.Validate()
			if want := "node: Config." + tc.field + ": "; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Validate() = %v, want an error starting %q", err, want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Errorf("Validate() = %#v, want a *ConfigError of %s", err, tc.field)
			}
		})
	}
}

// TestStart_RefusesAnInvalidConfigBeforeTouchingTheDisk: Start validates
// first, so a bad address leaves no data directory behind.
func TestStart_RefusesAnInvalidConfigBeforeTouchingTheDisk(t *testing.T) {
	cfg := Config{DataDir: filepath.Join(t.TempDir(), "data"), HTTPAddr: "127.0.0.1:0", RaftAddr: "no-port"}
	_, err := Start(context.Background(), cfg)
	if err == nil || !strings.HasPrefix(err.Error(), "node: Config.RaftAddr: ") {
		t.Fatalf("Start = %v, want the RaftAddr error", err)
	}
	if _, statErr := os.Stat(cfg.DataDir); !os.IsNotExist(statErr) {
		t.Errorf("data directory %s: %v, want none", cfg.DataDir, statErr)
	}
}
