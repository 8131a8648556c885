//go:build !linux

package sip

import (
	"errors"
	"log/slog"
	"net"
)

// edgeMemory is the edge process's shared page (edgeproc_linux.go).
type edgeMemory struct{ st *edgeState }

var errEdgeProcess = errors.New("sip: edge process: runs on Linux only")

func newEdgeMemory() (*edgeMemory, error) { return nil, errEdgeProcess }

func startEdgeProcess(*net.UDPConn, *edgeMemory, *admission, *slog.Logger, *onceEvery) (net.PacketConn, error) {
	return nil, errEdgeProcess
}
