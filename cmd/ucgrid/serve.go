package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/ucgrid/ucgrid/node"
	"github.com/ucgrid/ucgrid/sip"
)

// drainTimeout bounds a graceful shutdown: open HTTP requests may finish,
// then the store is flushed and closed. The SIP drain takes at most 7 s of
// it (node sipDrainMax); the rest is the hand-over of the
// grains and Raft leadership, which on a loaded machine took more than
// the 3 s a 10 s bound left it.
const drainTimeout = 20 * time.Second

func serve(args []string, stdout, stderr io.Writer) int {
	opts, err := parseServeOptions(args, os.LookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ucgrid serve: %v\n", err)
		return 2
	}
	bundle, err := opts.tlsBundle()
	if err != nil {
		fmt.Fprintf(stderr, "ucgrid serve: %v\n", err)
		return 2
	}
	// An advertised host name is resolved before anything starts (the
	// SIP server checks again when it binds).
	if err := sip.ResolveAdvertise(context.Background(), opts.SIPAdvertise, opts.SIP); err != nil {
		fmt.Fprintf(stderr, "ucgrid serve: %v\n", advertiseError(err))
		return 2
	}
	gc, _ := opts.gcSettings() // validated by parseServeOptions
	gc.apply(os.LookupEnv)
	insecure, _ := opts.insecureCluster() // validated by parseServeOptions
	logger := newLogger(stderr, opts.LogLevel)
	voters, _ := opts.raftVoters()          // validated by parseServeOptions
	deadAfter, _ := opts.raftDeadAfter()    // validated by parseServeOptions
	proxies, _ := opts.trustedProxies()     // validated by parseServeOptions
	wideTrunks, _ := opts.allowWideTrunks() // validated by parseServeOptions
	sipCfg, _ := opts.sipConfig()           // validated by parseServeOptions
	demo, _ := opts.demo()                  // validated by parseServeOptions
	ldapCfg, err := loadLDAPConfig(opts.LDAPConfig)
	if err != nil {
		fmt.Fprintf(stderr, "ucgrid serve: --ldap-config: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP is caught from now on: during start-up it would otherwise
	// end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	stopProfile := startProfile(lookupEnvOS, stderr)
	srv, err := node.Start(ctx, node.Config{
		DataDir: opts.Data, HTTPAddr: opts.HTTP, RaftAddr: opts.Raft, NodeID: opts.Node,
		GossipAddr: opts.Gossip, Join: opts.joinList(), ActorAddr: opts.Actor, SIPDomain: opts.SIPDomain, SIPAddr: opts.SIP,
		ClusterID: opts.Cluster, AdminPassword: opts.AdminPassword, Out: stdout, Logger: logger,
		ClusterSecret: opts.ClusterSecret, RaftVoters: voters, RaftDeadGrace: deadAfter,
		TrustedProxies: proxies, AllowWideTrunks: wideTrunks,
		HTTPTLSCert: opts.HTTPTLSCert, HTTPTLSKey: opts.HTTPTLSKey,
		SIP: sipCfg,
		TLS: bundle, InsecureCluster: insecure, Demo: demo, LDAP: ldapCfg, Site: opts.Site,
	})
	stopProfile()
	if err != nil {
		fmt.Fprintf(stderr, "ucgrid serve: %s\n", explainStartError(err, opts))
		return 1
	}
	fmt.Fprintf(stdout, "ucgrid: node %s serving %s (data %s)\n", srv.Directory().ID(), srv.HTTPURL(), opts.Data)
	stopReload := reloadOnHangup(hup, srv, logger)
	defer stopReload()
	code := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "drain_timeout", drainTimeout)
	case err := <-srv.Done():
		logger.Error("http server stopped", "err", err)
		code = 1
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil {
		fmt.Fprintf(stderr, "ucgrid serve: shutdown: %v\n", err)
		return 1
	}
	return code
}

// startProfileEnv names a file that receives a CPU profile of the start
// (from here until the node is ready): a debugging aid for slow starts
// (docs/persistence.md "Start"), deliberately not a documented option.
const startProfileEnv = "UCGRID_START_CPUPROFILE"

var lookupEnvOS = os.LookupEnv

// startProfile starts the CPU profile startProfileEnv asks for; the
// returned function stops it. Without the variable, or when the file
// cannot be written (said on stderr), both do nothing.
func startProfile(lookupEnv func(string) (string, bool), stderr io.Writer) (stop func()) {
	path, ok := lookupEnv(startProfileEnv)
	if !ok || path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ucgrid serve: %s: %v (no profile)\n", startProfileEnv, err)
		if f != nil {
			_ = f.Close() // nothing was written to it
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "ucgrid serve: %s: %v\n", startProfileEnv, err)
		}
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	// validate() accepted only the four names UnmarshalText knows.
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// reloadOnHangup reads the certificates of HTTPS and SIP over TLS again
// on every SIGHUP that arrives on hup, until the returned stop is called.
// A failed reload keeps the certificate in use and logs one line naming
// the file.
func reloadOnHangup(hup <-chan os.Signal, srv *node.Node, logger *slog.Logger) (stop func()) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				reloaded, err := srv.ReloadCertificates()
				if err != nil {
					logger.Error("certificate not reloaded; the one in use stays", "err", err)
				}
				switch {
				case len(reloaded) > 0:
					logger.Info("certificates reloaded", "served_by", strings.Join(reloaded, ","))
				case err == nil:
					logger.Info("SIGHUP: no certificate to reload (neither HTTPS nor SIP over TLS is served)")
				}
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}
