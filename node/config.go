package node

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/cluster/pki"
	"github.com/ucgrid/ucgrid/ldapsync"
	"github.com/ucgrid/ucgrid/sip"
)

// Config configures a node. Zero fields take the defaults documented on
// each; Start fills them in (WithDefaults) and then calls Validate.
// cmd/ucgrid binds the flags of ucgrid serve to it.
type Config struct {
	// DataDir holds the node's store and Raft snapshots (required).
	DataDir string
	// HTTPAddr is the HTTP listen address, host:port; port 0 picks a free
	// one (required).
	HTTPAddr string
	// HTTPTLSCert and HTTPTLSKey are the PEM files of the HTTPS
	// certificate and key; both empty (the default) = plain HTTP
	// (api.Config.TLSCert). ReloadCertificates reads them again.
	HTTPTLSCert, HTTPTLSKey string
	// RaftAddr is the Raft listen address, host:port; port 0 picks a free
	// one (required).
	RaftAddr string
	// NodeID names the node (at most 256 bytes of UTF-8, no NUL). Default:
	// the one TLS's certificate names, else the stored one, or a new one.
	NodeID string
	// ClusterID, when set, refuses a data directory of another cluster.
	// Default: none (the stored one, or a new one on a new cluster).
	ClusterID string
	// AdminPassword is the system owner's password on first start. Default
	// "": one is generated and printed to Out.
	AdminPassword string
	// PasswordParams are the argon2id costs. Default password.Default.
	PasswordParams password.Params
	// GossipAddr is the memberlist address (UDP and TCP) other nodes join,
	// host:port. Default "127.0.0.1:7946".
	GossipAddr string
	// Join are gossip addresses (host:port) of nodes of the cluster to
	// join. Default none: a cluster of one.
	Join []string
	// ActorAddr is the protoactor-go remote address, host:port; port 0
	// picks a free one (it is published through gossip). Default
	// "127.0.0.1:0".
	ActorAddr string
	// SIPDomain is the SIP domain, the digest realm of line passwords.
	// Default "": the API's default ("ucgrid.local").
	SIPDomain string
	// SIPAddr is the SIP listen address (UDP and TCP), host:port. Default
	// "": no SIP server (ucgrid serve defaults to 127.0.0.1:5060). See
	// sip.go.
	SIPAddr string
	// SIP carries the SIP server's TLS and connection settings (TLSAddr,
	// certificate files, timeouts, per-source cap; sip.Config documents
	// them and their defaults). Its address, domain, directory, backend,
	// hub, logger and metrics are set from this node's.
	SIP sip.Config
	// ReadyTimeout bounds the wait for Raft leadership at start. Default
	// 30s: a single node is leader in about a second, a joining one waits
	// for its cluster.
	ReadyTimeout time.Duration
	// ClusterSecret authenticates node-to-node requests (forwarded writes,
	// status); every node of a cluster needs the same. Default "": none,
	// this node neither forwards writes nor accepts forwarded ones.
	ClusterSecret string
	// RaftVoters is how many Raft voters the leader keeps (the others are
	// non-voters). Default 3.
	RaftVoters int
	// RaftDeadGrace is how long a failed server keeps its Raft place
	// before the leader removes it. Default 30s.
	RaftDeadGrace time.Duration
	// TrustedProxies and AllowWideTrunks are passed to the API
	// (api.HandlerConfig): the reverse proxies whose X-Forwarded-For names
	// the client, and whether trunks wider than /16 (IPv4) or /48 (IPv6)
	// are accepted. AllowWideTrunks also goes to SIP
	// (sip.Config.AllowWideTrunks): whether such trunks are honoured.
	// Defaults: none, false.
	TrustedProxies  []netip.Prefix
	AllowWideTrunks bool
	// LDAP is the LDAP / Active Directory mapping file, loaded
	// (ldapsync.Load). nil (the default): no directory sync. With it the
	// node serves POST /v1/ldap/sync and, while it is the Raft leader,
	// syncs every LDAP.Watch.
	LDAP *ldapsync.Config
	// TLS, when set, makes every link between nodes mutual TLS with the
	// cluster's certificates: Raft and the node-to-node HTTP routes on the
	// Raft address (split by ALPN, cluster/peerlink), and actor remoting.
	// Its certificate must name this node. Default nil: plain links,
	// allowed only on loopback addresses unless InsecureCluster.
	TLS *pki.Bundle
	// InsecureCluster allows Raft, actor and gossip addresses other hosts
	// can reach without TLS (a network the operator trusts). Default false:
	// Start refuses such binds with ErrInsecureCluster.
	InsecureCluster bool
	// Demo fills the directory with the demo company (package demo) once
	// the node is ready, and prints to Out how to sign in as three of its
	// people. Start refuses it with ErrDirectoryNotEmpty on a directory
	// that holds more than the system owner, and Validate with Join (a
	// joining node gets the directory from its cluster). Default false.
	Demo bool
	// Site names where the node runs (a data centre or a branch office):
	// letters, digits and "-", at most 32. It travels in the node's gossip
	// metadata (membership.Meta.Site). Default "": the cluster's one
	// site (docs/multisite.md).
	Site string
	// Out receives what a person must read once (generated credentials).
	// Default: discard.
	Out io.Writer
	// Logger receives the node's logs and those of its parts. Default:
	// discard.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its
// documented default.
func (c Config) WithDefaults() Config {
	if c.NodeID == "" && c.TLS != nil {
		// The certificate names the node: a fresh node takes that name
		// rather than a random one its certificate would not match.
		c.NodeID = c.TLS.Node()
	}
	if c.PasswordParams == (password.Params{}) {
		c.PasswordParams = password.Default
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 30 * time.Second
	}
	if c.RaftVoters == 0 {
		c.RaftVoters = 3
	}
	if c.RaftDeadGrace == 0 {
		c.RaftDeadGrace = 30 * time.Second
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.GossipAddr == "" {
		c.GossipAddr = "127.0.0.1:7946"
	}
	if c.ActorAddr == "" {
		c.ActorAddr = "127.0.0.1:0"
	}
	return c
}

// ConfigError is the error of Config.Validate (and so of Start): the
// field and what is wrong with it. cmd/ucgrid names the flag instead.
type ConfigError struct {
	// Field is the Config field, e.g. "HTTPAddr" or "Join[1]".
	Field string
	// Problem says what is wrong, e.g. `"nocolon": want host:port: …`.
	Problem string
}

func (e *ConfigError) Error() string { return "node: Config." + e.Field + ": " + e.Problem }

// invalid is Validate's error.
func invalid(field, format string, args ...any) error {
	return &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field. It checks what the
// node needs before it touches the data directory or a port; the parts
// (persistence, sip, api, cluster) check their own settings when they
// start.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.DataDir == "" {
		return invalid("DataDir", "is empty")
	}
	if err := checkNodeID(c.NodeID); err != nil {
		return err
	}
	if err := c.validateAddrs(); err != nil {
		return err
	}
	if err := c.validateSiteGossipPort(); err != nil {
		return err
	}
	switch {
	case c.HTTPTLSCert != "" && c.HTTPTLSKey == "":
		return invalid("HTTPTLSKey", "is empty: HTTPTLSCert and HTTPTLSKey go together, give both or neither")
	case c.HTTPTLSCert == "" && c.HTTPTLSKey != "":
		return invalid("HTTPTLSCert", "is empty: HTTPTLSCert and HTTPTLSKey go together, give both or neither")
	case c.ReadyTimeout < 0:
		return invalid("ReadyTimeout", "%v is negative", c.ReadyTimeout)
	case c.RaftVoters < 1:
		return invalid("RaftVoters", "%d, must be at least 1", c.RaftVoters)
	case c.RaftDeadGrace < 0:
		return invalid("RaftDeadGrace", "%v is negative", c.RaftDeadGrace)
	case c.Site != "" && !validSite(c.Site):
		return invalid("Site", "%q: use letters, digits and -, at most 32, starting with a letter or digit", c.Site)
	case c.Demo && len(c.Join) > 0:
		return invalid("Demo", "is set with Join: a node that joins a cluster gets its directory from it; fill the first node (without Join) instead")
	}
	return nil
}

// checkNodeID applies the directory's rule for ids (persistence) to a
// node id given in the config; "" is a stored or generated one.
func checkNodeID(id string) error {
	switch {
	case len(id) > 256:
		return invalid("NodeID", "is longer than 256 bytes")
	case !utf8.ValidString(id):
		return invalid("NodeID", "%q is not UTF-8", id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] == 0 {
			return invalid("NodeID", "%q holds a NUL byte", id)
		}
	}
	return nil
}

// validateAddrs checks that every listen and join address is a host:port.
func (c Config) validateAddrs() error {
	addrs := []struct{ field, addr string }{
		{"HTTPAddr", c.HTTPAddr}, {"RaftAddr", c.RaftAddr}, {"GossipAddr", c.GossipAddr}, {"ActorAddr", c.ActorAddr},
	}
	if c.SIPAddr != "" {
		addrs = append(addrs, struct{ field, addr string }{"SIPAddr", c.SIPAddr})
	}
	for i, j := range c.Join {
		addrs = append(addrs, struct{ field, addr string }{fmt.Sprintf("Join[%d]", i), j})
	}
	for _, a := range addrs {
		if a.addr == "" {
			return invalid(a.field, "is empty")
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return invalid(a.field, "%q: want host:port: %v", a.addr, err)
		}
	}
	return nil
}

// validateSiteGossipPort checks that, with a site, no other listen
// address of the node takes the site gossip address (gossip port + 1).
func (c Config) validateSiteGossipPort() error {
	site := siteGossipAddr(c)
	if site == "" {
		return nil
	}
	siteHost, sitePort, _ := net.SplitHostPort(site) // built by siteGossipAddr
	others := []struct{ field, addr string }{
		{"HTTPAddr", c.HTTPAddr}, {"RaftAddr", c.RaftAddr}, {"ActorAddr", c.ActorAddr}, {"SIPAddr", c.SIPAddr},
	}
	for _, o := range others {
		host, port, err := net.SplitHostPort(o.addr)
		if err != nil || port != sitePort {
			continue
		}
		if host == siteHost || unspecifiedHost(host) || unspecifiedHost(siteHost) {
			return invalid("GossipAddr", "%q: with Site the site's gossip takes the next port, %s, which %s %q uses too: choose gossip and %s ports further apart",
				c.GossipAddr, site, o.field, o.addr, o.field)
		}
	}
	return nil
}

// unspecifiedHost reports whether a listen host means every address.
func unspecifiedHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

// validSite reports whether name is a site name Config.Site accepts.
func validSite(name string) bool {
	if len(name) > 32 {
		return false
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '-' && i > 0:
		default:
			return false
		}
	}
	return name != ""
}
