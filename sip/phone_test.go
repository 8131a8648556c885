package sip

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// phone is a sipgo user agent on 127.0.0.1 (UDP): it registers, places
// calls and answers them as a test tells it.
type phone struct {
	t        testing.TB
	number   string
	pw       string
	proxy    string
	tls      bool // talks to the proxy over TLS (newTLSPhone)
	ua       *sipgo.UserAgent
	srv      *sipgo.Server
	cli      *sipgo.Client
	addr     string
	private  string // the address it names itself by, behind a NAT (newPhoneBehind)
	pc       net.PacketConn
	incoming chan *ringing

	mu      sync.Mutex
	mode    int  // answer with this status at once; 0 = ring until told
	noRing  bool // a 200 of mode goes without a 180 first (answerAtOnce)
	cancels []*sip.Request
	byes    int
	acks    int
	// dialogReqs are the REFERs and NOTIFYs it received (answered 202
	// and 200).
	dialogReqs []*sip.Request
}

// ringing is an INVITE a phone received.
type ringing struct {
	req       *sip.Request
	tx        sip.ServerTransaction
	tag       string
	answer    chan int
	cancelled chan struct{}
}

const testSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

func newPhone(t testing.TB, e *env, number, pw string) *phone {
	t.Helper()
	return newPhoneAt(t, e, "127.0.0.1", number, pw)
}

// newPhoneAt is a phone on another loopback address (127.0.0.2, …): a
// different source address to the server.
func newPhoneAt(t testing.TB, e *env, ip, number, pw string) *phone {
	t.Helper()
	return newPhoneBehind(t, e, ip, "", number, pw)
}

// newPhoneBehind is a phone on ip that believes it is at private
// (host:port) as a phone behind a NAT does: its Via and Contact name
// private, its messages come from ip and another port. private ""
// names the phone's real address.
func newPhoneBehind(t testing.TB, e *env, ip, private, number, pw string) *phone {
	t.Helper()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	return newPhoneWith(t, pc, e.srv.Addr(), private, number, pw)
}

// newPhoneOn is a phone on socket pc (opened in a network namespace by
// the netlab tests) talking to the proxy at proxy.
func newPhoneOn(t testing.TB, pc net.PacketConn, proxy, number, pw string) *phone {
	t.Helper()
	return newPhoneWith(t, pc, proxy, "", number, pw)
}

func newPhoneWith(t testing.TB, pc net.PacketConn, proxy, private, number, pw string) *phone {
	t.Helper()
	p := &phone{t: t, number: number, pw: pw, proxy: proxy, incoming: make(chan *ringing, 8)}
	var err error
	p.ua, err = sipgo.NewUA(sipgo.WithUserAgent("phone-" + number))
	if err != nil {
		t.Fatal(err)
	}
	p.srv, _ = sipgo.NewServer(p.ua, sipgo.WithServerLogger(testLogger(t)))
	p.addr, p.pc = pc.LocalAddr().String(), pc
	p.private = private
	host, port, _ := net.SplitHostPort(p.addr)
	if private != "" {
		host, port, _ = net.SplitHostPort(private)
	}
	n, _ := strconv.Atoi(port)
	p.cli, _ = sipgo.NewClient(p.ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(n), sipgo.WithClientConnectionAddr(p.addr))
	p.handle()
	go func() { _ = p.srv.ServeUDP(pc) }()
	eventually(t, 5*time.Second, "phone listening", func() bool {
		c, err := p.ua.TransportLayer().GetConnection("udp", p.addr)
		return err == nil && c != nil
	})
	t.Cleanup(func() { _ = p.ua.Close() })
	return p
}

// handle serves the phone's INVITEs (onInvite) and counts the BYEs
// (answered 200) and ACKs it receives.
func (p *phone) handle() {
	p.srv.OnInvite(p.onInvite)
	p.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		p.byes++
		p.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	p.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		p.acks++
		p.mu.Unlock()
	})
	keep := func(code int, reason string) sipgo.RequestHandler {
		return func(req *sip.Request, tx sip.ServerTransaction) {
			p.mu.Lock()
			p.dialogReqs = append(p.dialogReqs, req)
			p.mu.Unlock()
			_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
		}
	}
	p.srv.OnRefer(keep(202, "Accepted"))
	p.srv.OnNotify(keep(200, "OK"))
}

// received returns the REFERs and NOTIFYs the phone got, in order.
func (p *phone) received(m sip.RequestMethod) []*sip.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*sip.Request
	for _, r := range p.dialogReqs {
		if r.Method == m {
			out = append(out, r)
		}
	}
	return out
}

func (p *phone) contactURI() string {
	addr := p.addr
	if p.private != "" {
		addr = p.private
	}
	if p.tls {
		return "sips:" + p.number + "@" + addr
	}
	return "sip:" + p.number + "@" + addr
}

// toProxy sends req to the proxy, over TLS for a TLS phone.
func (p *phone) toProxy(req *sip.Request) {
	req.SetDestination(p.proxy)
	if p.tls {
		req.SetTransport("TLS")
	}
}

func (p *phone) setMode(code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = code
}

// answerAtOnce makes the phone answer 200 with no provisional response
// first: a proxy cancels a branch only after a 1xx (RFC 3261 §9.1), so
// its answer goes out whatever else answers.
func (p *phone) answerAtOnce() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.noRing = 200, true
}

func (p *phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	r := &ringing{req: req, tx: tx, tag: sip.GenerateTagN(8), answer: make(chan int, 1), cancelled: make(chan struct{})}
	tx.OnCancel(func(c *sip.Request) {
		p.mu.Lock()
		p.cancels = append(p.cancels, c)
		p.mu.Unlock()
		close(r.cancelled)
	})
	p.mu.Lock()
	mode, noRing := p.mode, p.noRing
	p.mu.Unlock()
	if mode >= 300 || mode == 200 && noRing {
		_ = tx.Respond(r.response(mode, p))
		return
	}
	_ = tx.Respond(r.response(180, p))
	if mode == 200 {
		r.answer <- 200
	}
	select {
	case p.incoming <- r:
	default:
	}
	select {
	case code := <-r.answer:
		_ = tx.Respond(r.response(code, p))
	case <-r.cancelled:
	case <-tx.Done():
	case <-time.After(20 * time.Second):
	}
}

func (r *ringing) response(code int, p *phone) *sip.Response {
	res := sip.NewResponseFromRequest(r.req, code, fmt.Sprint(code), nil)
	res.To().Params.Add("tag", r.tag)
	if code < 300 {
		res.AppendHeader(sip.NewHeader("Contact", "<"+p.contactURI()+">"))
	}
	if code == 200 {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody([]byte(testSDP))
	}
	return res
}

// waitRinging returns the next INVITE the phone received.
func (p *phone) waitRinging(d time.Duration) *ringing {
	p.t.Helper()
	select {
	case r := <-p.incoming:
		return r
	case <-time.After(d):
		p.t.Fatalf("phone %s: no INVITE within %v", p.number, d)
		return nil
	}
}

func (p *phone) cancelCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.cancels)
}

func (p *phone) lastCancelReason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.cancels) == 0 {
		return ""
	}
	if h := p.cancels[len(p.cancels)-1].GetHeader("Reason"); h != nil {
		return h.Value()
	}
	return ""
}

func (p *phone) counts() (byes, acks int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byes, p.acks
}

// register sends REGISTER (answering the digest challenge) and returns
// the final response.
func (p *phone) register(expires int, contacts ...string) *sip.Response {
	p.t.Helper()
	res, err := p.tryRegister(p.pw, expires, contacts...)
	if err != nil {
		p.t.Fatal(err)
	}
	return res
}

func (p *phone) tryRegister(pw string, expires int, contacts ...string) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if len(contacts) == 0 {
		contacts = []string{"<" + p.contactURI() + ">"}
	}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: testDomain})
	aor := "<sip:" + p.number + "@" + testDomain + ">"
	req.AppendHeader(sip.NewHeader("From", aor+";tag="+sip.GenerateTagN(8)))
	req.AppendHeader(sip.NewHeader("To", aor))
	for _, c := range contacts {
		req.AppendHeader(sip.NewHeader("Contact", c))
	}
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	p.toProxy(req)
	res, err := p.cli.Do(ctx, req)
	if err != nil || res.StatusCode != 401 {
		return res, err
	}
	return p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.number, Password: pw})
}

// outCall is a call a phone placed.
type outCall struct {
	p   *phone
	req *sip.Request
	tx  sip.ClientTransaction
	res chan *sip.Response
	fin *sip.Response
}

// call sends an INVITE to number through the proxy, answering the 407.
func (p *phone) call(number string, extra ...sip.Header) *outCall {
	p.t.Helper()
	scheme := "sip"
	if p.tls {
		scheme = "sips"
	}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: scheme, User: number, Host: testDomain})
	req.AppendHeader(sip.NewHeader("From", "<sip:"+p.number+"@"+testDomain+">;tag="+sip.GenerateTagN(8)))
	req.AppendHeader(sip.NewHeader("To", "<sip:"+number+"@"+testDomain+">"))
	req.AppendHeader(sip.NewHeader("Contact", "<"+p.contactURI()+">"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	for _, h := range extra {
		req.AppendHeader(h)
	}
	req.SetBody([]byte(testSDP))
	p.toProxy(req)
	c := &outCall{p: p, req: req, res: make(chan *sip.Response, 16)}
	tx, err := p.cli.TransactionRequest(context.Background(), req)
	if err != nil {
		p.t.Fatal(err)
	}
	first := c.next(tx, 5*time.Second)
	if first != nil && first.StatusCode == 407 && p.pw != "" {
		tx.Terminate()
		chal, err := digest.ParseChallenge(first.GetHeader("Proxy-Authenticate").Value())
		if err != nil {
			p.t.Fatal(err)
		}
		cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: req.Recipient.Addr(), Username: p.number, Password: p.pw})
		if err != nil {
			p.t.Fatal(err)
		}
		req.AppendHeader(sip.NewHeader("Proxy-Authorization", cred.String()))
		req.CSeq().SeqNo++
		req.RemoveHeader("Via")
		if tx, err = p.cli.TransactionRequest(context.Background(), req, sipgo.ClientRequestAddVia); err != nil {
			p.t.Fatal(err)
		}
	} else if first != nil {
		c.res <- first
	}
	c.tx = tx
	go c.pump()
	return c
}

// next reads tx's next non-100 response.
func (c *outCall) next(tx sip.ClientTransaction, d time.Duration) *sip.Response {
	timeout := time.After(d)
	for {
		select {
		case r := <-tx.Responses():
			if r.StatusCode == 100 {
				continue
			}
			if !r.IsProvisional() {
				return r
			}
		case <-tx.Done():
			return nil
		case <-timeout:
			return nil
		}
	}
}

func (c *outCall) pump() {
	for {
		select {
		case r := <-c.tx.Responses():
			if r.StatusCode == 100 {
				continue
			}
			c.res <- r
			if !r.IsProvisional() {
				return
			}
		case <-c.tx.Done():
			return
		}
	}
}

// wait returns the next response with status code (skipping others).
func (c *outCall) wait(code int, d time.Duration) *sip.Response {
	c.p.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case r := <-c.res:
			if !r.IsProvisional() {
				c.fin = r
			}
			if r.StatusCode == code {
				return r
			}
			if !r.IsProvisional() {
				c.p.t.Fatalf("call %s: got final %d, want %d", c.req.Recipient.User, r.StatusCode, code)
			}
		case <-timeout:
			c.p.t.Fatalf("call %s: no %d within %v", c.req.Recipient.User, code, d)
		}
	}
}

// cancel sends a CANCEL for the call (built by hand: sipgo's omits CSeq).
func (c *outCall) cancel() {
	c.p.t.Helper()
	req := sip.NewRequest(sip.CANCEL, *c.req.Recipient.Clone())
	req.AppendHeader(c.req.Via().Clone())
	for _, n := range []string{"From", "To", "Call-ID"} {
		req.AppendHeader(sip.NewHeader(n, c.req.GetHeader(n).Value()))
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: c.req.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	c.p.toProxy(req)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.p.cli.Do(ctx, req, func(*sipgo.Client, *sip.Request) error { return nil })
	if err != nil || res.StatusCode != 200 {
		c.p.t.Fatalf("cancel: %v %v", res, err)
	}
}

// ackAndBye acknowledges the 2xx and hangs up through the route set.
func (c *outCall) ackAndBye(hangUp bool) {
	c.p.t.Helper()
	c.ack()
	if hangUp {
		c.bye()
	}
}

// ack acknowledges the call's 2xx along its route set.
func (c *outCall) ack() {
	c.p.t.Helper()
	if err := c.p.cli.WriteRequest(c.inDialog(sip.ACK, c.req.CSeq().SeqNo)); err != nil {
		c.p.t.Fatal(err)
	}
}

// bye hangs the answered call up along its route set and fails the test
// unless it gets a 200.
func (c *outCall) bye() {
	c.p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.p.cli.Do(ctx, c.inDialog(sip.BYE, c.req.CSeq().SeqNo+1))
	if err != nil || res.StatusCode != 200 {
		c.p.t.Fatalf("bye: %v %v", res, err)
	}
}

// inDialog is a request m with CSeq seq in the dialog of the call's 2xx.
func (c *outCall) inDialog(m sip.RequestMethod, seq uint32) *sip.Request {
	ok := c.fin
	r := sip.NewRequest(m, ok.Contact().Address)
	rrs := ok.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- { // a caller's route set is the Record-Route reversed (RFC 3261 §12.1.2)
		r.AppendHeader(sip.NewHeader("Route", rrs[i].Value()))
	}
	r.AppendHeader(sip.NewHeader("From", c.req.GetHeader("From").Value()))
	r.AppendHeader(sip.NewHeader("To", ok.To().Value()))
	r.AppendHeader(sip.NewHeader("Call-ID", c.req.CallID().Value()))
	r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
	return r
}

func (c *outCall) String() string { return fmt.Sprintf("call to %s", c.req.Recipient.User) }
