package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/ucgrid/ucgrid/api/tokens"
	"github.com/ucgrid/ucgrid/demo"
)

// ErrDirectoryNotEmpty refuses Config.Demo on a directory that holds
// more than the system owner a first start creates: users, groups or
// lines (the demo fills a new directory, never one in use).
var ErrDirectoryNotEmpty = errors.New("node: the directory is not empty")

// checkEmptyForDemo fails with ErrDirectoryNotEmpty unless the directory
// holds no user but AdminID, no group and no line. It runs before the
// actor layer, the API and SIP start, so a refused node serves nothing.
func (s *Node) checkEmptyForDemo() error {
	st := s.dir.Store()
	users, _, err := st.ListUsers("", 2)
	if err != nil {
		return fmt.Errorf("node: read directory: %w", err)
	}
	groups, _, err := st.ListGroups("", 1)
	if err != nil {
		return fmt.Errorf("node: read directory: %w", err)
	}
	lines, _, err := st.ListLines("", 1)
	if err != nil {
		return fmt.Errorf("node: read directory: %w", err)
	}
	switch {
	case len(users) > 1 || (len(users) == 1 && users[0].GetId() != AdminID):
		return fmt.Errorf("%w: it holds users besides %q", ErrDirectoryNotEmpty, AdminID)
	case len(groups) > 0:
		return fmt.Errorf("%w: it holds groups", ErrDirectoryNotEmpty)
	case len(lines) > 0:
		return fmt.Errorf("%w: it holds lines", ErrDirectoryNotEmpty)
	}
	return nil
}

// fillDemo writes the demo company through the API handler v1, acting
// as the system owner, and prints the credentials of three of its people
// to Out once.
func (s *Node) fillDemo(ctx context.Context, v1 http.Handler) error {
	toks, err := tokens.New(tokens.Config{}, s.dir)
	if err != nil {
		return err
	}
	res, err := demo.Fill(ctx, demo.Config{API: v1, Tokens: toks, Admin: AdminID, SIPDomain: s.sipDomain()})
	if err != nil {
		return fmt.Errorf("node: demo (start again on an empty data directory): %w", err)
	}
	res.Print(s.cfg.Out, s.sipDomain(), phoneSIPAddr(s.SIPAddr()))
	s.cfg.Logger.Info("demo company written", "people", res.People, "groups", res.Groups, "lines", res.Lines)
	return nil
}

// phoneSIPAddr is the SIP address to tell a person: a wildcard bind
// (0.0.0.0, ::) is no address a phone can use, so it names the port on
// any of this host's addresses instead.
func phoneSIPAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "any address of this host, port " + port
	}
	return addr
}

// sipDomain is the SIP domain: the configured one or the API's default.
func (s *Node) sipDomain() string {
	if s.cfg.SIPDomain != "" {
		return s.cfg.SIPDomain
	}
	return defaultSIPDomain
}
