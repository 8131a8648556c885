package api

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Beyond MaxInFlight requests in progress a request is answered 503 with
// Retry-After at once (not queued), and counted; once a slot is free
// the same request is served. The event stream does not take a slot.
func TestHandler_RequestsBeyondMaxInFlightAreRefusedAtOnce(t *testing.T) {
	e := newEnv(t, func(c *HandlerConfig) { c.MaxInFlight = 2 })
	e.must(http.StatusOK, as("admin"), "GET", "/v1/me", nil)
	e.h.inFlight <- struct{}{} // two requests in progress elsewhere
	e.h.inFlight <- struct{}{}
	r := e.do(as("admin"), "GET", "/v1/me", nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" || r.errCode() != codeUnavailable {
		t.Fatalf("request beyond the bound: %s (Retry-After %q), want 503 unavailable with Retry-After 1", r, r.header.Get("Retry-After"))
	}
	if got := testutil.ToFloat64(e.h.m.overloadRefused); got != 1 {
		t.Errorf("refusals counted %v, want 1", got)
	}
	<-e.h.inFlight
	e.must(http.StatusOK, as("admin"), "GET", "/v1/me", nil)
	<-e.h.inFlight
	if n := len(e.h.inFlight); n != 0 {
		t.Errorf("%d slots still taken after the requests ended", n)
	}
}
