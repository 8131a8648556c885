package api

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestServer_V1AnswersUnavailableUntilMounted(t *testing.T) {
	s, err := Listen(Config{Addr: "127.0.0.1:0", Ready: func() error { return nil },
		Gatherer: prometheus.NewRegistry(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	get := func(path string) int {
		t.Helper()
		res, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode
	}
	if got := get("/v1/global"); got != http.StatusServiceUnavailable {
		t.Errorf("before Mount: %d, want 503", got)
	}
	if got := get("/healthz"); got != http.StatusOK {
		t.Errorf("healthz: %d", got)
	}
	h, err := NewHandler(HandlerConfig{Directory: openNode(t), Passwords: cheapParams, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	s.Mount(h)
	if got := get("/v1/global"); got != http.StatusUnauthorized {
		t.Errorf("after Mount: %d, want 401", got)
	}
}
