package peers

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSigner_VerifiesOnlyFreshRequestsSignedWithTheSameSecret(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	good := signer{secret: []byte("secret-one-0123456789"), now: clock}
	body := []byte("command")
	signed := func(s signer, path string, b []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b))
		s.sign(r, b)
		return r
	}
	tests := []struct {
		name    string
		req     *http.Request
		body    []byte
		checker signer
		want    string // "" = accepted
	}{
		{"same secret", signed(good, ApplyPath, body), body, good, ""},
		{"other secret", signed(signer{secret: []byte("secret-two-0123456789"), now: clock}, ApplyPath, body), body, good, "secrets differ"},
		{"body changed", signed(good, ApplyPath, body), []byte("other"), good, "secrets differ"},
		{"path changed", func() *http.Request { r := signed(good, ApplyPath, body); r.URL.Path = NodePath; return r }(), body, good, "secrets differ"},
		{"too old", signed(signer{secret: good.secret, now: func() time.Time { return now.Add(-time.Minute) }}, ApplyPath, body), body, good, "off"},
		{"no header", httptest.NewRequest(http.MethodPost, ApplyPath, nil), body, good, "missing"},
		{"no secret here", signed(good, ApplyPath, body), body, signer{now: clock}, "no cluster secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.checker.verify(tc.req, tc.body)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestAdvertisedHTTP(t *testing.T) {
	for _, tc := range []struct{ http, gossip, want string }{
		{"127.0.0.1:8080", "127.0.0.1:7946", "127.0.0.1:8080"},
		{"0.0.0.0:8080", "10.0.0.5:7946", "10.0.0.5:8080"},
		{":8080", "10.0.0.5:7946", "10.0.0.5:8080"},
	} {
		if got := advertisedHTTP(tc.http, tc.gossip); got != tc.want {
			t.Errorf("advertisedHTTP(%q, %q) = %q, want %q", tc.http, tc.gossip, got, tc.want)
		}
	}
}
