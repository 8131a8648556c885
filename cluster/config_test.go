package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"

	actorcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/ucgrid/ucgrid/cluster/membership"
)

func TestConfig_ValidateNamesTheBadField(t *testing.T) {
	valid := func() Config {
		return Config{
			Membership: membership.Config{NodeName: "n1", BindAddr: "10.0.0.1:7946"},
			Kinds:      []*actorcluster.Kind{newEchoKind("n1")},
		}
	}
	tests := []struct {
		name      string
		mutate    func(*Config)
		wantField string // "" = valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"membership field", func(c *Config) { c.Membership.NodeName = "" }, "NodeName"},
		{"actor address without port", func(c *Config) { c.ActorAddr = "10.0.0.1" }, "ActorAddr"},
		{"actor on all interfaces without advertise", func(c *Config) { c.ActorAddr = "0.0.0.0:8090" }, "ActorAdvertiseAddr"},
		{"actor on all interfaces with advertise", func(c *Config) {
			c.ActorAddr, c.ActorAdvertiseAddr = "0.0.0.0:8090", "10.0.0.1:8090"
		}, ""},
		{"bad advertise", func(c *Config) { c.ActorAdvertiseAddr = "10.0.0.1:x" }, "ActorAdvertiseAddr"},
		{"unnamed kind", func(c *Config) { c.Kinds = append(c.Kinds, &actorcluster.Kind{}) }, "Kinds[1]"},
		{"duplicate kind", func(c *Config) { c.Kinds = append(c.Kinds, newEchoKind("x")) }, "Kinds[1]"},
		{"client with kinds", func(c *Config) { c.Client = true }, "Kinds"},
		{"client", func(c *Config) { c.Client, c.Kinds = true, nil }, ""},
		{"negative timeout", func(c *Config) { c.RequestTimeout = -time.Second }, "RequestTimeout"},
		{"nanosecond back-off", func(c *Config) { c.RetryBaseDelay = 50 }, "RetryBaseDelay"},
		{"max below base", func(c *Config) { c.RetryMaxDelay = 10 * time.Millisecond }, "RetryMaxDelay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) && !errors.Is(err, membership.ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want an invalid-config error", err)
			}
			if !strings.HasPrefix(err.Error(), "cluster: Config.") || !strings.Contains(err.Error(), "Config."+tt.wantField+": ") {
				t.Errorf("Validate() = %q, want it to name %s", err, tt.wantField)
			}
		})
	}
}

func TestConfig_ActorAddrDefaultsToGossipIP(t *testing.T) {
	c := Config{Membership: membership.Config{NodeName: "n1", BindAddr: "10.0.0.7:7946"}}.WithDefaults()
	if c.ActorAddr != "10.0.0.7:0" {
		t.Errorf("ActorAddr default = %q, want 10.0.0.7:0", c.ActorAddr)
	}
}
