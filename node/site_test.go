package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
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
