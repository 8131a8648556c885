package sip

import "github.com/emiago/sipgo/sip"

type subTable struct{}

func newSubTable() *subTable { return &subTable{} }

func (s *Server) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, 489, "Bad Event")
}
