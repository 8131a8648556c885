//go:build linux

package sip

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A burst of datagrams must wait in the kernel, not be dropped: the SIP
// UDP socket asks for a 4 MiB receive buffer (capped by rmem_max).
func TestListen_UDPReceiveBufferHoldsABurst(t *testing.T) {
	udp, tcp, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer closeListeners(udp, tcp)
	raw, err := udp.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var serr error
	if err := raw.Control(func(fd uintptr) { got, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	want := udpBufferBytes
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_max"); err == nil {
		if max, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && max < want {
			want = max
		}
	}
	// Linux reports twice the size asked for (its bookkeeping overhead).
	if got < want {
		t.Errorf("SO_RCVBUF %d, want at least %d", got, want)
	}
}
