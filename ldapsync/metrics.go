package ldapsync

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Sync outcomes (the outcome label of ucgrid_ldap_syncs_total).
const (
	outcomeOK       = "ok"       // applied, no problem
	outcomeProblems = "problems" // applied, some entries skipped
	outcomeError    = "error"    // did not run (server, bind, directory)
	outcomeDryRun   = "dry_run"  // planned only
)

type metrics struct {
	syncs    *prometheus.CounterVec
	duration prometheus.Histogram
	entries  *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_ldap_syncs_total",
			Help: "LDAP / Active Directory syncs run on this node, by outcome (ok, problems, error, dry_run)."}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ucgrid_ldap_sync_duration_seconds",
			Help: "How long one LDAP sync took (fetch, plan, apply).", Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)}),
		entries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_ldap_sync_entries_total",
			Help: "Records LDAP syncs changed (dry runs not counted), by kind (user, group, line) and action (create, update, disable)."},
			[]string{"kind", "action"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.syncs, m.duration, m.entries}
}

func (m *metrics) observe(st *dirpb.DirectorySyncStatus, p *Plan, took time.Duration) {
	m.duration.Observe(took.Seconds())
	switch {
	case st.Error != "":
		m.syncs.WithLabelValues(outcomeError).Inc()
	case st.DryRun:
		m.syncs.WithLabelValues(outcomeDryRun).Inc()
	case len(st.Problems) > 0:
		m.syncs.WithLabelValues(outcomeProblems).Inc()
	default:
		m.syncs.WithLabelValues(outcomeOK).Inc()
	}
	if p == nil || st.DryRun {
		return
	}
	for _, a := range p.Actions {
		m.entries.WithLabelValues(a.Kind, a.Op).Inc()
	}
}
