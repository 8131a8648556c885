package peers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ucgrid/ucgrid/cluster/peerlink"
	"github.com/ucgrid/ucgrid/persistence"
)

// Node-to-node requests travel under /v1/internal/, authenticated with the
// cluster secret (docs/cluster.md, "Forwarded writes"): with TLS over the
// mutual-TLS link on the Raft address (Config.Link), without it over
// the nodes' public HTTP servers:
//
//	POST /v1/internal/apply   body: an encoded dirpb.Command → applyReply
//	GET  /v1/internal/node    → nodeReport (Raft state, applied index, grains)
//
// The header clusterAuthHeader carries "<unix seconds>:<hex HMAC-SHA256>"
// of method, path, time and the body's SHA-256 under the secret, so the
// secret never travels and a captured request is only good for
// authSkew.
const (
	clusterAuthHeader = "X-Ucgrid-Cluster-Auth"
	// ApplyPath and NodePath are the routes of forwarded writes and of a
	// node's own report.
	ApplyPath = "/v1/internal/apply"
	NodePath  = "/v1/internal/node"
	// authSkew is how far a request's time may be from ours.
	authSkew = 30 * time.Second
	// maxForwardBody bounds a forwarded command (the API caps bodies at
	// 1 MiB; the encoded command is smaller).
	maxForwardBody = 4 << 20
)

// errNoSecret explains why a node refuses node-to-node requests.
var errNoSecret = errors.New("peers: no cluster secret configured (--cluster-secret): node-to-node requests are refused")

// signer signs and checks node-to-node requests with the cluster secret.
type signer struct {
	secret []byte
	now    func() time.Time
}

func (s signer) mac(method, path string, ts int64, body []byte) string {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "%s\n%s\n%d\n%x", method, path, ts, sum)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign signs r, whose body is body, as a node holding the cluster secret
// does: for tests and tools that speak to a node's internal routes.
func Sign(r *http.Request, body []byte, secret string) {
	signer{secret: []byte(secret), now: time.Now}.sign(r, body)
}

func (s signer) sign(r *http.Request, body []byte) {
	ts := s.now().Unix()
	r.Header.Set(clusterAuthHeader, strconv.FormatInt(ts, 10)+":"+s.mac(r.Method, r.URL.Path, ts, body))
}

func (s signer) verify(r *http.Request, body []byte) error {
	if len(s.secret) == 0 {
		return errNoSecret
	}
	tsStr, sig, ok := strings.Cut(r.Header.Get(clusterAuthHeader), ":")
	ts, err := strconv.ParseInt(tsStr, 10, 64)
	if !ok || err != nil {
		return errors.New("peers: missing or malformed " + clusterAuthHeader)
	}
	if d := s.now().Sub(time.Unix(ts, 0)); d > authSkew || d < -authSkew {
		return fmt.Errorf("peers: cluster request time is %v off (clocks out of sync?)", d.Round(time.Second))
	}
	if !hmac.Equal([]byte(sig), []byte(s.mac(r.Method, r.URL.Path, ts, body))) {
		return errors.New("peers: cluster request signature does not match: the nodes' cluster secrets differ")
	}
	return nil
}

// applyReply is the answer of ApplyPath.
type applyReply struct {
	Index uint64 `json:"index"`
	// Outcome: "applied", "rejected" (Code, Message: the FSM's
	// CommandError), "not_leader", "failed" (Message; outcome unknown).
	Outcome string           `json:"outcome"`
	Code    persistence.Code `json:"code,omitempty"`
	Message string           `json:"message,omitempty"`
	Leader  string           `json:"leader,omitempty"`
}

// nodeReport is the answer of NodePath: what only the node itself
// knows, for GET /v1/cluster.
type nodeReport struct {
	Node         string         `json:"node"`
	RaftState    string         `json:"raft_state"`
	AppliedIndex uint64         `json:"applied_index"`
	CommitIndex  uint64         `json:"commit_index"`
	Grains       map[string]int `json:"grains"`
	// ActorIDs are the actor systems in the node's actor topology: a node
	// missing from its peers' lists was blocked by them (watchdog.go).
	ActorIDs []string `json:"actor_ids,omitempty"`
}

// internalHandler serves /v1/internal/ for the other nodes.
type internalHandler struct{ o *Ops }

func (h internalHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForwardBody+1))
	if err != nil || len(body) > maxForwardBody {
		http.Error(w, "peers: cannot read the request body", http.StatusBadRequest)
		return
	}
	if err := h.o.sign.verify(r, body); err != nil {
		h.o.log.Warn("refused a node-to-node request", "path", r.URL.Path, "from", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == ApplyPath:
		writeInternalJSON(w, h.apply(r.Context(), body))
	case r.Method == http.MethodGet && r.URL.Path == NodePath:
		writeInternalJSON(w, h.o.localReport())
	default:
		http.Error(w, "peers: no such internal route", http.StatusNotFound)
	}
}

func (h internalHandler) apply(ctx context.Context, body []byte) applyReply {
	index, err := h.o.dir.ApplyForwarded(ctx, body)
	var ce *persistence.CommandError
	switch {
	case err == nil:
		return applyReply{Index: index, Outcome: "applied"}
	case errors.As(err, &ce):
		return applyReply{Index: index, Outcome: "rejected", Code: ce.Code, Message: ce.Msg}
	case errors.Is(err, persistence.ErrNotLeader):
		leader, _ := h.o.dir.Leader()
		return applyReply{Outcome: "not_leader", Message: err.Error(), Leader: leader}
	default:
		return applyReply{Outcome: "failed", Message: err.Error()}
	}
}

func writeInternalJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return // the peer hung up; it sees a broken answer and treats the outcome as unknown
	}
}

// internalClient sends signed requests to other nodes: over mutual TLS
// to their Raft address when the cluster has TLS (link), else to their
// HTTP address, over HTTPS when the nodes serve it (--http-tls-cert).
type internalClient struct {
	sign   signer
	link   *peerlink.Link
	client *http.Client
	// scheme is https:// over the link or HTTPS, else http://.
	scheme string
}

// dialTimeout: a leader that does not accept a connection within a
// second is treated as unreachable (nothing was sent, safe to retry).
const dialTimeout = time.Second

// nodeAt, when not nil, names the node gossip announces at a Raft
// address ("" = unknown): with TLS the peer's certificate must name it.
// Without the link, peerTLS (Config.PeerTLS; nil = plain HTTP)
// is how the nodes' HTTPS certificates are checked.
func newInternalClient(sign signer, link *peerlink.Link, nodeAt func(raftAddr string) string, peerTLS *tls.Config) *internalClient {
	t := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: dialTimeout}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     time.Minute,
		TLSClientConfig:     peerTLS,
	}
	scheme := "http://"
	if link != nil || peerTLS != nil {
		scheme = "https://"
	}
	if link != nil {
		t.DialContext = nil
		t.DialTLSContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			node := ""
			if nodeAt != nil {
				node = nodeAt(addr)
			}
			return link.DialInternal(ctx, addr, node)
		}
	}
	return &internalClient{sign: sign, link: link, scheme: scheme, client: &http.Client{Transport: t}}
}

// target is the address a peer serves node-to-node requests on: its Raft
// address with TLS (the link), its HTTP address without.
func (c *internalClient) target(httpAddr, raftAddr string) string {
	if c.link != nil {
		return raftAddr
	}
	return httpAddr
}

// do sends method path with body to the node at addr (see target) and
// decodes the JSON answer into out. A dial failure wraps errUnsent.
func (c *internalClient) do(ctx context.Context, method, addr, path string, body []byte, out any) error {
	httpAddr := addr
	req, err := http.NewRequestWithContext(ctx, method, c.scheme+httpAddr+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("peers: request to %s: %w", httpAddr, err)
	}
	c.sign.sign(req, body)
	resp, err := c.client.Do(req)
	if err != nil {
		if isDialError(err) {
			return fmt.Errorf("%w: %s: %w", errUnsent, httpAddr, err)
		}
		return fmt.Errorf("peers: request to %s: %w", httpAddr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024)) // best effort: only for the message
		if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound {
			// Refused before anything was done.
			return fmt.Errorf("%w: node %s answered %d: %s", errUnsent, httpAddr, resp.StatusCode, strings.TrimSpace(string(msg)))
		}
		return fmt.Errorf("peers: node %s answered %d: %s", httpAddr, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("peers: answer of %s: %w", httpAddr, err)
	}
	return nil
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// errUnsent marks a request that certainly did nothing on the peer.
var errUnsent = errors.New("peers: request not delivered")
