package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/internal/testdir"
	"github.com/ucgrid/ucgrid/internal/testlog"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// cheapParams make argon2id fast in tests; production uses password.Default.
var cheapParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// testPassword is the password of every seeded user.
const testPassword = "correct horse"

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func testLogger(t testing.TB) *slog.Logger { return testlog.New(t, slog.LevelWarn) }

// env is one node's directory and /v1 handler behind a real HTTP server
// on 127.0.0.1, with a client that validates every response against
// openapi.yaml.
type env struct {
	t      testing.TB
	node   *persistence.Node
	h      *Handler
	srv    *httptest.Server
	client *http.Client
	clock  *fakeClock
}

// openNode opens a single-node directory in a temp dir and waits for
// leadership.
func openNode(t testing.TB) *persistence.Node {
	t.Helper()
	return testdir.Open(t, persistence.Config{NodeID: "n1", ClusterID: "api-test", Logger: testLogger(t)})
}

func newEnv(t testing.TB, tweak ...func(*HandlerConfig)) *env {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	// The directory reads with the same clock: what ends (until) ends for
	// the handler and the store alike.
	node := testdir.Open(t, persistence.Config{NodeID: "n1", ClusterID: "api-test", Logger: testLogger(t), Now: clock.Now})
	e := &env{t: t, node: node, clock: clock}
	cfg := HandlerConfig{Directory: e.node, Passwords: cheapParams, Now: e.clock.Now, Logger: testLogger(t)}
	for _, f := range tweak {
		f(&cfg)
	}
	var err error
	if e.h, err = NewHandler(cfg); err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	e.client = &http.Client{Transport: &validatingTransport{t: t, base: http.DefaultTransport}, Timeout: 30 * time.Second}
	t.Cleanup(e.client.CloseIdleConnections)
	e.seedUser("admin", "system_owner")
	return e
}

// seedUser writes a user straight to the directory (cheap hash of
// testPassword).
func (e *env) seedUser(id, systemRole string) {
	e.t.Helper()
	hash, err := password.Hash(testPassword, cheapParams)
	if err != nil {
		e.t.Fatal(err)
	}
	e.applyCmd(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{
		Id: id, DisplayName: strings.ToUpper(id[:1]) + id[1:], PasswordHash: hash, SystemRole: systemRole,
	}}}})
}

func (e *env) applyCmd(cmd *dirpb.Command) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.node.Apply(ctx, cmd); err != nil {
		e.t.Fatalf("apply %v: %v", cmd, err)
	}
}

// cred sets a request's credentials.
type cred func(*http.Request)

func basic(user, pw string) cred { return func(r *http.Request) { r.SetBasicAuth(user, pw) } }

func as(user string) cred { return basic(user, testPassword) }

func bearer(tok string) cred {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

var anonymous cred = func(*http.Request) {}

// resp is an answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// json decodes the body into v.
func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errCode returns the error code of an error answer.
func (r resp) errCode() string {
	var b errorBody
	if json.Unmarshal(r.body, &b) != nil {
		return ""
	}
	return b.Error.Code
}

// do sends a request; body is JSON-encoded unless it is a string or
// []byte, sent as is.
func (e *env) do(c cred, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c(req)
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: raw}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, c cred, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	r := e.do(c, method, path, body, headers...)
	if r.status != want {
		e.t.Fatalf("%s %s: got %s, want %d", method, path, r, want)
	}
	return r
}

// ---- OpenAPI validation of every response ----

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
	// validated counts the responses checked against the document.
	validated atomic.Int64
)

func loadSpec() (*openapi3.T, routers.Router, error) {
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromData(OpenAPI)
		if specErr != nil {
			return
		}
		if specErr = specDoc.Validate(loader.Context); specErr != nil {
			return
		}
		specRouter, specErr = legacy.NewRouter(specDoc)
	})
	return specDoc, specRouter, specErr
}

// validatingTransport checks each response against openapi.yaml: the
// status must be documented for the route, the body must match its
// schema. Answers for paths outside the document must be JSON errors.
type validatingTransport struct {
	t    testing.TB
	base http.RoundTripper
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	res, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if verr := validateResponse(req, res, body); verr != nil {
		v.t.Errorf("OpenAPI: %s %s → %d %s: %v", req.Method, req.URL.RequestURI(), res.StatusCode, body, verr)
	}
	validated.Add(1)
	return res, nil
}

func validateResponse(req *http.Request, res *http.Response, body []byte) error {
	doc, router, err := loadSpec()
	if err != nil {
		return fmt.Errorf("load openapi.yaml: %w", err)
	}
	if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
		return fmt.Errorf("server error %d", res.StatusCode)
	}
	// The router matches on the path only: strip the test server's host.
	probe := req.Clone(req.Context())
	probe.URL.Scheme, probe.URL.Host, probe.Host = "", "", ""
	route, params, err := router.FindRoute(probe)
	if err != nil {
		return validateErrorOnly(doc, res, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// validateErrorOnly checks an answer to a path the document does not
// have: it must be a 404 or 405 in the Error shape.
func validateErrorOnly(doc *openapi3.T, res *http.Response, body []byte) error {
	if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
		return fmt.Errorf("undocumented route answered %d", res.StatusCode)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	return doc.Components.Schemas["Error"].Value.VisitJSON(v)
}
