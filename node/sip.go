package node

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/sip"
)

// defaultSIPDomain is the SIP domain when Config.SIPDomain is empty; it
// matches the API's default digest realm, so line passwords set through
// the API authenticate.
const defaultSIPDomain = "ucgrid.local"

// startSIP starts the SIP server on Config.SIPAddr (none when empty):
// registrar, proxy and subscriptions on this node's grains and hub.
func (s *Node) startSIP(ctx context.Context, reg prometheus.Registerer) error {
	if s.cfg.SIPAddr == "" {
		return nil
	}
	domain := s.cfg.SIPDomain
	if domain == "" {
		domain = defaultSIPDomain
	}
	cfg := s.cfg.SIP
	cfg.Addr, cfg.Domain, cfg.Store, cfg.Backend = s.cfg.SIPAddr, domain, s.dir.Store(), actors.Client{To: grainClient{s}, Write: s.dir.Apply}
	cfg.Hub, cfg.Logger, cfg.Registerer = s.layer().hub, s.cfg.Logger.With("component", "sip"), reg
	cfg.AllowWideTrunks = cfg.AllowWideTrunks || s.cfg.AllowWideTrunks
	if cfg.TrunkRegistrar == nil {
		cfg.TrunkRegistrar = s.keepsTrunkRegistrations
	}
	// Flow tokens (NATed phones' Path) made by this node stay valid
	// across its restarts; without a secret each start picks a key.
	cfg.FlowKey = secretKey(s.cfg.ClusterSecret, "ucgrid sip flow token key v1")
	// Other nodes reach a wildcard-bound SIP socket where they reach Raft.
	if host, _, err := net.SplitHostPort(s.cfg.RaftAddr); err == nil && cfg.PathHost == "" {
		cfg.PathHost = host
	}
	srv, err := sip.Start(ctx, cfg)
	if err != nil {
		return err
	}
	s.sip = srv
	s.trunkStatus.srv.Store(srv)
	return nil
}

// keepsTrunkRegistrations says whether this node keeps the trunks'
// registrations at their upstreams: the Raft leader does. One node only,
// as an upstream routes its calls in to the last binding (or to every
// binding, ringing the call in twice); the leader, as the cluster agrees
// on it and a new one is elected within seconds of a crash (the new
// leader registers within a second, docs/sip.md). It takes over the
// binding the old one made: same user, our Contact.
func (s *Node) keepsTrunkRegistrations() (bool, string) {
	if s.dir.IsLeader() {
		return true, ""
	}
	id, _ := s.dir.Leader()
	return false, id
}

// trunkStatus answers GET /v1/trunks/{id}'s registration from the SIP
// server, which starts after the API is mounted.
type trunkStatus struct {
	srv atomic.Pointer[sip.Server]
}

// TrunkRegistration implements api.TrunkStatusService.
func (t *trunkStatus) TrunkRegistration(id string) (api.TrunkRegistration, bool) {
	srv := t.srv.Load()
	if srv == nil {
		return api.TrunkRegistration{}, false
	}
	st, ok := srv.TrunkRegistration(id)
	if !ok {
		return api.TrunkRegistration{}, false
	}
	out := api.TrunkRegistration{State: st.State, Node: st.Node, Error: st.Error}
	if !st.Expires.IsZero() {
		out.Expires = st.Expires.UTC().Format(time.RFC3339)
	}
	return out, true
}

// stopSIP ends the calls and subscriptions this node still holds after
// the drain (leave.go) and closes its SIP sockets; it runs before the
// actor layer stops, so the lines hear of the calls' end.
func (s *Node) stopSIP(ctx context.Context) error {
	if s.sip == nil {
		return nil
	}
	return s.sip.Shutdown(ctx)
}

// SIPTLSAddr is the address SIP over TLS listens on, "" when off.
func (s *Node) SIPTLSAddr() string {
	if s.sip == nil {
		return ""
	}
	return s.sip.TLSAddr()
}

// SIPAddr is the address the SIP server listens on (UDP and TCP), ""
// when SIP is off.
func (s *Node) SIPAddr() string {
	if s.sip == nil {
		return ""
	}
	return s.sip.Addr()
}
