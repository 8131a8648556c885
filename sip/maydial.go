package sip

import (
	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// mayDial decides whether caller (nil: a trunk's caller, or a party with
// no line) may call number: 0 when allowed, else the SIP status and
// reason to refuse with. This minimal version allows the directory's
// numbers (lines, call groups taking calls) and refuses anything else
// with 404; the dial plan's class-of-service check replaces it. A REFER
// is checked with it before it is relayed (transfer.go).
func (s *Server) mayDial(caller *dirpb.Line, number string) (status int, reason string) {
	_ = caller // every line reaches every directory number
	kind, _, _, err := s.lookup(number)
	switch {
	case err != nil:
		s.log.Warn("sip: lookup", "err", err)
		return sip.StatusInternalServerError, "Directory Unavailable"
	case kind == destNone:
		return sip.StatusNotFound, "Not Found"
	}
	return 0, ""
}
