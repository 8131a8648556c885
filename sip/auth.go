package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Digest authentication (RFC 3261 §22, RFC 7616/8760 for SHA-256).
//
// A nonce is self-certifying: hex(issued-at ‖ random ‖ HMAC(key, both)),
// so any nonce this server issued is recognised without storing it, and
// one older than NonceTTL is answered with stale=true. Replays are refused
// by remembering, per nonce in use, the highest nonce-count (qop=auth) or
// that it was used (no qop: such a nonce is good for one request).

// nonces issues and checks digest nonces.
//
// The uses are kept in two generations, each a map of the nonces claimed
// during one NonceTTL: a claim goes into cur, a look-up reads both, and
// once cur is a NonceTTL old it becomes prev and the old prev is dropped
// whole. A nonce claimed at c was issued before c, so it is stale by
// c+NonceTTL, and its use is kept at least that long (until the second
// rotation after c). No claim walks the map: the cost per REGISTER stays
// flat however many nonces are in use (a sweep over every use, once more
// than 4096 were in use, cost a walk over the last NonceTTL's REGISTERs
// on each claim).
type nonces struct {
	key [32]byte
	ttl time.Duration

	mu        sync.Mutex
	cur, prev map[string]int // nonce → highest nonce-count used (0: used without qop)
	curSince  time.Time      // when cur was started
}

func newNonces(ttl time.Duration) *nonces {
	n := &nonces{ttl: ttl, cur: map[string]int{}, prev: map[string]int{}}
	_, _ = rand.Read(n.key[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return n
}

// usedNC is the highest nonce-count nonce was used with; n.mu is held.
func (n *nonces) usedNC(nonce string) (int, bool) {
	nc, ok := n.cur[nonce]
	if p, pok := n.prev[nonce]; pok && (!ok || p > nc) {
		return p, true
	}
	return nc, ok
}

// rotate starts a new generation once cur is a NonceTTL old; n.mu is held.
func (n *nonces) rotate(now time.Time) {
	if n.curSince.IsZero() {
		n.curSince = now
	}
	if now.Sub(n.curSince) < n.ttl {
		return
	}
	n.prev, n.cur, n.curSince = n.cur, make(map[string]int, len(n.cur)), now
}

const nonceRaw = 8 + 8 + 16

func (n *nonces) issue(now time.Time) string {
	var b [nonceRaw]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:16]) // never fails
	copy(b[16:], n.mac(b[:16]))
	return hex.EncodeToString(b[:])
}

func (n *nonces) mac(b []byte) []byte {
	h := hmac.New(sha256.New, n.key[:])
	h.Write(b)
	return h.Sum(nil)[:16]
}

// nonceVerdict is what check says of a nonce.
type nonceVerdict uint8

const (
	nonceFresh  nonceVerdict = iota
	nonceStale               // ours but expired or already used: challenge again, stale=true
	nonceForged              // not issued by this server
)

// check tells whether nonce is fresh and nc (0 without qop) was not used
// with it before. It does not record the use: claim does, atomically
// with its own check, once the credentials are verified.
func (n *nonces) check(nonce string, nc int, now time.Time) nonceVerdict {
	issued, ok := n.issuedAt(nonce)
	if !ok {
		return nonceForged
	}
	if now.Sub(issued) > n.ttl || issued.After(now.Add(time.Minute)) {
		return nonceStale
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if used, seen := n.usedNC(nonce); seen && (nc == 0 || nc <= used) {
		return nonceStale
	}
	return nonceFresh
}

// claim records that nonce authenticated a request with nc, in the same
// locked step as checking that nc was not used with it before: of two
// requests racing with one nonce and nc, exactly one claims it. false
// means the nonce was used (a replay, answered as stale).
func (n *nonces) claim(nonce string, nc int, now time.Time) bool {
	if _, ok := n.issuedAt(nonce); !ok {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rotate(now)
	if used, seen := n.usedNC(nonce); seen && (nc == 0 || nc <= used) {
		return false
	}
	n.cur[nonce] = nc
	return true
}

func (n *nonces) issuedAt(nonce string) (time.Time, bool) {
	b, err := hex.DecodeString(nonce)
	if err != nil || len(b) != nonceRaw || !hmac.Equal(b[16:], n.mac(b[:16])) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))), true
}

// authHeaders are the header names of one kind of digest exchange.
type authHeaders struct {
	challenge, credentials string
	status                 int
	reason                 string
}

var (
	// wwwAuth is the exchange of the registrar and the subscription
	// server, which answer the request themselves (401).
	wwwAuth = authHeaders{"WWW-Authenticate", "Authorization", sip.StatusUnauthorized, "Unauthorized"}
	// proxyAuth is the proxy's exchange for INVITE (407).
	proxyAuth = authHeaders{"Proxy-Authenticate", "Proxy-Authorization", sip.StatusProxyAuthRequired, "Proxy Authentication Required"}
)

// errAuthAnswered means authenticate has answered the request itself.
var errAuthAnswered = errors.New("sip: answered by authentication")

// authenticate checks req's digest credentials and returns the line they
// belong to. When they are missing, stale or wrong it answers req on tx
// (challenge, 403, or 503 for a throttled source) and returns
// errAuthAnswered. Unknown line and wrong password get the same answer;
// right credentials of a line whose owner is disabled get 403 "Account
// Disabled" (nothing is registered, called or subscribed for them).
func (s *Server) authenticate(req *sip.Request, tx sip.ServerTransaction, h authHeaders) (*dirpb.Line, error) {
	now := time.Now()
	src := sourceIP(req)
	if wait := s.byAddr.Wait(src, now); wait > 0 {
		s.refuseThrottled(req, tx, wait, "throttled")
		return nil, errAuthAnswered
	}
	cred := s.credentials(req, h)
	if cred == nil {
		s.challenge(req, tx, h, false)
		return nil, errAuthAnswered
	}
	if wait, reason, blocked := s.lineGuard.blocked(cred.Username, src, now); blocked {
		s.refuseThrottled(req, tx, wait, reason)
		return nil, errAuthAnswered
	}
	switch s.nonces.check(cred.Nonce, nonceCount(cred), now) {
	case nonceStale:
		s.m.authFailures.WithLabelValues("stale").Inc()
		s.challenge(req, tx, h, true)
		return nil, errAuthAnswered
	case nonceForged:
		s.m.authFailures.WithLabelValues("stale").Inc()
		s.challenge(req, tx, h, false)
		return nil, errAuthAnswered
	}
	line, ok := s.verify(req, cred)
	if !ok {
		s.m.authFailures.WithLabelValues("credentials").Inc()
		s.byAddr.Fail(src, now)
		s.lineGuard.fail(cred.Username, src, now)
		s.respond(tx, req, sip.StatusForbidden, "Forbidden")
		return nil, errAuthAnswered
	}
	if !s.nonces.claim(cred.Nonce, nonceCount(cred), now) {
		s.m.authFailures.WithLabelValues("replay").Inc()
		s.challenge(req, tx, h, true)
		return nil, errAuthAnswered
	}
	if !s.inService(line) {
		// Only after the credentials are right, so only the holder of
		// the line's password learns that its owner is disabled.
		s.m.authFailures.WithLabelValues("disabled").Inc()
		s.respond(tx, req, sip.StatusForbidden, "Account Disabled")
		return nil, errAuthAnswered
	}
	s.lineGuard.succeeded(cred.Username, src, now)
	return line, nil
}

// refuseThrottled answers a throttled request: 503 with Retry-After.
func (s *Server) refuseThrottled(req *sip.Request, tx sip.ServerTransaction, wait time.Duration, reason string) {
	s.m.authFailures.WithLabelValues(reason).Inc()
	res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Too Many Failed Attempts", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(int(wait.Seconds())+1)))
	s.send(tx, res)
}

// credentials returns the request's digest credentials for our realm,
// nil when there are none.
func (s *Server) credentials(req *sip.Request, h authHeaders) *digest.Credentials {
	for _, hdr := range req.GetHeaders(h.credentials) {
		cred, err := digest.ParseCredentials(hdr.Value())
		if err == nil && cred.Realm == s.cfg.Domain {
			return cred
		}
	}
	return nil
}

func nonceCount(c *digest.Credentials) int {
	if c.QOP == "" {
		return 0
	}
	return c.Nc
}

// verify checks the digest response against the line's HA1 for the
// algorithm the client chose. Every failure looks the same to the client.
func (s *Server) verify(req *sip.Request, cred *digest.Credentials) (*dirpb.Line, bool) {
	if !s.digestURIOK(cred.URI, req.Recipient) {
		return nil, false
	}
	line, err := s.cfg.Store.Line(cred.Username)
	if err != nil {
		if !errors.Is(err, persistence.ErrNotFound) {
			s.log.Warn("sip: read line", "err", err)
		}
		line = &dirpb.Line{} // compare against nothing: same work, same answer
	}
	var ha1 string
	switch strings.ToUpper(cred.Algorithm) {
	case "", "MD5":
		ha1 = line.GetHa1Md5()
	case "SHA-256":
		ha1 = line.GetHa1Sha256()
	default:
		return nil, false
	}
	chal := &digest.Challenge{Realm: s.cfg.Domain, Nonce: cred.Nonce, Algorithm: cred.Algorithm, Opaque: cred.Opaque}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	if cred.QOP == "auth-int" {
		return nil, false // not offered
	}
	// Computed for unknown lines too, so both cost the same.
	want, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: cred.URI,
		Username: cred.Username, A1: ha1, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil || ha1 == "" || line.GetRealm() != s.cfg.Domain {
		return nil, false
	}
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(cred.Response)), []byte(want.Response)) != 1 {
		return nil, false
	}
	return line, true
}

// digestURIOK accepts the digest uri when it is the Request-URI, or
// names this server or its domain: SIPp and some phones digest the
// server's address rather than the Request-URI they send. The response
// is computed over the uri the client used.
func (s *Server) digestURIOK(credURI string, recipient sip.Uri) bool {
	if sameURI(credURI, recipient) {
		return true
	}
	var u sip.Uri
	if err := sip.ParseUri(credURI, &u); err != nil {
		return false
	}
	return s.ourURI(u) || strings.EqualFold(u.Host, s.cfg.Domain)
}

// sameURI compares the digest uri with the Request-URI the client sent:
// user, host and port (parameters are not compared; phones differ).
func sameURI(credURI string, recipient sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(credURI, &u); err != nil {
		return false
	}
	port := func(p int) int {
		if p == 0 {
			return 5060
		}
		return p
	}
	return u.User == recipient.User && strings.EqualFold(u.Host, recipient.Host) && port(u.Port) == port(recipient.Port)
}

// challenge answers req with a digest challenge for each algorithm: MD5
// first (what SIPp and most desk phones take), then SHA-256 (RFC 8760);
// MD5 alone for agents that fail on an algorithm they do not know.
func (s *Server) challenge(req *sip.Request, tx sip.ServerTransaction, h authHeaders, stale bool) {
	res := sip.NewResponseFromRequest(req, h.status, h.reason, nil)
	nonce := s.nonces.issue(time.Now())
	algs := []string{"MD5", "SHA-256"}
	if md5Only(req) {
		algs = algs[:1]
	}
	for _, alg := range algs {
		c := digest.Challenge{Realm: s.cfg.Domain, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		res.AppendHeader(sip.NewHeader(h.challenge, c.String()))
	}
	s.send(tx, res)
}

// md5OnlyAgents are User-Agent prefixes of phones that give up on a
// challenge naming an algorithm they do not know instead of ignoring it
// (RFC 8760 §2.4 says to ignore it): libre before 2.0, so baresip 1.x
// ("Register: Function not implemented"). They are challenged with MD5
// only.
var md5OnlyAgents = []string{"baresip v0.", "baresip v1."}

func md5Only(req *sip.Request) bool {
	ua := req.GetHeader("User-Agent")
	if ua == nil {
		return false
	}
	for _, p := range md5OnlyAgents {
		if strings.HasPrefix(ua.Value(), p) {
			return true
		}
	}
	return false
}

// sourceIP is the IP address a request came from.
func sourceIP(req *sip.Request) string {
	host, _, err := net.SplitHostPort(req.Source())
	if err != nil {
		return req.Source()
	}
	return host
}

// hostOf is the host part of a host:port address (the address itself
// when it has no port).
func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
