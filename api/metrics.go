package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics count the /v1 requests by route pattern (the mux pattern,
// e.g. "GET /v1/users/{id}": a fixed set, never an id) and status code.
type httpMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	// streamsEnded counts event streams ended because their access ended,
	// by reason (endReasons in access.go).
	streamsEnded *prometheus.CounterVec
	// inFlight and overloadRefused follow HandlerConfig.MaxInFlight.
	inFlight        prometheus.Gauge
	overloadRefused prometheus.Counter
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ucgrid_http_requests_total",
			Help: "HTTP /v1 requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ucgrid_http_request_seconds",
			Help:    "Time to answer an HTTP /v1 request, by route pattern (event streams are not timed: they last as long as the client stays).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		streamsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ucgrid_api_streams_ended_total",
			Help: "Event streams ended (signed_out) because their access ended, by reason: disabled, deleted, password, roles, token_revoked, ticket_parent_revoked, check_failed.",
		}, []string{"reason"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ucgrid_http_requests_in_flight",
			Help: "HTTP /v1 requests being answered (event streams not counted; bounded by MaxInFlight)."}),
		overloadRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "ucgrid_http_overload_refused_total",
			Help: "HTTP /v1 requests answered 503 with Retry-After at once because MaxInFlight requests were in progress."}),
	}
	for _, r := range endReasons {
		m.streamsEnded.WithLabelValues(r) // every series from the start, at 0
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.seconds, m.streamsEnded, m.inFlight, m.overloadRefused)
	}
	return m
}

// unmatchedRoute labels requests no route pattern matched (404, 405).
const unmatchedRoute = "unmatched"

// streamRoute is not timed: an event stream lasts as long as its client.
const streamRoute = "GET /v1/events"

func (m *httpMetrics) observe(route string, code int, took time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	if route != streamRoute {
		m.seconds.WithLabelValues(route).Observe(took.Seconds())
	}
}

// statusWriter records the status code a handler answered. It passes
// Flush (event streams) through, and Unwrap for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK // a handler that wrote nothing answered 200
	}
	return w.code
}
