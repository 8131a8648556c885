package node

import (
	"errors"
	"fmt"
	"net"
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

// With a site, the node's second gossip port (gossip port + 1) being
// taken is reported as such, and still as an address in use.
func TestCheckGossipAddrs_NamesTheSitePortWhenItIsTaken(t *testing.T) {
	var port int
	for try := 0; ; try++ { // a taken port whose predecessor is free
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		port = busy.Addr().(*net.TCPAddr).Port
		if checkGossipAddr(fmt.Sprintf("127.0.0.1:%d", port-1)) == nil || try == 20 {
			break
		}
	}
	c := Config{Site: "munich", GossipAddr: fmt.Sprintf("127.0.0.1:%d", port-1)}
	err := checkGossipAddrs(c)
	if !errors.Is(err, ErrSiteGossipAddrInUse) || !AddrInUse(err) {
		t.Fatalf("checkGossipAddrs with port+1 taken = %v, want ErrSiteGossipAddrInUse", err)
	}
	c.Site = ""
	if err := checkGossipAddrs(c); errors.Is(err, ErrSiteGossipAddrInUse) {
		t.Errorf("without a site checkGossipAddrs = %v, want the next port not checked", err)
	}
}
