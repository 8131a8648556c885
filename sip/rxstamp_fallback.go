//go:build !linux || !(amd64 || arm64)

package sip

import (
	"net"
	"time"
)

// rxStampOOB is the control buffer a read passes (unused here).
const rxStampOOB = 0

// enableRxStamps reports false: receive stamps are read on 64-bit Linux only (rxstamp_linux64.go),
// elsewhere queue ages read as 0 and only the other overload signals
// count.
func enableRxStamps(*net.UDPConn) bool { return false }

// rxAge is 0 without receive stamps.
func rxAge([]byte, time.Time) time.Duration { return 0 }
