package sip

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/net/ipv4"
)

// edgeConn is the UDP socket as sipgo reads it. sipgo reads UDP in one
// goroutine (read, parse, then a goroutine per message), so datagrams
// would wait for it in arrival order, responses of admitted calls
// behind new INVITEs. Here a drain goroutine of our own reads the
// socket as fast as it can (batched reads, a scan of the header, no parse)
// and sorts each datagram into one of two queues: prio for everything
// that is never refused (responses, in-dialog requests, ACK, OPTIONS),
// fresh for new work and CANCELs (which must not overtake the INVITE
// they cancel; they are never refused). sipgo's reader (ReadFrom) takes
// prio first. Each datagram carries the kernel's receive stamp
// (SO_TIMESTAMPNS), so its age counts the time in the kernel's queue as
// well as in ours.
//
// New work is judged twice: as the drain reads it (admission.refuse,
// with its age in the kernel queue) and as ReadFrom takes it from fresh
// (its whole age). Refused, it is answered 503 there, statelessly, from
// its raw bytes, and never reaches sipgo: no parse, no transaction, no
// goroutine. A full fresh queue refuses too (reason queue_age). The ACK
// a caller sends for such a 503 carries the To tag it set (refusalTag)
// and is dropped by the drain.
//
// With an edge process (edgeproc_linux.go) the node reads from that
// process instead, which routes datagrams with classify and refuses
// with refuse as here; the node keeps an edgeConn, not draining, to
// drain the socket itself again should the process fail.
type edgeConn struct {
	*net.UDPConn
	a      *admission
	log    *slog.Logger
	logged *onceEvery

	prio, fresh chan edgePacket
	// pc batches the drain's reads and writes; out holds its refusals
	// for the current batch. Both are the drain's alone.
	pc  *ipv4.PacketConn
	out []ipv4.Message
	// sendFlags are the refusals' send flags (the edge process's loop
	// never waits to send: MSG_DONTWAIT).
	sendFlags int
	// failed closes when the drain's read failed (the socket closed);
	// err is that error.
	failed chan struct{}
	err    error
	// lag, in an edge process, is how long the oldest datagram the
	// node's reader has not taken yet has waited (edgeproc_linux.go).
	lag func(now time.Time) time.Duration
}

// edgePacket is a datagram the drain read.
type edgePacket struct {
	data    []byte
	addr    *net.UDPAddr
	arrived time.Time // the kernel's stamp, else when the drain read it
	method  sip.RequestMethod
}

// Queue sizes: prio holds what the node must serve (it blocks the drain
// when full, leaving the rest in the kernel's queue); fresh holds a few
// tens of milliseconds of new work at a node's capacity (two INVITEs a
// call with digest, ~1 000 calls/s on 2 cores) and refuses beyond at
// once: new work waiting longer would be refused late.
const (
	edgePrioQueue  = 4096
	edgeFreshQueue = 64
)

// newEdgeConn makes the edge of c and starts its drain.
func newEdgeConn(c *net.UDPConn, a *admission, log *slog.Logger, logged *onceEvery) *edgeConn {
	e := makeEdgeConn(c, a, log, logged)
	e.start()
	return e
}

// makeEdgeConn makes the edge of c without starting its drain.
func makeEdgeConn(c *net.UDPConn, a *admission, log *slog.Logger, logged *onceEvery) *edgeConn {
	return &edgeConn{UDPConn: c, a: a, log: log, logged: logged,
		prio: make(chan edgePacket, edgePrioQueue), fresh: make(chan edgePacket, edgeFreshQueue), failed: make(chan struct{})}
}

// start starts the drain.
func (c *edgeConn) start() {
	stamped := enableRxStamps(c.UDPConn)
	if !stamped {
		c.log.Info("sip: UDP receive stamps unavailable: queue ages count from the node's read")
	}
	go c.drain(stamped)
}

// drain reads the socket until it fails, sorting datagrams into the
// queues and answering the new work refused. It reads and answers in
// batches (recvmmsg, sendmmsg: one system call for up to edgeBatch
// datagrams): under a storm most of what it reads is refused, and the
// calls into the kernel were most of a refusal's cost.
func (c *edgeConn) drain(stamped bool) {
	c.pc = ipv4.NewPacketConn(c.UDPConn) // any address family: only the batch calls are used
	msgs := newBatch()
	held := make([]heldPacket, 0, edgeBatch)
	for {
		n, err := c.pc.ReadBatch(msgs, 0)
		if err != nil {
			c.err = err
			close(c.failed)
			return
		}
		// The batch's refusals go out before anything of it is queued:
		// sipgo's reader would otherwise answer a datagram read after a
		// refused INVITE (an OPTIONS, say) before the INVITE's 503.
		now := time.Now()
		for i := range msgs[:n] {
			p := batchPacket(&msgs[i], now, stamped)
			if route, age := c.classify(&p, now); route != routeDrop {
				held = append(held, heldPacket{p, route, age})
			}
		}
		c.sendRefusals()
		for _, h := range held {
			c.queue(h.p, h.route, h.age, now)
		}
		clear(held)
		held = held[:0]
		c.sendRefusals()
	}
}

// heldPacket is a datagram of the drain's batch routed and not queued yet.
type heldPacket struct {
	p     edgePacket
	route edgeRoute
	age   time.Duration
}

// edgeBatch is how many datagrams the drain reads, and refusals it
// sends, in one system call.
const edgeBatch = 32

// newBatch makes the buffers of one batched read: edgeBatch datagrams
// of up to 64 KiB, each with room for its receive stamp.
func newBatch() []ipv4.Message {
	msgs := make([]ipv4.Message, edgeBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 1<<16)}
		msgs[i].OOB = make([]byte, rxStampOOB)
	}
	return msgs
}

// batchPacket is the datagram m of a batch read at now (its bytes are
// m's buffer until the next read); stamped: m carries the kernel's
// receive stamp.
func batchPacket(m *ipv4.Message, now time.Time, stamped bool) edgePacket {
	arrived := now
	if stamped {
		arrived = now.Add(-rxAge(m.OOB[:m.NN], now))
	}
	addr, _ := m.Addr.(*net.UDPAddr)
	return edgePacket{data: m.Buffers[0][:m.N], addr: addr, arrived: arrived}
}

// sendRefusals sends the refusals the drain made for its last batch.
func (c *edgeConn) sendRefusals() {
	for out := c.out; len(out) > 0; {
		n, err := c.pc.WriteBatch(out, c.sendFlags)
		if errors.Is(err, net.ErrClosed) {
			break
		}
		if err != nil {
			// The first refusal could not be sent (its caller
			// retransmits); the others still go.
			c.log.Debug("sip: overload refusal", "err", err)
		}
		out = out[max(n, 1):]
	}
	clear(c.out)
	c.out = c.out[:0]
}

// edgeRoute is where the drain sends a datagram it read.
type edgeRoute int

const (
	routeDrop   edgeRoute = iota // the ACK of a refusal, or new work refused (answered)
	routePrio                    // responses, in-dialog requests, ACK, OPTIONS
	routeCancel                  // behind the INVITEs it may cancel, never refused
	routeFresh                   // new work admitted so far
)

// classify routes p (read at now), setting p.method for new work. New
// work refused here is answered (in c.out, with the drain's batch). age
// is how long new work has waited, the reader's lag included.
func (c *edgeConn) classify(p *edgePacket, now time.Time) (route edgeRoute, age time.Duration) {
	method, isReq := requestMethod(p.data)
	switch {
	case isReq && method == sip.ACK && bytes.HasPrefix(toTag(p.data), []byte(refusalTagPrefix)):
		return routeDrop, 0
	case isReq && method == sip.CANCEL:
		return routeCancel, 0
	case !isReq || method == sip.ACK || method == sip.OPTIONS || len(toTag(p.data)) > 0:
		return routePrio, 0
	}
	p.method = method
	// New work waits behind what sipgo's reader has not taken yet: when
	// the reader lags (the last datagram it took had waited longer than
	// this one so far), that lag is this datagram's age too. Refused
	// here, at once and in the drain's batch, it neither waits in fresh
	// to be refused by the reader nor adds calls to a node whose
	// admitted calls' messages are queueing.
	age = max(now.Sub(p.arrived), c.a.queueAge(now))
	if c.lag != nil {
		age = max(age, c.lag(now))
	}
	if why := c.a.refuse(method == sip.INVITE, age, judgeUDP); why != "" {
		c.refuse(*p, why, age, now, true)
		return routeDrop, age
	}
	return routeFresh, age
}

// queue queues p (copying its bytes) as classify routed it (not
// routeDrop); new work that finds fresh full is refused.
func (c *edgeConn) queue(p edgePacket, route edgeRoute, age time.Duration, now time.Time) {
	p.data = bytes.Clone(p.data)
	switch route {
	case routeCancel:
		// Behind the INVITEs it may cancel (a CANCEL that overtook its
		// INVITE would find no transaction), but never refused.
		select {
		case c.fresh <- p:
		default:
			c.queuePrio(p)
		}
	case routeFresh:
		select {
		case c.fresh <- p:
		default:
			c.refuse(p, reasonQueueAge, age, now, true)
		}
	default:
		c.queuePrio(p)
	}
}

// queuePrio queues p for sipgo ahead of new work. When prio is full the
// drain waits for room, sending the refusals it holds first: a reader
// that far behind is when callers most need their 503 at once.
func (c *edgeConn) queuePrio(p edgePacket) {
	select {
	case c.prio <- p:
	default:
		c.sendRefusals()
		c.prio <- p
	}
}

// ReadFrom gives sipgo the next datagram: prio first, then fresh (new
// work too old by now is refused instead).
func (c *edgeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		p, err := c.next()
		if err != nil {
			return 0, nil, err
		}
		if c.take(p, time.Now()) {
			return copy(b, p.data), p.addr, nil
		}
	}
}

// next is the next datagram queued: prio first, then fresh; the drain's
// error once both are empty after it failed.
func (c *edgeConn) next() (edgePacket, error) {
	select {
	case p := <-c.prio:
		return p, nil
	default:
	}
	select {
	case p := <-c.prio:
		return p, nil
	case p := <-c.fresh:
		return p, nil
	case <-c.failed:
		select { // what was read before the failure first
		case p := <-c.prio:
			return p, nil
		case p := <-c.fresh:
			return p, nil
		default:
			return edgePacket{}, c.err
		}
	}
}

// take judges p as the node's reader takes it at now: it notes p's queue
// age and refuses new work too old by now. It reports whether the
// reader gets p.
func (c *edgeConn) take(p edgePacket, now time.Time) bool {
	age := now.Sub(p.arrived)
	c.a.noteQueueAge(age, now)
	if p.method != "" && c.a.refuseAge(age) {
		c.refuse(p, reasonQueueAge, age, now, false)
		return false
	}
	return true
}

// refuse answers new work p with a stateless 503 when its headers allow
// (else p is dropped: its sender retransmits into a calmer node).
func (c *edgeConn) refuse(p edgePacket, why string, age time.Duration, now time.Time, fromDrain bool) {
	res := statelessRefusal(p.data, c.a.retryAfterFor(p.method))
	c.a.refused(p.method, why, now)
	if res == nil || p.addr == nil {
		return
	}
	if fromDrain { // sent with the rest of the drain's batch
		c.out = append(c.out, ipv4.Message{Buffers: [][]byte{res}, Addr: p.addr})
	} else if _, err := c.UDPConn.WriteTo(res, p.addr); err != nil && !errors.Is(err, net.ErrClosed) {
		c.log.Debug("sip: overload refusal", "err", err)
	}
	if c.logged.allow("overload:"+why, now) {
		c.log.Warn("sip: overloaded: refusing new calls, registrations and subscriptions with 503 (one line a minute per reason; see ucgrid_sip_overload_refused_total)",
			"reason", why, "queue_age", age.Round(time.Microsecond))
	}
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
