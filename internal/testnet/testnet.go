// Package testnet has the tests' helpers for loopback sockets.
package testnet

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// handedOut holds the ports FreeAddr returned in this process, and the
// port after each: a node with a site gossips on its gossip port and the
// next one (membership.Config.SiteBindAddr), so a port handed out as one
// node's gossip port must not come back as another listener's.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreeAddr returns a 127.0.0.1 address whose port, and the port after it,
// were free for both TCP and UDP a moment ago (gossip, SIP and baresip
// bind both; a node with a site gossips on the next port too), and that
// FreeAddr has not returned, or reserved as the next port, before in this
// process.
func FreeAddr(t testing.TB) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close() // only its port was wanted
		if port >= 65535 || handedOut.ports[port] || handedOut.ports[port+1] || !free(port) || !free(port+1) {
			continue
		}
		handedOut.ports[port], handedOut.ports[port+1] = true, true
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	t.Fatal("no 127.0.0.1 port free, with the next one, for both TCP and UDP")
	return ""
}

// free tells whether port is free on 127.0.0.1 for TCP and UDP now.
func free(port int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	_ = ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	_ = pc.Close()
	return true
}

// FreePort is FreeAddr's port.
func FreePort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(FreeAddr(t)) // FreeAddr's form: host:port
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
