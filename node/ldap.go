package node

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/ldapsync"
)

// newLDAP makes the LDAP sync's runner when the node has a mapping file.
func (s *Node) newLDAP(reg prometheus.Registerer) error {
	if s.cfg.LDAP == nil {
		return nil
	}
	r, err := ldapsync.NewRunner(ldapsync.RunnerConfig{Config: s.cfg.LDAP, Directory: s.dir,
		Logger: s.cfg.Logger.With("component", "ldapsync")})
	if err != nil {
		return err
	}
	reg.MustRegister(r.Collectors()...)
	s.ldap = r
	return nil
}

// directorySync is the API's view of the runner (nil without one: a nil
// *Runner must not become a non-nil interface).
func (s *Node) directorySync() api.DirectorySyncService {
	if s.ldap == nil {
		return nil
	}
	return s.ldap
}

// startLDAPWatch runs the sync's watch loop: every node ticks, the
// leader of the moment syncs.
func (s *Node) startLDAPWatch() {
	if s.ldap == nil || s.ldap.Interval() <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.ldap.Run(ctx) })
	s.stopLDAP = func() {
		cancel()
		wg.Wait()
	}
}
