//go:build !race

package node

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testnet"
)

// The leader records the node's site; started again with another --site,
// the node refuses with one line naming both sites.
func TestNode_SiteRecordedAndAnotherSiteRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.Site = "munich"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := s.Directory().ID()
	eventuallyNode(t, "the leader records the node's site", func() bool {
		rec, err := s.Directory().Store().SiteNode(id)
		return err == nil && rec.Site == "munich"
	})
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	cfg.Site = "hamburg"
	s2, err := Start(ctx, cfg)
	if err == nil {
		_ = s2.Shutdown(ctx) // the test fails below; only cleaning up
		t.Fatal("a node started with another --site than recorded was not refused")
	}
	msg := err.Error()
	if !errors.Is(err, ErrSiteMismatch) || strings.Contains(msg, "\n") ||
		!strings.Contains(msg, `"hamburg"`) || !strings.Contains(msg, `"munich"`) || !strings.Contains(msg, "--site munich") {
		t.Fatalf("refusal = %q; want one line with ErrSiteMismatch naming both sites and the flag", msg)
	}

	cfg.Site = "munich"
	s3, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("restart with the recorded site: %v", err)
	}
	if err := s3.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// A node that joins under a name the cluster recorded in another site
// (reinstalled with an empty data directory and a wrong --site) stops
// once it has caught up, with the same line.
func TestNode_JoiningUnderARecordedNameWithAnotherSiteIsRefused(t *testing.T) {
	const secret = "site-test-cluster-secret-0123456789"
	n1 := startServerWith(t, func(c *Config) {
		c.NodeID, c.ClusterSecret, c.GossipAddr, c.Site = "n1", secret, testnet.FreeAddr(t), "a"
	})
	cfg := testConfig(t)
	cfg.NodeID, cfg.ClusterSecret, cfg.GossipAddr, cfg.Site = "n2", secret, testnet.FreeAddr(t), "b"
	cfg.Join = []string{n1.cfg.GossipAddr}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	n2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	eventuallyNode(t, "the leader records n2 in site b", func() bool {
		rec, err := n1.Directory().Store().SiteNode("n2")
		return err == nil && rec.Site == "b"
	})
	if err := n2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	cfg.DataDir, cfg.Site = filepath.Join(t.TempDir(), "data"), "c"
	again, err := Start(ctx, cfg)
	if err == nil {
		_ = again.Shutdown(ctx) // the test fails below; only cleaning up
		t.Fatal("n2 joined again with another site than recorded")
	}
	if !errors.Is(err, ErrSiteMismatch) || !strings.Contains(err.Error(), `in site "b"`) {
		t.Fatalf("refusal = %v; want ErrSiteMismatch naming the recorded site b", err)
	}
}
