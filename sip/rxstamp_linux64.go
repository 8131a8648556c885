//go:build linux && (amd64 || arm64)

package sip

import (
	"encoding/binary"
	"net"
	"syscall"
	"time"
)

// rxStampOOB is the control buffer a read needs for the kernel's receive
// stamp: one cmsghdr and a timespec, with room to spare.
const rxStampOOB = 64

// enableRxStamps asks the kernel to stamp each datagram received on c
// with the time it arrived (SO_TIMESTAMPNS, CLOCK_REALTIME). It reports
// whether the kernel agreed; without stamps queue ages read as 0.
func enableRxStamps(c *net.UDPConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return false
	}
	return serr == nil
}

// rxAge is how long before now the datagram whose control data is oob
// arrived (0 without a stamp, or when the clock stepped back). It walks
// the control messages by hand: syscall.ParseSocketControlMessage
// allocates for each datagram.
func rxAge(oob []byte, now time.Time) time.Duration {
	const hdr = syscall.SizeofCmsghdr
	for len(oob) >= hdr {
		l := int(binary.NativeEndian.Uint64(oob[0:8]))
		level := int32(binary.NativeEndian.Uint32(oob[8:12]))
		typ := int32(binary.NativeEndian.Uint32(oob[12:16]))
		if l < hdr || l > len(oob) {
			return 0
		}
		if level == syscall.SOL_SOCKET && typ == syscall.SCM_TIMESTAMPNS && l >= hdr+16 {
			sec := int64(binary.NativeEndian.Uint64(oob[hdr : hdr+8]))
			nsec := int64(binary.NativeEndian.Uint64(oob[hdr+8 : hdr+16]))
			return max(0, now.Sub(time.Unix(sec, nsec)))
		}
		oob = oob[(l+7)&^7:]
	}
	return 0
}
