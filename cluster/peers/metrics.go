package peers

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/cluster/membership"
)

// opsMetrics are the cluster-operations metrics (docs/cluster.md).
type opsMetrics struct {
	raftChanges  *prometheus.CounterVec
	memberEvents *prometheus.CounterVec
	actorRestart prometheus.Counter

	mu   sync.Mutex
	last map[string]membership.State // member name → state last seen
}

func newOpsMetrics() *opsMetrics {
	return &opsMetrics{
		raftChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ucgrid_cluster_raft_changes_total",
			Help: "Raft configuration changes made by this node's autopilot while leader, by action (add_voter, add_nonvoter, promote, demote, remove).",
		}, []string{"action"}),
		memberEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ucgrid_cluster_member_events_total",
			Help: "Gossip membership transitions seen by this node, by event (joined, failed, left, recovered).",
		}, []string{"event"}),
		actorRestart: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ucgrid_cluster_actor_restarts_total",
			Help: "In-process restarts of the actor layer after this node found itself blocked by its peers.",
		}),
		last: map[string]membership.State{},
	}
}

func (m *opsMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.raftChanges, m.memberEvents, m.actorRestart, membership.EventCollector()}
}

// observeMembers counts the transitions between two member lists.
func (m *opsMetrics) observeMembers(ms []membership.Member) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mem := range ms {
		prev, seen := m.last[mem.Name]
		m.last[mem.Name] = mem.State
		switch {
		case !seen && mem.State == membership.StateAlive:
			m.memberEvents.WithLabelValues("joined").Inc()
		case !seen || prev == mem.State:
		case mem.State == membership.StateFailed:
			m.memberEvents.WithLabelValues("failed").Inc()
		case mem.State == membership.StateLeft:
			m.memberEvents.WithLabelValues("left").Inc()
		case mem.State == membership.StateAlive:
			m.memberEvents.WithLabelValues("recovered").Inc()
		}
	}
}
