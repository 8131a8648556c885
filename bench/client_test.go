package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A node between two Raft leaders answers writes 503 with Retry-After
// (a stand-in server: a real node cannot be made to refuse on demand).
// Set-up writes wait it out; measured requests count the refusal.
func TestClient_SetupRetriesA503AndDoReportsIt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := NewClient(srv.URL)
	ctx := context.Background()
	if err := c.Setup(ctx, http.MethodPut, "/v1/users/u1", map[string]any{"name": "U1"}); err != nil {
		t.Fatalf("Setup through two 503s: %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("Setup sent %d requests, want 3", n)
	}
	calls.Store(0)
	err := c.Do(ctx, http.MethodPut, "/v1/users/u1", map[string]any{"name": "U1"}, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || calls.Load() != 1 {
		t.Fatalf("Do = %v after %d requests, want the 503 after 1", err, calls.Load())
	}
}

func TestClient_SetupDoesNotRetryAClientError(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"error":"invalid","field":"level"}`, http.StatusBadRequest)
	}))
	defer srv.Close()
	err := NewClient(srv.URL).Setup(context.Background(), http.MethodPut, "/v1/global", map[string]any{"level": "x"})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest || calls.Load() != 1 {
		t.Fatalf("Setup = %v after %d requests, want the 400 after 1", err, calls.Load())
	}
}
