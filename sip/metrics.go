package sip

import (
	"fmt"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the SIP layer's Prometheus metrics. Labels are fixed small
// sets (methods, outcomes); never a number, user or presence value.
type metrics struct {
	reg           prometheus.Registerer
	collectors    []prometheus.Collector
	requests      *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
	registrations *prometheus.CounterVec
	calls         *prometheus.CounterVec
	activeCalls   prometheus.Gauge
	branches      prometheus.Gauge
	subscriptions prometheus.Gauge
	notifies      prometheus.Counter
	ringLatency   prometheus.Histogram
	panics        prometheus.Counter
	dialogRefused *prometheus.CounterVec
	connsOpen     *prometheus.GaugeVec
	connsRefused  *prometheus.CounterVec
	connsTimedOut *prometheus.CounterVec
	unparsable    prometheus.Counter
	natPings      *prometheus.CounterVec
	natDropped    prometheus.Counter
	natFlows      prometheus.Gauge
	flowRefused   prometheus.Counter
	trunkCalls    *prometheus.CounterVec
	// trunkRegistered is labelled by trunk id: a handful of configured
	// trunks, never a user or a number.
	trunkRegistered *prometheus.GaugeVec
	trunkRegisters  *prometheus.CounterVec
	// Overload control (overload.go).
	overloadAdmitted *prometheus.CounterVec
	overloadRefused  *prometheus.CounterVec
	queueAge         prometheus.Histogram
	settingUp        prometheus.Gauge
	transactions     prometheus.Gauge
	schedLatency     prometheus.Gauge
	overloadCut      prometheus.Gauge
	edgeProcess      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_requests_total",
			Help: "SIP requests received, by method."}, []string{"method"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_auth_failures_total",
			Help: "Digest authentications refused, by reason (credentials, stale, replay, throttled, line_guarded, disabled)."}, []string{"reason"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_registrations_total",
			Help: "REGISTER requests answered, by outcome."}, []string{"outcome"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_calls_total",
			Help: "Calls (INVITEs outside a dialog) ended, by target kind and outcome."}, []string{"kind", "outcome"}),
		activeCalls: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ucgrid_sip_calls_active",
			Help: "Calls being set up or connected through this node."}),
		branches: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ucgrid_sip_branches_active",
			Help: "Outgoing INVITE branches not yet finished."}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ucgrid_sip_subscriptions_active",
			Help: "SUBSCRIBE dialogs (presence and dialog events) held by this node."}),
		notifies: prometheus.NewCounter(prometheus.CounterOpts{Name: "ucgrid_sip_notifies_total",
			Help: "NOTIFY requests sent."}),
		ringLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ucgrid_sip_invite_to_ringing_seconds",
			Help:    "Time from receiving an INVITE to forwarding the first 18x to the caller.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "ucgrid_sip_handler_panics_total",
			Help: "Request handlers that panicked (answered with 500)."}),
		dialogRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_dialog_refused_total",
			Help: "In-dialog requests refused (481, ACKs dropped) because they name no dialog this node carries or do not come from its parties, by method."}, []string{"method"}),
		connsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ucgrid_sip_connections_open",
			Help: "TCP and TLS connections accepted and open, by transport."}, []string{"transport"}),
		connsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_connections_refused_total",
			Help: "TCP and TLS connections closed on accept because their source address holds MaxConnsPerSource already, by transport."}, []string{"transport"}),
		connsTimedOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_connections_timed_out_total",
			Help: "TCP and TLS connections ended by a timeout, by transport and kind (idle: no traffic for IdleTimeout; message: a message or handshake not complete within MessageTimeout)."}, []string{"transport", "kind"}),
		unparsable: prometheus.NewCounter(prometheus.CounterOpts{Name: "ucgrid_sip_unparsable_total",
			Help: "Messages (datagrams, or stream chunks) that could not be parsed and were dropped."}),
		natPings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_nat_pings_total",
			Help: "Keep-alives to NATed bindings held by this node, by result (answered, unanswered: OPTIONS; crlf: sent, no answer expected; connection: a TCP/TLS flow checked)."}, []string{"result"}),
		natDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "ucgrid_sip_nat_bindings_dropped_total",
			Help: "NATed bindings removed because they stopped answering keep-alives or their connection closed."}),
		natFlows: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ucgrid_sip_nat_bindings",
			Help: "NATed bindings registered through this node and kept alive by it."}),
		flowRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "ucgrid_sip_flow_refused_total",
			Help: "Requests routed to this node with a flow token it did not sign, or that a flow does not relay (answered 403)."}),
		trunkCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_trunk_calls_total",
			Help: "Numbers beyond the directory dialled or forwarded to, by result (routed: sent to a trunk; refused: the class of service or a trunk caller; no_route: no dial-plan rule; failed; shed: dropped because the upstream asked for a reduction, RFC 7339; held_off: the upstream answered 503 with Retry-After lately)."}, []string{"result"}),
		trunkRegistered: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ucgrid_sip_trunk_registered",
			Help: "1 while this node holds a registration at the trunk's upstream, 0 while it fails to, by trunk id (only on the node that keeps the registrations)."}, []string{"trunk"}),
		trunkRegisters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_trunk_registers_total",
			Help: "REGISTER attempts at trunk upstreams, by result (registered, failed)."}, []string{"result"}),
	}
	m.overloadMetrics()
	m.collectors = []prometheus.Collector{m.requests, m.authFailures, m.registrations, m.calls,
		m.activeCalls, m.branches, m.subscriptions, m.notifies, m.ringLatency, m.panics, m.dialogRefused,
		m.connsOpen, m.connsRefused, m.connsTimedOut, m.unparsable, m.natPings, m.natDropped, m.natFlows, m.flowRefused, m.trunkCalls, m.trunkRegistered, m.trunkRegisters,
		m.overloadAdmitted, m.overloadRefused, m.queueAge, m.settingUp, m.transactions, m.schedLatency, m.overloadCut, m.edgeProcess}
	if reg == nil {
		return m, nil
	}
	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, r := range m.collectors[:i] {
				reg.Unregister(r)
			}
			return nil, fmt.Errorf("sip: register metrics: %w", err)
		}
	}
	return m, nil
}

// overloadMetrics makes the overload control's metrics (overload.go).
func (m *metrics) overloadMetrics() {
	m.overloadAdmitted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_overload_admitted_total",
		Help: "New work (requests outside a dialog other than ACK, CANCEL, OPTIONS) admitted by overload control, by method."}, []string{"method"})
	m.overloadRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ucgrid_sip_overload_refused_total",
		Help: "New work refused with 503 and Retry-After by overload control, by reason (calls, transactions, queue_age, cpu) and method."}, []string{"reason", "method"})
	m.queueAge = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ucgrid_sip_udp_queue_age_seconds",
		Help:    "Time each UDP datagram waited in the socket's receive queue before the node read it (the oldest queued one, when it was read).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)})
	m.settingUp = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ucgrid_sip_calls_setting_up",
		Help: "New INVITEs admitted and not yet answered with an 18x or a final response (bounded by --sip-max-calls-setting-up)."})
	m.transactions = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ucgrid_sip_transactions_in_progress",
		Help: "SIP requests being handled (bounded by --sip-max-transactions)."})
	m.schedLatency = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ucgrid_sip_sched_latency_p99_seconds",
		Help: "p99 goroutine scheduling latency of the last 50 ms sample (overload control's CPU signal, limit --sip-max-sched-latency)."})
	m.overloadCut = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ucgrid_sip_overload_cut_ratio",
		Help: "Share of new work the CPU signal refuses now (0: none)."})
	m.edgeProcess = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ucgrid_sip_edge_process",
		Help: "1 while an edge process reads the SIP UDP socket (--sip-edge-process), 0 while the node reads it itself."})
}

// unregister removes the metrics, so a restarted server can register
// them again.
func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}

// knownMethods are the method label values; anything else is "other".
var knownMethods = map[sip.RequestMethod]string{
	sip.INVITE: "INVITE", sip.ACK: "ACK", sip.CANCEL: "CANCEL", sip.BYE: "BYE",
	sip.REGISTER: "REGISTER", sip.OPTIONS: "OPTIONS", sip.SUBSCRIBE: "SUBSCRIBE",
	sip.NOTIFY: "NOTIFY", sip.PUBLISH: "PUBLISH", sip.INFO: "INFO", sip.PRACK: "PRACK",
	sip.UPDATE: "UPDATE", sip.MESSAGE: "MESSAGE", sip.REFER: "REFER",
}

// methodLabels are the method label values in a fixed order (the edge
// process counts by index).
var methodLabels = [...]string{"INVITE", "ACK", "CANCEL", "BYE", "REGISTER", "OPTIONS", "SUBSCRIBE",
	"NOTIFY", "PUBLISH", "INFO", "PRACK", "UPDATE", "MESSAGE", "REFER", "other"}

func methodLabel(m sip.RequestMethod) string {
	if l, ok := knownMethods[m]; ok {
		return l
	}
	return "other"
}
