// Package testnet has the tests' helpers for loopback sockets.
package testnet

import (
	"net"
	"strconv"
	"testing"
)

// FreeAddr returns a 127.0.0.1 address whose port was free for both TCP
// and UDP a moment ago (gossip, SIP and baresip bind both).
func FreeAddr(t testing.TB) string {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close() // only its port was wanted
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		_ = pc.Close()
		return addr
	}
	t.Fatal("no 127.0.0.1 port free for both TCP and UDP")
	return ""
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
