//go:build !race

// Built without -race only: it runs a whole node in this process (see the
// Makefile's NORACE_PKGS).

package node

import (
	"bytes"
	"io"
	"log"
	"testing"

	"github.com/hashicorp/memberlist"

	"github.com/ucgrid/ucgrid/cluster/membership"
	"github.com/ucgrid/ucgrid/internal/testnet"
)

func TestGossipKey_DerivedFromTheClusterSecret(t *testing.T) {
	a, b := gossipKey("0123456789abcdef-one"), gossipKey("0123456789abcdef-two")
	if len(a) != 32 || bytes.Equal(a, b) || !bytes.Equal(a, gossipKey("0123456789abcdef-one")) {
		t.Fatalf("keys %x / %x: want 32 bytes, the same for the same secret, different for another", a, b)
	}
	if bytes.Contains(a, []byte("0123456789abcdef")) {
		t.Fatal("the key holds the secret")
	}
	if gossipKey("") != nil {
		t.Fatal("a node without a secret encrypts gossip with a key nobody else has")
	}
}

// With a cluster secret, a node's gossip is encrypted: a memberlist
// speaking plain gossip, or one keyed from another secret, cannot join.
func TestServer_GossipIsEncryptedWithTheClusterSecret(t *testing.T) {
	const secret = "gossip-test-secret-0123456789"
	addr := testnet.FreeAddr(t)
	startServerWith(t, func(c *Config) { c.ClusterSecret, c.GossipAddr = secret, addr })
	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"plain gossip", nil},
		{"a key from another secret", gossipKey("another-secret-0123456789")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mc := memberlist.DefaultLANConfig()
			mc.Name, mc.BindAddr, mc.BindPort, mc.AdvertisePort = "intruder", "127.0.0.1", 0, 0
			mc.Label = membership.DefaultConfig("x").ClusterName // speaks our label, lacks our key
			mc.SecretKey = tc.key
			mc.Logger = log.New(io.Discard, "", 0)
			ml, err := memberlist.Create(mc)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ml.Shutdown() }()
			if n, err := ml.Join([]string{addr}); err == nil || n > 0 {
				t.Fatalf("joined %d node(s) of an encrypted cluster with %s (err %v)", n, tc.name, err)
			}
			if got := ml.NumMembers(); got != 1 {
				t.Fatalf("intruder sees %d members", got)
			}
		})
	}
}
