package node

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/ucgrid/ucgrid/api"
	"github.com/ucgrid/ucgrid/sip"
)

// The bench harness starts a node again on new ports when AddrInUse says
// one was taken; any other start failure must not look like that.
func TestAddrInUse_NamesEveryListenerAndNothingElse(t *testing.T) {
	for _, err := range []error{api.ErrAddrInUse, ErrGossipAddrInUse, sip.ErrAddrInUse, sip.ErrTLSAddrInUse, syscall.EADDRINUSE} {
		if wrapped := fmt.Errorf("node: start: %w", err); !AddrInUse(wrapped) {
			t.Errorf("AddrInUse(%v) = false", wrapped)
		}
	}
	for _, err := range []error{nil, errors.New("raft: no leader"), syscall.EWOULDBLOCK, fmt.Errorf("open: %w", syscall.EACCES)} {
		if AddrInUse(err) {
			t.Errorf("AddrInUse(%v) = true", err)
		}
	}
}
