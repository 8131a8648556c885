package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Requests are counted by route pattern and status: the label is the
// pattern, never the user id in the path, and answers without a route
// share one label.
func TestMetrics_RequestsCountedByRoutePatternNotPath(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(c *HandlerConfig) { c.Metrics = reg })
	e.must(http.StatusCreated, as("admin"), http.MethodPut, "/v1/users/alice", map[string]any{"display_name": "Alice"})
	e.must(http.StatusOK, as("admin"), http.MethodGet, "/v1/users/alice", nil)
	e.must(http.StatusNotFound, as("admin"), http.MethodGet, "/v1/users/nobody", nil)
	e.must(http.StatusNotFound, as("admin"), http.MethodGet, "/v1/no-such-route", nil)

	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
				if strings.Contains(l.GetValue(), "alice") || strings.Contains(l.GetValue(), "nobody") {
					t.Errorf("%s has a label with an id from the path: %s", mf.GetName(), l.GetValue())
				}
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			got[key] = m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	for key, want := range map[string]float64{
		"ucgrid_http_requests_total{code=201,route=PUT /v1/users/{id}}": 1,
		"ucgrid_http_requests_total{code=200,route=GET /v1/users/{id}}": 1,
		"ucgrid_http_requests_total{code=404,route=GET /v1/users/{id}}": 1,
		"ucgrid_http_requests_total{code=404,route=unmatched}":          1,
		"ucgrid_http_request_seconds{route=GET /v1/users/{id}}":         2,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
}
