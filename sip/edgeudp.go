package sip

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/emiago/sipgo/sip"
)

// edgeConn is the UDP socket as sipgo reads it. sipgo reads UDP in one
// goroutine (parse, then a goroutine per message); datagrams the node
// has not read yet wait in the kernel's receive queue (udpBufferBytes).
// Each read here takes the kernel's receive stamp (SO_TIMESTAMPNS): the
// datagram read is the oldest one queued, so its age is the queue's.
// While the node refuses new work (admission.refuse), a datagram that
// starts something new is answered 503 here, statelessly, from its raw
// bytes, and never reaches sipgo: no parse, no transaction, no
// goroutine. The ACK a caller sends for such a 503 carries the To tag
// it set (refusalTag) and is dropped here as well. Everything else —
// responses, in-dialog requests, ACK, CANCEL, OPTIONS — passes as read.
//
// Only sipgo's one reader goroutine calls ReadFrom, so oob needs no
// lock; writes go straight to the socket (safe for concurrent use).
type edgeConn struct {
	*net.UDPConn
	a       *admission
	log     *slog.Logger
	logged  *onceEvery
	oob     []byte
	stamped bool // the kernel stamps datagrams: ages are real
}

func newEdgeConn(c *net.UDPConn, a *admission, log *slog.Logger, logged *onceEvery) *edgeConn {
	e := &edgeConn{UDPConn: c, a: a, log: log, logged: logged, oob: make([]byte, rxStampOOB)}
	e.stamped = enableRxStamps(c)
	if !e.stamped {
		log.Info("sip: UDP receive stamps unavailable: overload control works without the queue age")
	}
	return e
}

// ReadFrom reads the next datagram sipgo is to handle, answering those
// refused on the way.
func (c *edgeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, oobn, _, addr, err := c.UDPConn.ReadMsgUDP(b, c.oob)
		if err != nil {
			if addr == nil {
				return n, nil, err // a nil *UDPAddr is not a nil net.Addr
			}
			return n, addr, err
		}
		now := time.Now()
		age := rxAge(c.oob[:oobn], now)
		if c.stamped {
			c.a.noteQueueAge(age, now)
		}
		if c.screen(b[:n], addr, age, now) {
			continue
		}
		return n, addr, nil
	}
}

// screen answers or drops data when it is new work refused now or the
// ACK of such a refusal; it reports whether it did.
func (c *edgeConn) screen(data []byte, addr *net.UDPAddr, age time.Duration, now time.Time) bool {
	method, ok := requestMethod(data)
	if !ok {
		return false // a response, or something sipgo will judge
	}
	switch method {
	case sip.ACK:
		return bytes.HasPrefix(toTag(data), []byte(refusalTagPrefix))
	case sip.CANCEL, sip.OPTIONS:
		return false
	}
	why := c.a.refuse(method == sip.INVITE, age, true)
	if why == "" || len(toTag(data)) > 0 {
		return false // admitted (the guard counts it), or in a dialog
	}
	res := statelessRefusal(data, c.a.retryAfterFor(method))
	if res == nil {
		return false // headers not found: sipgo parses it, the guard decides
	}
	c.a.refused(method, why, now)
	if _, err := c.UDPConn.WriteTo(res, addr); err != nil && !errors.Is(err, net.ErrClosed) {
		c.log.Debug("sip: overload refusal", "err", err)
	}
	if c.logged.allow("overload:"+why, now) {
		c.log.Warn("sip: overloaded: refusing new calls, registrations and subscriptions with 503 (one line a minute per reason; see ucgrid_sip_overload_refused_total)",
			"reason", why, "queue_age", age.Round(time.Microsecond))
	}
	return true
}

// refusalTagPrefix starts the To tag of a stateless overload refusal,
// so that the caller's ACK for it is recognised and dropped at the edge.
const refusalTagPrefix = "ucgrid-ol-"

// requestMethod is the method of a request's first line; false for a
// response or a line that is no request.
func requestMethod(data []byte) (sip.RequestMethod, bool) {
	sp := bytes.IndexByte(data, ' ')
	if sp <= 0 || sp > 16 || bytes.HasPrefix(data, []byte("SIP/")) {
		return "", false
	}
	return sip.RequestMethod(data[:sp]), true
}

// headerLines calls f with each header line of data (before the empty
// line), without its line break, and its name; f returns false to stop.
// Folded lines are not joined (a folded To or Via is not found; the
// request then goes on to sipgo).
func headerLines(data []byte, f func(line, name []byte) bool) {
	if i := bytes.Index(data, []byte("\r\n")); i >= 0 {
		data = data[i+2:]
	} else {
		return
	}
	for len(data) > 0 {
		end := bytes.Index(data, []byte("\r\n"))
		if end <= 0 {
			return // the empty line, or no line end
		}
		line := data[:end]
		data = data[end+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		if !f(line, bytes.TrimSpace(line[:colon])) {
			return
		}
	}
}

// toTag is the tag parameter of data's To header (nil when none).
func toTag(data []byte) []byte {
	var tag []byte
	headerLines(data, func(line, name []byte) bool {
		if !isHeader(name, "To", "t") {
			return true
		}
		v := line[bytes.IndexByte(line, ':')+1:]
		if gt := bytes.LastIndexByte(v, '>'); gt >= 0 {
			v = v[gt+1:]
		}
		for _, p := range bytes.Split(v, []byte(";"))[1:] {
			k, val, _ := bytes.Cut(p, []byte("="))
			if bytes.EqualFold(bytes.TrimSpace(k), []byte("tag")) {
				tag = bytes.TrimSpace(val)
			}
		}
		return false
	})
	return tag
}

func isHeader(name []byte, full, compact string) bool {
	return bytes.EqualFold(name, []byte(full)) || bytes.EqualFold(name, []byte(compact))
}

// statelessRefusal builds the 503 answering the request data: its Via,
// From, Call-ID and CSeq lines as they came, its To with a refusal tag
// (RFC 3261 §8.2.6.2), Retry-After. nil when a mandatory header is
// missing.
func statelessRefusal(data []byte, retryAfter string) []byte {
	out := make([]byte, 0, 512)
	out = append(out, "SIP/2.0 503 "+overloadReason+"\r\n"...)
	var via, from, to, callID, cseq bool
	headerLines(data, func(line, name []byte) bool {
		switch {
		case isHeader(name, "Via", "v"):
			via = true
		case isHeader(name, "From", "f"):
			from = true
		case isHeader(name, "Call-ID", "i"):
			callID = true
		case isHeader(name, "CSeq", ""):
			cseq = true
		case isHeader(name, "To", "t"):
			to = true
			out = append(out, bytes.TrimRight(line, " \t")...)
			out = append(out, ";tag="+refusalTagPrefix+sip.GenerateTagN(8)+"\r\n"...)
			return true
		default:
			return true
		}
		out = append(append(out, line...), "\r\n"...)
		return true
	})
	if !via || !from || !to || !callID || !cseq {
		return nil
	}
	out = append(out, "Retry-After: "+retryAfter+"\r\nServer: ucgrid\r\nContent-Length: 0\r\n\r\n"...)
	return out
}
