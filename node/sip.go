package node

import (
	"context"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/actors"
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
	return nil
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
