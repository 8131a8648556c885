package membership

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfig_ValidateNamesTheBadField(t *testing.T) {
	valid := DefaultConfig("n1")
	tests := []struct {
		name      string
		mutate    func(*Config)
		wantField string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero values take defaults", func(c *Config) { *c = Config{NodeName: "n1"} }, ""},
		{"missing node name", func(c *Config) { c.NodeName = "" }, "NodeName"},
		{"cluster name too long", func(c *Config) { c.ClusterName = strings.Repeat("x", 256) }, "ClusterName"},
		{"bind host name", func(c *Config) { c.BindAddr = "localhost:7946" }, "BindAddr"},
		{"bind without port", func(c *Config) { c.BindAddr = "127.0.0.1" }, "BindAddr"},
		{"bind port out of range", func(c *Config) { c.BindAddr = "127.0.0.1:70000" }, "BindAddr"},
		{"advertise not an IP", func(c *Config) { c.AdvertiseAddr = "example.com:1" }, "AdvertiseAddr"},
		{"seed without port", func(c *Config) { c.Seeds = []string{"10.0.0.1:7946", "10.0.0.2"} }, "Seeds[1]"},
		{"probe timeout not below interval", func(c *Config) { c.ProbeTimeout = c.ProbeInterval }, "ProbeTimeout"},
		{"negative rejoin", func(c *Config) { c.RejoinInterval = -time.Second }, "RejoinInterval"},
		{"negative suspicion mult", func(c *Config) { c.SuspicionMult = -1 }, "SuspicionMult"},
		{"bad key length", func(c *Config) { c.SecretKey = make([]byte, 10) }, "SecretKey"},
		{"wan probe timeout not below interval", func(c *Config) { c.WANProbeTimeout = c.WANProbeInterval }, "WANProbeTimeout"},
		{"negative wan suspicion mult", func(c *Config) { c.WANSuspicionMult = -1 }, "WANSuspicionMult"},
		{"site pool on the bind address", func(c *Config) { c.Meta.Site, c.SiteBindAddr = "munich", c.BindAddr }, "SiteBindAddr"},
		{"site bind host name", func(c *Config) { c.Meta.Site, c.SiteBindAddr = "munich", "localhost:7947" }, "SiteBindAddr"},
		{"site advertise not an IP", func(c *Config) { c.Meta.Site, c.SiteAdvertiseAddr = "munich", "example.com:1" }, "SiteAdvertiseAddr"},
		{"site bind ignored without a site", func(c *Config) { c.SiteBindAddr = "localhost:7947" }, ""},
		{"oversized meta", func(c *Config) { c.Meta.Roles = []string{strings.Repeat("r", 600)} }, "Meta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig", err)
			}
			if !strings.HasPrefix(err.Error(), "membership: Config."+tt.wantField+": ") {
				t.Errorf("Validate() = %q, want it to name %s", err, tt.wantField)
			}
		})
	}
}
