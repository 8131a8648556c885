package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The systemd unit in deploy/ starts a node that serve accepts: its
// ExecStart parses with the example configuration, the data directory is
// the unit's StateDirectory, and every address the example names stays
// on loopback until an administrator changes it.
func TestDeploy_SystemdUnitStartsWithTheExampleConfig(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join("..", "..", "deploy", "ucgrid.service"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, line := range strings.Split(string(unit), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			keys[k] = v
		}
	}
	args := strings.Fields(keys["ExecStart"])
	if len(args) < 2 || filepath.Base(args[0]) != "ucgrid" || args[1] != "serve" {
		t.Fatalf("ExecStart = %q, want ucgrid serve …", keys["ExecStart"])
	}
	example, err := filepath.Abs(filepath.Join("..", "..", "deploy", "ucgrid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(args, "/etc/ucgrid/ucgrid.yaml")
	if i < 0 {
		t.Fatalf("ExecStart = %q does not read /etc/ucgrid/ucgrid.yaml, where the install comment puts deploy/ucgrid.yaml", keys["ExecStart"])
	}
	args[i] = example
	o, err := parseServeOptions(args[2:], env(nil), io.Discard)
	if err != nil {
		t.Fatalf("ucgrid serve refuses the unit's ExecStart with deploy/ucgrid.yaml: %v", err)
	}
	if want := "/var/lib/" + keys["StateDirectory"]; o.Data != want {
		t.Errorf("--data %q is not the unit's StateDirectory %q", o.Data, want)
	}
	if keys["ConfigurationDirectory"] != "ucgrid" {
		t.Errorf("ConfigurationDirectory = %q, want ucgrid (/etc/ucgrid)", keys["ConfigurationDirectory"])
	}
	for name, addr := range map[string]string{"sip": o.SIP, "http": o.HTTP, "raft": o.Raft, "gossip": o.Gossip, "actor": o.Actor} {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Errorf("the example's %s address %q is not loopback", name, addr)
		}
	}
	if keys["LimitNICE"] != "-10" {
		t.Errorf("LimitNICE = %q, want -10: the SIP edge process raises itself to nice -10", keys["LimitNICE"])
	}
}
