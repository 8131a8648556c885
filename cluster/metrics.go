package cluster

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/cluster/membership"
)

// requestMetrics count Node.Request outcomes. Gauges and the topology
// change counter (kept by the Provider) are read at scrape time.
type requestMetrics struct {
	retries  atomic.Uint64
	failures atomic.Uint64
	refused  atomic.Uint64 // actor peers refused at the TLS handshake
}

var (
	membersDesc = prometheus.NewDesc("ucgrid_cluster_members",
		"Cluster members known through gossip, by state (alive, left, failed; departed members are listed for 5 minutes).",
		[]string{"state"}, nil)
	topologyMembersDesc = prometheus.NewDesc("ucgrid_cluster_topology_members",
		"Members the actor cluster places grains on.", nil, nil)
	topologyChangesDesc = prometheus.NewDesc("ucgrid_cluster_topology_changes_total",
		"Actor topology changes seen by this node.", nil, nil)
	requestRetriesDesc = prometheus.NewDesc("ucgrid_cluster_request_retries_total",
		"Grain request attempts retried (no owner yet, dead letter, owner left the topology).", nil, nil)
	requestFailuresDesc = prometheus.NewDesc("ucgrid_cluster_request_failures_total",
		"Grain requests that failed (deadline, cancellation or error).", nil, nil)
)

// Collector returns a Prometheus collector of the node's cluster metrics,
// for cmd/ to register.
func (n *Node) Collector() prometheus.Collector { return nodeCollector{n} }

type nodeCollector struct{ n *Node }

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{membersDesc, topologyMembersDesc, topologyChangesDesc, requestRetriesDesc, requestFailuresDesc} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[membership.State]int{membership.StateAlive: 0, membership.StateLeft: 0, membership.StateFailed: 0}
	inTopology := 0
	for _, m := range c.n.Members() {
		counts[m.State]++
		if m.InTopology {
			inTopology++
		}
	}
	for state, count := range counts {
		ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(count), string(state))
	}
	ch <- prometheus.MustNewConstMetric(topologyMembersDesc, prometheus.GaugeValue, float64(inTopology))
	ch <- prometheus.MustNewConstMetric(topologyChangesDesc, prometheus.CounterValue, float64(c.n.provider.topologyChanges.Load()))
	ch <- prometheus.MustNewConstMetric(requestRetriesDesc, prometheus.CounterValue, float64(c.n.requests.retries.Load()))
	ch <- prometheus.MustNewConstMetric(requestFailuresDesc, prometheus.CounterValue, float64(c.n.requests.failures.Load()))
}
