package persistence

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics: fixed names with the ucgrid_ prefix and units, no user ids in
// labels (docs/persistence.md lists them). The node exposes collectors;
// cmd/ registers them.

// latencyBuckets span 50µs (a group-committed fsync) to 2.5s.
var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2.5, 12)

type fsmMetrics struct {
	batchSeconds prometheus.Histogram
	batchEntries prometheus.Histogram
	rejected     prometheus.Counter
}

func newFSMMetrics() *fsmMetrics {
	return &fsmMetrics{
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ucgrid_persistence_fsm_batch_seconds",
			Help:    "Time to apply one batch of committed Raft entries to the directory, fsync included.",
			Buckets: latencyBuckets,
		}),
		batchEntries: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ucgrid_persistence_fsm_batch_entries",
			Help:    "Raft entries applied per FSM batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ucgrid_persistence_commands_rejected_total",
			Help: "Commands the FSM rejected (invalid, not found, conflict, unknown type).",
		}),
	}
}

func (m *fsmMetrics) observeBatch(n int, d time.Duration) {
	m.batchSeconds.Observe(d.Seconds())
	m.batchEntries.Observe(float64(n))
}

func (m *fsmMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.batchSeconds, m.batchEntries, m.rejected}
}

type nodeMetrics struct {
	forwardMetrics
	applySeconds  prometheus.Histogram
	applyErrors   prometheus.Counter
	appendSeconds prometheus.Histogram
}

func newNodeMetrics() *nodeMetrics {
	return &nodeMetrics{
		forwardMetrics: newForwardMetrics(),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ucgrid_persistence_apply_seconds",
			Help:    "Node.Apply latency: propose, commit (fsync) and apply on this node.",
			Buckets: latencyBuckets,
		}),
		applyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ucgrid_persistence_apply_errors_total",
			Help: "Node.Apply calls that failed or were rejected.",
		}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ucgrid_raft_log_append_seconds",
			Help:    "Time to append one batch of entries to the Raft log, fsync included (the local commit time).",
			Buckets: latencyBuckets,
		}),
	}
}

// stateCollector reads Raft and Pebble figures at scrape time.
type stateCollector struct{ n *Node }

var (
	descRaftState   = prometheus.NewDesc("ucgrid_raft_state", "1 for the Raft state this node is in.", []string{"state"}, nil)
	descRaftTerm    = prometheus.NewDesc("ucgrid_raft_term", "Current Raft term.", nil, nil)
	descRaftLast    = prometheus.NewDesc("ucgrid_raft_last_index", "Last index in the Raft log.", nil, nil)
	descRaftCommit  = prometheus.NewDesc("ucgrid_raft_commit_index", "Last committed Raft index.", nil, nil)
	descRaftApplied = prometheus.NewDesc("ucgrid_raft_applied_index", "Last Raft index applied to the directory.", nil, nil)
	descApplyLag    = prometheus.NewDesc("ucgrid_raft_apply_lag_entries", "Committed Raft entries not yet applied to this node's directory (commit index - applied index).", nil, nil)
	descLastContact = prometheus.NewDesc("ucgrid_raft_last_contact_seconds", "Seconds since this follower last heard from the leader (0 on the leader).", nil, nil)
	descFailed      = prometheus.NewDesc("ucgrid_persistence_store_failed", "1 when a disk write failed and the store refuses writes.", nil, nil)
	descOverflows   = prometheus.NewDesc("ucgrid_persistence_feed_overflows_total", "Change-feed subscribers reset because their buffer was full.", nil, nil)
	descDisk        = prometheus.NewDesc("ucgrid_pebble_disk_usage_bytes", "Bytes of Pebble files on disk.", nil, nil)
	descReadAmp     = prometheus.NewDesc("ucgrid_pebble_read_amplification", "Pebble read amplification (sublevels to search).", nil, nil)
	descMemtable    = prometheus.NewDesc("ucgrid_pebble_memtable_bytes", "Bytes held in Pebble memtables.", nil, nil)
	descWAL         = prometheus.NewDesc("ucgrid_pebble_wal_bytes", "Live bytes in Pebble's write-ahead log.", nil, nil)
	descCompactions = prometheus.NewDesc("ucgrid_pebble_compactions_total", "Pebble compactions run.", nil, nil)
	descFlushes     = prometheus.NewDesc("ucgrid_pebble_flushes_total", "Pebble memtable flushes.", nil, nil)
	descCacheHits   = prometheus.NewDesc("ucgrid_pebble_block_cache_hits_total", "Pebble block cache hits.", nil, nil)
	descCacheMisses = prometheus.NewDesc("ucgrid_pebble_block_cache_misses_total", "Pebble block cache misses.", nil, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftState, descRaftTerm, descRaftLast, descRaftCommit, descRaftApplied,
		descApplyLag, descLastContact, descFailed, descOverflows, descDisk, descReadAmp, descMemtable, descWAL, descCompactions,
		descFlushes, descCacheHits, descCacheMisses} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	r := c.n.raft
	state := r.State()
	for _, s := range []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown} {
		gauge(descRaftState, boolFloat(s == state), s.String())
	}
	gauge(descRaftTerm, float64(r.CurrentTerm()))
	gauge(descRaftLast, float64(r.LastIndex()))
	gauge(descRaftCommit, float64(r.CommitIndex()))
	applied, commit := c.n.fsm.applied.Load(), r.CommitIndex()
	gauge(descRaftApplied, float64(applied))
	gauge(descApplyLag, float64(commit-min(applied, commit)))
	gauge(descLastContact, lastContact(r, state))
	_, failed := c.n.store.Failed()
	gauge(descFailed, boolFloat(failed != nil))
	counter(descOverflows, float64(c.n.fsm.feed.overflows.Load()))
	c.collectPebble(gauge, counter)
}

func (c stateCollector) collectPebble(gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, float64)) {
	m := c.n.store.pebbleMetrics()
	if m == nil {
		return
	}
	gauge(descDisk, float64(m.DiskSpaceUsage()))
	gauge(descReadAmp, float64(m.ReadAmp()))
	gauge(descMemtable, float64(m.MemTable.Size))
	gauge(descWAL, float64(m.WAL.Size))
	counter(descCompactions, float64(m.Compact.Count))
	counter(descFlushes, float64(m.Flush.Count))
	counter(descCacheHits, float64(m.BlockCache.Hits))
	counter(descCacheMisses, float64(m.BlockCache.Misses))
}

func lastContact(r *raft.Raft, state raft.RaftState) float64 {
	if state == raft.Leader {
		return 0
	}
	t := r.LastContact()
	if t.IsZero() {
		return 0
	}
	return time.Since(t).Seconds()
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// journalQueueGauges report the node's journal queue (journalqueue.go):
// entries that wait for a Raft leader, and how long the oldest has
// waited. Read at scrape time; the queue is empty but on a cut-off node.
func journalQueueGauges(s *Store) []prometheus.Collector {
	stats := func() (float64, float64) {
		n, oldest, err := s.JournalQueueStats()
		if err != nil || n == 0 {
			return 0, 0
		}
		return float64(n), time.Since(oldest).Seconds()
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ucgrid_persistence_journal_queued_entries",
			Help: "Journal entries this node made but could not commit yet (no Raft leader reachable), waiting in its durable queue.",
		}, func() float64 { n, _ := stats(); return n }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ucgrid_persistence_journal_queue_oldest_seconds",
			Help: "How long the oldest entry of this node's journal queue has waited; 0 when none waits.",
		}, func() float64 { _, age := stats(); return age }),
	}
}
