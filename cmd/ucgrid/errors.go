package main

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/node"
	"github.com/ucgrid/ucgrid/sip"
)

// explainStartError turns a start-up failure into one line that says what
// to do. Errors it does not know pass through: they already name their cause.
func explainStartError(err error, opts serveOptions) string {
	var adv *sip.AdvertiseError
	var bad *node.ConfigError
	switch {
	case errors.As(err, &adv):
		return advertiseError(adv).Error()
	case errors.As(err, &bad) && configFlag(bad.Field) != "":
		return configFlag(bad.Field) + " " + bad.Problem
	case errors.Is(err, api.ErrAddrInUse):
		return fmt.Sprintf("--http %s is already in use: stop the other process or choose another address", opts.HTTP)
	case errors.Is(err, node.ErrDirectoryNotEmpty):
		return fmt.Sprintf("--demo: the directory in --data %s is not empty (%s): give an empty --data directory, or start without --demo", opts.Data, strings.TrimPrefix(err.Error(), node.ErrDirectoryNotEmpty.Error()+": "))
	case errors.Is(err, node.ErrSiteMismatch):
		_, line, _ := strings.Cut(err.Error(), node.ErrSiteMismatch.Error()+": ")
		return line
	case errors.Is(err, node.ErrSiteGossipAddrInUse):
		return fmt.Sprintf("--gossip %s: with --site the site's gossip uses the next port too, and it is in use: stop the other process or choose another --gossip port", opts.Gossip)
	case errors.Is(err, node.ErrGossipAddrInUse):
		return fmt.Sprintf("--gossip %s is already in use: stop the other process or choose another address", opts.Gossip)
	case errors.Is(err, sip.ErrTLSAddrInUse):
		return fmt.Sprintf("--sips %s is already in use: stop the other process or choose another address", opts.SIPS)
	case errors.Is(err, sip.ErrAddrInUse):
		return fmt.Sprintf("--sip %s is already in use (UDP or TCP): stop the other process or choose another address", opts.SIP)
	case errors.Is(err, syscall.EWOULDBLOCK):
		return fmt.Sprintf("--data %s is in use by another running ucgrid (its lock is held): stop that process or choose another directory", opts.Data)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Sprintf("--raft %s is already in use: stop the other process or choose another address", opts.Raft)
	}
	return err.Error()
}

// configFlag is the flag of ucgrid serve that sets the node.Config field
// ("" for fields no flag sets on its own).
func configFlag(field string) string {
	if strings.HasPrefix(field, "Join[") {
		return "--join"
	}
	return map[string]string{
		"DataDir": "--data", "HTTPAddr": "--http", "RaftAddr": "--raft", "GossipAddr": "--gossip",
		"ActorAddr": "--actor", "SIPAddr": "--sip", "NodeID": "--node", "Site": "--site",
		"HTTPTLSCert": "--http-tls-cert", "HTTPTLSKey": "--http-tls-key",
	}[field]
}
