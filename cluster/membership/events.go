package membership

import (
	"strings"
	"sync"

	metrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// memberlist reports suspicions and deaths only as hashicorp/go-metrics
// counters (its EventDelegate sees joins, updates and leaves, never a
// suspicion). eventSink is a go-metrics sink that keeps just those
// counters. go-metrics is process-global, so the counters are too: they
// count every memberlist of the process (one per node outside tests).
type eventSink struct {
	metrics.BlackholeSink
	suspect, dead, degraded prometheus.Counter
}

var (
	sinkOnce sync.Once
	sink     *eventSink
)

// EventCollector returns the Prometheus collector of memberlist's failure
// detection events, installing the go-metrics sink on first use:
// ucgrid_cluster_member_suspect_total (this process marked a member
// suspect), ucgrid_cluster_member_dead_total (declared a member dead), and
// ucgrid_cluster_probe_degraded_total (a probe found this node slow to
// answer: Lifeguard raised its own timeouts).
func EventCollector() prometheus.Collector {
	installSink()
	return sink
}

func installSink() {
	sinkOnce.Do(func() {
		sink = &eventSink{
			suspect: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "ucgrid_cluster_member_suspect_total",
				Help: "Gossip members this process marked suspect (missed probes; they may still refute).",
			}),
			dead: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "ucgrid_cluster_member_dead_total",
				Help: "Gossip members this process declared dead.",
			}),
			degraded: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "ucgrid_cluster_probe_degraded_total",
				Help: "Probes that found this node degraded (Lifeguard awareness raised its timeouts).",
			}),
		}
		cfg := metrics.DefaultConfig("")
		cfg.EnableHostname, cfg.EnableRuntimeMetrics, cfg.EnableServiceLabel = false, false, false
		if _, err := metrics.NewGlobal(cfg, sink); err != nil {
			return // NewGlobal fails only for a bad config; ours is fixed
		}
	})
}

// IncrCounterWithLabels implements metrics.MetricSink.
func (s *eventSink) IncrCounterWithLabels(key []string, val float32, _ []metrics.Label) {
	s.IncrCounter(key, val)
}

// IncrCounter implements metrics.MetricSink.
func (s *eventSink) IncrCounter(key []string, val float32) {
	switch strings.Join(key, ".") {
	case "memberlist.msg.suspect":
		s.suspect.Add(float64(val))
	case "memberlist.msg.dead":
		s.dead.Add(float64(val))
	case "memberlist.degraded.probe":
		s.degraded.Add(float64(val))
	}
}

// Describe implements prometheus.Collector.
func (s *eventSink) Describe(ch chan<- *prometheus.Desc) {
	s.suspect.Describe(ch)
	s.dead.Describe(ch)
	s.degraded.Describe(ch)
}

// Collect implements prometheus.Collector.
func (s *eventSink) Collect(ch chan<- prometheus.Metric) {
	s.suspect.Collect(ch)
	s.dead.Collect(ch)
	s.degraded.Collect(ch)
}
