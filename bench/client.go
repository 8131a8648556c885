package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// transport is shared by every client of a run: one keep-alive pool,
// large enough for the harness's concurrency.
var transport = &http.Transport{
	MaxIdleConns: 4096, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
}

// Client calls a node's HTTP API with a bearer token (tokens are valid
// on the node that issued them only).
type Client struct {
	Base  string
	token string
	hc    *http.Client
}

// NewClient returns a client of the node at base (http://host:port).
func NewClient(base string) *Client {
	return &Client{Base: base, hc: &http.Client{Transport: transport}}
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Method, Path string
	Code         int
	Body         string
	retryAfter   time.Duration // from Retry-After; 1 s when absent
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("bench: %s %s: %d %s", e.Method, e.Path, e.Code, e.Body)
}

// SignIn takes a token with the user's password (one argon2
// verification on the node, instead of one per request).
func (c *Client) SignIn(ctx context.Context, user, pw string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/v1/tokens", nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pw)
	var out struct {
		Token string `json:"token"`
	}
	if err := c.send(req, "/v1/tokens", &out); err != nil {
		return err
	}
	c.token = out.Token
	return nil
}

// Token is the client's bearer token.
func (c *Client) Token() string { return c.token }

// Do sends a JSON request; out, when not nil, receives the decoded answer.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("bench: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.send(req, path, out)
}

// Setup is Do for the harness's own set-up writes (directory, grants,
// trunks), which are idempotent PUTs: an answer 503 — the directory
// between two Raft leaders, a commit whose outcome is unknown, a node not
// ready yet — is retried after its Retry-After, for up to setupPatience.
// Measured requests use Do, so that every refusal counts.
func (c *Client) Setup(ctx context.Context, method, path string, body any) error {
	deadline := time.Now().Add(setupPatience)
	for {
		err := c.Do(ctx, method, path, body, nil)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(se.retryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// setupPatience bounds Setup's retries: longer than a Raft election.
const setupPatience = 15 * time.Second

func (c *Client) send(req *http.Request, path string, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512)) // the status alone is the error; the body helps
		wait := time.Second
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 && secs <= 30 {
			wait = time.Duration(secs) * time.Second
		}
		return &StatusError{Method: req.Method, Path: path, Code: resp.StatusCode, Body: string(bytes.TrimSpace(b)), retryAfter: wait}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
