package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/cluster/peerlink"
)

// ErrInsecureCluster is returned by Start when a cluster address binds a
// non-loopback interface without TLS and InsecureCluster is not set.
var ErrInsecureCluster = errors.New("node: cluster traffic would be unauthenticated")

// checkClusterBinds refuses Raft, actor or gossip addresses other hosts
// can reach when no TLS is configured: anyone reaching those ports could
// append Raft entries or send grain messages. Loopback-only nodes (one
// machine, tests) need no certificates.
func (c *Config) checkClusterBinds() error {
	if c.TLS != nil || c.InsecureCluster {
		return nil
	}
	for _, b := range []struct{ flag, addr string }{
		{"--raft", c.RaftAddr}, {"--actor", c.ActorAddr}, {"--gossip", c.GossipAddr},
	} {
		if !isLoopback(b.addr) {
			return fmt.Errorf("%w: %s %s is not a loopback address and no TLS is configured: set --tls-ca, --tls-cert and --tls-key (ucgrid tls --help), or --insecure-cluster on a network you trust", ErrInsecureCluster, b.flag, b.addr)
		}
	}
	return nil
}

// isLoopback reports whether addr (host:port) binds only loopback.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startLink binds the Raft address as a mutual-TLS link when TLS is
// configured (nil otherwise): Raft and the node-to-node HTTP routes share
// it, split by ALPN (cluster/peerlink).
func (s *Node) startLink() error {
	if s.cfg.TLS == nil {
		return nil
	}
	link, err := peerlink.Listen(s.cfg.RaftAddr, "", s.cfg.TLS, s.cfg.Logger)
	if err != nil {
		return fmt.Errorf("node: raft address: %w", err)
	}
	s.link = link
	return nil
}

// checkCertNode fails when the node certificate names another node than
// this one: peers would take it for that node.
func (s *Node) checkCertNode() error {
	if s.cfg.TLS == nil {
		return nil
	}
	if got := s.cfg.TLS.Node(); got != s.dir.ID() {
		return fmt.Errorf("node: the TLS certificate (--tls-cert) is for node %q, but this node is %q: make one with `ucgrid tls cert create --node %s` or start with --node %s", got, s.dir.ID(), s.dir.ID(), got)
	}
	return nil
}

// serveInternal serves the node-to-node HTTP routes on the link's
// "ucgrid-internal" connections.
func (s *Node) serveInternal() {
	if s.link == nil {
		return
	}
	s.internal = &http.Server{Handler: s.ops.InternalHandler(), ReadHeaderTimeout: 10 * time.Second}
	ln := s.link.Internal()
	go func() {
		if err := s.internal.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.cfg.Logger.Error("node: node-to-node HTTP stopped", "err", err)
		}
	}()
}

// stopInternal stops the node-to-node HTTP server (requests in progress may
// finish until ctx ends); the link itself closes with Raft's transport.
func (s *Node) stopInternal(ctx context.Context) error {
	if s.internal == nil {
		return nil
	}
	if err := s.internal.Shutdown(ctx); err != nil {
		return fmt.Errorf("node: stop node-to-node HTTP: %w", err)
	}
	return nil
}

// closeLink closes the link (a no-op once Raft's transport closed it).
func (s *Node) closeLink() error {
	if s.link == nil {
		return nil
	}
	if err := s.link.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("node: close raft link: %w", err)
	}
	return nil
}

var peersRefusedDesc = prometheus.NewDesc("ucgrid_cluster_peers_refused_total",
	"Connections from other hosts refused at the mutual-TLS handshake (no certificate of the cluster CA), by port (raft, actor).",
	[]string{"port"}, nil)

// refusedCollector exposes ucgrid_cluster_peers_refused_total (with TLS
// only). The actor count restarts with the actor layer.
type refusedCollector struct{ s *Node }

func (c refusedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- peersRefusedDesc }

func (c refusedCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.link == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(peersRefusedDesc, prometheus.CounterValue, float64(c.s.link.Refused()), "raft")
	if a := c.s.layer(); a != nil {
		ch <- prometheus.MustNewConstMetric(peersRefusedDesc, prometheus.CounterValue, float64(a.node.PeersRefused()), "actor")
	}
}
