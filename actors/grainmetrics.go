package actors

import "github.com/prometheus/client_golang/prometheus"

// GrainMetrics count the grain life cycles of one node. The node keeps one
// across restarts of its actor layer (each restart builds new Deps), so
// the counters never go back.
type GrainMetrics struct {
	active      *prometheus.GaugeVec
	activations *prometheus.CounterVec
	stops       *prometheus.CounterVec
	handovers   *prometheus.CounterVec
	kept        prometheus.Gauge
}

// NewGrainMetrics builds the collectors; register them with Collectors.
func NewGrainMetrics() *GrainMetrics {
	m := &GrainMetrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ucgrid_grains_active",
			Help: "Grains active on this node, by kind (user, line, group).",
		}, []string{"kind"}),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ucgrid_grain_activations_total",
			Help: "Grain activations on this node, by kind.",
		}, []string{"kind"}),
		stops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ucgrid_grain_passivations_total",
			Help: "Grain activations that ended on this node, by kind: idle passivation, moved by a topology change, or the node stopping.",
		}, []string{"kind"}),
		handovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ucgrid_grain_handovers_total",
			Help: "Runtime state (presence, calls, watchers, hunt state) moved with a grain during rebalancing, by kind and outcome: sent (the next activation has it), failed (lost: re-asserted by its sources).",
		}, []string{"kind", "outcome"}),
		kept: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ucgrid_registrations_kept",
			Help: "REGISTER updates this node answered while no Raft leader took them (cut off from the majority) and has not yet written through the directory.",
		}),
	}
	for _, k := range []string{KindUser, KindLine, KindGroup} {
		m.active.WithLabelValues(k)
		m.activations.WithLabelValues(k)
		m.stops.WithLabelValues(k)
		for _, o := range []string{"sent", "failed"} {
			m.handovers.WithLabelValues(k, o)
		}
	}
	return m
}

// Collectors are the metrics to register.
func (m *GrainMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.active, m.activations, m.stops, m.handovers, m.kept}
}

func (m *GrainMetrics) activated(kind string) {
	m.activations.WithLabelValues(kind).Inc()
	m.active.WithLabelValues(kind).Inc()
}

func (m *GrainMetrics) ended(kind string) {
	m.stops.WithLabelValues(kind).Inc()
	m.active.WithLabelValues(kind).Dec()
}

func (m *GrainMetrics) handover(kind, outcome string) {
	m.handovers.WithLabelValues(kind, outcome).Inc()
}

// keptRegistrations sets how many REGISTER updates the node keeps.
func (m *GrainMetrics) keptRegistrations(n int) {
	if m != nil {
		m.kept.Set(float64(n))
	}
}
