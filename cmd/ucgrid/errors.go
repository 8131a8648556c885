package main

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/cluster/server"
	"github.com/ucgrid/ucgrid/sip"
)

// explainStartError turns a start-up failure into one line that says what
// to do. Errors it does not know pass through: they already name their cause.
func explainStartError(err error, opts serveOptions) string {
	var adv *sip.AdvertiseError
	switch {
	case errors.As(err, &adv):
		return advertiseError(adv).Error()
	case errors.Is(err, api.ErrAddrInUse):
		return fmt.Sprintf("--http %s is already in use: stop the other process or choose another address", opts.HTTP)
	case errors.Is(err, server.ErrGossipAddrInUse):
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
