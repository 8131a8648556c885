package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/cluster/peerlink"
	"github.com/ucgrid/ucgrid/cluster/peers"
	"github.com/ucgrid/ucgrid/ldapsync"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
	"github.com/ucgrid/ucgrid/sip"
)

// AdminID is the user id of the system owner created on first start.
const AdminID = "admin"

// Node is a running node.
type Node struct {
	cfg Config
	dir *persistence.Node
	// link is the mutual-TLS listener of Raft and the node-to-node HTTP
	// routes, and internal the HTTP server on it (nil without TLS).
	link     *peerlink.Link
	internal *http.Server
	// actors is the running actor layer; it is replaced when the node
	// restarts it under a new identity (cluster/peers' watchdog).
	actors atomic.Pointer[actorLayer]
	// grains count grain life cycles across restarts of the actor layer.
	grains *actors.GrainMetrics
	// ops is the node's part in its Raft cluster (cluster/peers).
	ops    *peers.Ops
	http   *api.Server
	sip    *sip.Server
	served chan error
	// started is set once start-up finished (the admin exists, the actor
	// layer runs): /readyz answers 503 before. leaving is set when the
	// stop begins: /readyz answers 503 again.
	started atomic.Bool
	leaving atomic.Bool
	// stopChats ends the live delivery of chat messages to this node's
	// sessions (actors.Hub.FollowChats); stopSweeps ends the directory's
	// upkeep (persistence.Node.StartSweeps). Nil until started.
	stopChats, stopSweeps func()
	// stopLDAP ends the LDAP sync's watch loop (nil without one).
	stopLDAP func()
	// ldap runs the LDAP sync (nil without Config.LDAP).
	ldap *ldapsync.Runner
	// access ends the SIP subscriptions of users whose access ended
	// (accessend.go).
	access *accessEnder
	// trunkStatus shows the SIP server's trunk registrations in the API
	// (sip.go).
	trunkStatus trunkStatus
}

// Start brings a node up. On error everything it started is stopped again.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Node{cfg: cfg, served: make(chan error, 1)}
	if err := s.start(ctx); err != nil {
		s.stop(context.Background())
		return nil, err
	}
	return s, nil
}

func (s *Node) start(ctx context.Context) error {
	clock := newStartClock(s.cfg.Logger)
	if err := s.cfg.checkClusterBinds(); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	var err error
	// Bind HTTP first: a busy port fails before the store is touched.
	s.http, err = api.Listen(api.Config{Addr: s.cfg.HTTPAddr, Ready: s.ready, Gatherer: reg, Logger: s.cfg.Logger,
		TLSCert: s.cfg.HTTPTLSCert, TLSKey: s.cfg.HTTPTLSKey})
	if err != nil {
		return err
	}
	if err := s.startLink(); err != nil {
		return err
	}
	pcfg := persistence.Config{
		Dir: s.cfg.DataDir, NodeID: s.cfg.NodeID, ClusterID: s.cfg.ClusterID,
		RaftBind: s.cfg.RaftAddr, Logger: s.cfg.Logger, NoBootstrap: len(s.cfg.Join) > 0,
	}
	if s.link != nil {
		pcfg.RaftLayer = s.link.Raft()
	}
	if s.dir, err = persistence.Open(ctx, pcfg); err != nil {
		return err
	}
	clock.phase("directory opened")
	if err := s.checkCertNode(); err != nil {
		return err
	}
	if err := s.checkSite(); err != nil {
		return err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(s.dir.Collectors()...)
	// /healthz and /readyz answer while the node starts; /v1 answers 503
	// until it is mounted below.
	go func() { s.served <- s.http.Serve() }()
	if s.ops, err = s.newPeers(); err != nil {
		return err
	}
	s.serveInternal()
	s.grains = actors.NewGrainMetrics()
	reg.MustRegister(s.ops.Collectors()...)
	reg.MustRegister(s.grains.Collectors()...)
	if err := s.ops.Join(ctx); err != nil {
		return err
	}
	clock.phase("joined")
	readyCtx, cancel := context.WithTimeout(ctx, s.cfg.ReadyTimeout)
	defer cancel()
	if err := s.dir.WaitReady(readyCtx); err != nil {
		return fmt.Errorf("node: directory not ready after %v: %w", s.cfg.ReadyTimeout, err)
	}
	clock.phase("directory ready")
	if err := s.checkSite(); err != nil {
		return err
	}
	if s.cfg.Demo {
		if err := s.checkEmptyForDemo(); err != nil {
			return err
		}
	}
	if err := s.startActors(ctx); err != nil {
		return err
	}
	clock.phase("actor layer started")
	reg.MustRegister(layerCollector{s}, refusedCollector{s})
	if err := s.ops.Start(ctx, s.layer().node.Membership()); err != nil {
		return err
	}
	clock.phase("cluster ops started")
	if err := s.newLDAP(reg); err != nil {
		return err
	}
	v1, err := api.NewHandler(api.HandlerConfig{Directory: s.dir, Passwords: s.cfg.PasswordParams,
		SIPRealm: s.cfg.SIPDomain, Presence: actors.Client{To: grainClient{s}}, Logger: s.cfg.Logger,
		Reverse: actors.Client{To: grainClient{s}},
		Live:    api.LiveConfig{Lines: actors.Client{To: grainClient{s}}, Events: api.HubEvents(s.layer().hub)},
		Metrics: reg, TrustedProxies: s.cfg.TrustedProxies, AllowWideTrunks: s.cfg.AllowWideTrunks,
		TrunkStatus: &s.trunkStatus, DirectorySync: s.directorySync(), Site: s.cfg.Site})
	if err != nil {
		return err
	}
	v1.MountCluster(s.ops)
	s.http.Mount(v1)
	clock.phase("api mounted")
	if err := s.startSIP(ctx, reg); err != nil {
		return err
	}
	clock.phase("sip started")
	if s.access, err = startAccessEnder(s.dir, s.sip, s.cfg.Logger); err != nil {
		return err
	}
	s.ops.StartWatchdog()
	s.stopChats = s.layer().hub.FollowChats(s.dir)
	s.stopSweeps = s.dir.StartSweeps()
	s.startLDAPWatch()
	clock.phase("background work started")
	if err := s.bootstrapAdmin(ctx); err != nil {
		return err
	}
	clock.phase("admin checked")
	if s.cfg.Demo {
		if err := s.fillDemo(ctx, v1); err != nil {
			return err
		}
		clock.phase("demo filled")
	}
	s.started.Store(true)
	s.cfg.Logger.Info("node started", "node", s.dir.ID(), "cluster", s.dir.ClusterID(),
		"http", s.http.Addr(), "raft", s.dir.RaftAddr(), "data", s.cfg.DataDir)
	return nil
}

// bootstrapAdmin creates the system owner on a first start: when the
// directory holds no user at all. A directory whose admin was deleted on
// purpose is left alone.
func (s *Node) bootstrapAdmin(ctx context.Context) error {
	users, _, err := s.dir.Store().ListUsers("", 1)
	if err != nil {
		return fmt.Errorf("node: read directory: %w", err)
	}
	if len(users) > 0 {
		return nil
	}
	pw, generated := s.cfg.AdminPassword, false
	if pw == "" {
		if pw, err = password.Generate(20); err != nil {
			return err
		}
		generated = true
	}
	hash, err := password.Hash(pw, s.cfg.PasswordParams)
	if err != nil {
		return fmt.Errorf("node: admin password: %w", err)
	}
	now := time.Now().Unix()
	user := &dirpb.User{Id: AdminID, DisplayName: "Administrator", PasswordHash: hash, SystemRole: "system_owner",
		CreatedUnix: now, UpdatedUnix: now}
	if _, err := s.dir.Apply(ctx, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: user}}}); err != nil {
		return fmt.Errorf("node: create admin: %w", err)
	}
	if generated {
		fmt.Fprintf(s.cfg.Out, "ucgrid: first start: created system owner %q with password %s\n"+
			"ucgrid: this password is shown once; sign in and change it.\n", AdminID, pw)
	} else {
		fmt.Fprintf(s.cfg.Out, "ucgrid: first start: created system owner %q with the given password\n", AdminID)
	}
	return nil
}

func (s *Node) ready() error {
	if !s.started.Load() {
		return errors.New("node is starting")
	}
	if s.leaving.Load() {
		return errors.New("node is leaving the cluster")
	}
	if !s.dir.Ready() {
		return errors.New("directory has no Raft leader yet or its store failed")
	}
	return nil
}

// HTTPAddr is the address the HTTP server listens on.
func (s *Node) HTTPAddr() string { return s.http.Addr() }

// HTTPURL is the base URL of the HTTP server: https:// when it serves TLS.
func (s *Node) HTTPURL() string {
	if s.http.TLS() {
		return "https://" + s.http.Addr()
	}
	return "http://" + s.http.Addr()
}

// ReloadCertificates reads the certificate and key files of HTTPS and of
// SIP over TLS again (on SIGHUP): new connections get the new
// certificate, the listeners and open connections stay. It returns what
// it reloaded ("https", "sips"; nothing when neither serves TLS). Where a
// reload fails, its error names the file and the certificate in use stays.
func (s *Node) ReloadCertificates() (reloaded []string, err error) {
	var errs []error
	if s.http.TLS() {
		if err := s.http.ReloadCertificate(); err != nil {
			errs = append(errs, err)
		} else {
			reloaded = append(reloaded, "https")
		}
	}
	if s.sip != nil && s.sip.TLSAddr() != "" {
		if err := s.sip.ReloadTLS(); err != nil {
			errs = append(errs, err)
		} else {
			reloaded = append(reloaded, "sips")
		}
	}
	return reloaded, errors.Join(errs...)
}

// Directory is the node's durable directory.
func (s *Node) Directory() *persistence.Node { return s.dir }

// Done yields the HTTP server's end: nil after Shutdown, an
// error when it failed on its own.
func (s *Node) Done() <-chan error { return s.served }

// Shutdown stops the node gracefully (leave.go): SIP drains while a
// leader hands Raft leadership over, then HTTP (open requests may finish
// until ctx ends), the SIP server, the actor layer (it leaves the
// cluster), and the directory, which flushes and closes the store.
func (s *Node) Shutdown(ctx context.Context) error { return s.stop(ctx) }

func (s *Node) stop(ctx context.Context) error {
	s.leaving.Store(true)
	var errs []error
	// The grains stay up until the SIP drain ends: calls in progress
	// report to their lines and groups.
	s.drain(ctx)
	if s.http != nil {
		errs = append(errs, s.http.Shutdown(ctx))
	}
	s.access.stop()
	errs = append(errs, s.stopSIP(ctx))
	if s.ops != nil {
		s.ops.StopWatchdog()
	}
	for _, stop := range []func(){s.stopChats, s.stopSweeps, s.stopLDAP} {
		if stop != nil {
			stop()
		}
	}
	if s.ops != nil {
		s.ops.Stop()
	}
	if a := s.layer(); a != nil {
		errs = append(errs, a.stop(ctx))
	}
	errs = append(errs, s.stopInternal(ctx))
	if s.dir != nil {
		errs = append(errs, s.dir.Close())
	}
	errs = append(errs, s.closeLink())
	return errors.Join(errs...)
}

// startClock logs, at debug level, how long each phase of the start took
// (docs/persistence.md "Start"): where a slow start spends its time.
type startClock struct {
	log         *slog.Logger
	begin, last time.Time
}

func newStartClock(log *slog.Logger) *startClock {
	now := time.Now()
	return &startClock{log: log, begin: now, last: now}
}

func (c *startClock) phase(name string) {
	now := time.Now()
	c.log.Debug("node: start phase done", "phase", name, "took", now.Sub(c.last), "since_start", now.Sub(c.begin))
	c.last = now
}

// AddrInUse reports whether Start failed because another process holds
// one of the node's listen addresses (HTTP, gossip, SIP, SIP over TLS or
// Raft).
func AddrInUse(err error) bool {
	return errors.Is(err, api.ErrAddrInUse) || errors.Is(err, ErrGossipAddrInUse) ||
		errors.Is(err, sip.ErrAddrInUse) || errors.Is(err, sip.ErrTLSAddrInUse) ||
		errors.Is(err, syscall.EADDRINUSE)
}
