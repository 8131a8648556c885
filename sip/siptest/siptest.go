// Package siptest has SIP user agents for tests of the ucgrid SIP
// server: a phone on 127.0.0.1 (UDP) that registers with digest
// authentication, subscribes to presence and dialog events and collects
// the NOTIFYs, places calls and rings on incoming ones; and parsers of the
// PIDF and dialog-info bodies (encoding/xml).
package siptest

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// UA is one test phone: a sipgo user agent on its own UDP port, sending
// everything to Proxy.
type UA struct {
	t        testing.TB
	Number   string
	Password string
	Domain   string
	Proxy    string // host:port of the server
	Addr     string // this phone's host:port
	// Private, when set, is the host:port its Contact names instead of
	// Addr: a phone behind a NAT that knows only its private address.
	Private string
	// Incoming receives the INVITEs the phone gets; it answers 180 and
	// rings until the test answers or the caller cancels.
	Incoming chan *Ringing

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	mu          sync.Mutex
	subs        map[string]*Subscription // by Call-ID
	notifyCode  int
	strayNotify int
}

// NewUA starts a phone for line number with its SIP password.
func NewUA(t testing.TB, proxy, domain, number, password string) *UA {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return NewUAOn(t, pc, proxy, domain, number, password)
}

// NewUAOn is NewUA on socket pc (one opened in a network namespace).
func NewUAOn(t testing.TB, pc net.PacketConn, proxy, domain, number, password string) *UA {
	t.Helper()
	u := &UA{t: t, Number: number, Password: password, Domain: domain, Proxy: proxy,
		Incoming: make(chan *Ringing, 8), subs: map[string]*Subscription{}, notifyCode: 200}
	var err error
	if u.ua, err = sipgo.NewUA(sipgo.WithUserAgent("siptest-" + number)); err != nil {
		t.Fatal(err)
	}
	u.srv, _ = sipgo.NewServer(u.ua)
	u.Addr = pc.LocalAddr().String()
	host, port, _ := net.SplitHostPort(u.Addr)
	n, _ := strconv.Atoi(port)
	u.cli, _ = sipgo.NewClient(u.ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(n), sipgo.WithClientConnectionAddr(u.Addr))
	u.srv.OnNotify(u.onNotify)
	u.srv.OnInvite(u.onInvite)
	u.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	u.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	go func() { _ = u.srv.ServeUDP(pc) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := u.ua.TransportLayer().GetConnection("udp", u.Addr); err == nil && c != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("siptest: phone not listening")
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	t.Cleanup(func() { _ = u.ua.Close() })
	return u
}

// ContactURI is the phone's own address (Private when set).
func (u *UA) ContactURI() string {
	if u.Private != "" {
		return "sip:" + u.Number + "@" + u.Private
	}
	return "sip:" + u.Number + "@" + u.Addr
}

// SetNotifyAnswer makes the phone answer NOTIFYs with code (default 200).
func (u *UA) SetNotifyAnswer(code int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.notifyCode = code
}

// StrayNotifies counts NOTIFYs that matched no subscription.
func (u *UA) StrayNotifies() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.strayNotify
}

func (u *UA) aor() string { return "<sip:" + u.Number + "@" + u.Domain + ">" }

func ctx10() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// do sends req, answers one digest challenge, and returns the final
// response (nil and an error when none came).
func (u *UA) do(req *sip.Request) (*sip.Response, error) {
	ctx, cancel := ctx10()
	defer cancel()
	req.SetDestination(u.Proxy)
	res, err := u.cli.Do(ctx, req)
	if err != nil || (res.StatusCode != 401 && res.StatusCode != 407) {
		return res, err
	}
	return u.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: u.Number, Password: u.Password})
}

// Register binds the phone's address to its line for expires seconds
// and returns the final response.
func (u *UA) Register(expires int) *sip.Response {
	u.t.Helper()
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: u.Domain})
	req.AppendHeader(sip.NewHeader("From", u.aor()+";tag="+sip.GenerateTagN(8)))
	req.AppendHeader(sip.NewHeader("To", u.aor()))
	req.AppendHeader(sip.NewHeader("Contact", "<"+u.ContactURI()+">"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	res, err := u.do(req)
	if err != nil {
		u.t.Fatalf("siptest: register %s: %v", u.Number, err)
	}
	return res
}

// Subscription is one SUBSCRIBE dialog the phone started.
type Subscription struct {
	u       *UA
	Event   string
	Target  string // the resource's user part
	CallID  string
	fromTag string
	toTag   string
	cseq    uint32
	// Notifies receives every NOTIFY of the subscription, in order.
	Notifies chan *Notify
}

// Notify is one NOTIFY received.
type Notify struct {
	Req     *sip.Request
	State   string // Subscription-State value: active, pending, terminated
	Reason  string // its reason parameter
	Expires int    // its expires parameter (-1 when absent)
	Body    []byte
	Type    string // Content-Type
}

// Subscribe sends SUBSCRIBE for event on sip:target@domain with the
// Expires header (none when expires < 0) and extra headers. It returns
// the subscription (its NOTIFYs arrive on Notifies even before the
// response) and the final response.
func (u *UA) Subscribe(target, event string, expires int, extra ...sip.Header) (*Subscription, *sip.Response) {
	u.t.Helper()
	s := &Subscription{u: u, Event: event, Target: target, CallID: sip.GenerateTagN(20),
		fromTag: sip.GenerateTagN(8), cseq: 1, Notifies: make(chan *Notify, 64)}
	u.mu.Lock()
	u.subs[s.CallID] = s
	u.mu.Unlock()
	req := s.request(expires, extra)
	res, err := u.do(req)
	if err != nil {
		u.t.Fatalf("siptest: subscribe %s %s: %v", event, target, err)
	}
	if cs := req.CSeq(); cs != nil {
		s.cseq = cs.SeqNo
	}
	if to := res.To(); to != nil {
		s.toTag, _ = to.Params.Get("tag")
	}
	return s, res
}

func (s *Subscription) request(expires int, extra []sip.Header) *sip.Request {
	u := s.u
	req := sip.NewRequest(sip.SUBSCRIBE, sip.Uri{Scheme: "sip", User: s.Target, Host: u.Domain})
	req.AppendHeader(sip.NewHeader("From", u.aor()+";tag="+s.fromTag))
	to := "<sip:" + s.Target + "@" + u.Domain + ">"
	if s.toTag != "" {
		to += ";tag=" + s.toTag
	}
	req.AppendHeader(sip.NewHeader("To", to))
	req.AppendHeader(sip.NewHeader("Call-ID", s.CallID))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(sip.NewHeader("Contact", "<"+u.ContactURI()+">"))
	if s.Event != "" {
		req.AppendHeader(sip.NewHeader("Event", s.Event))
	}
	if expires >= 0 {
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	}
	for _, h := range extra {
		req.AppendHeader(h)
	}
	return req
}

// Refresh sends an in-dialog SUBSCRIBE with a new Expires (0
// un-subscribes) and returns the final response.
func (s *Subscription) Refresh(expires int) *sip.Response {
	s.u.t.Helper()
	s.cseq++
	req := s.request(expires, nil)
	res, err := s.u.do(req)
	if err != nil {
		s.u.t.Fatalf("siptest: refresh: %v", err)
	}
	s.cseq = req.CSeq().SeqNo
	return res
}

// Next returns the next NOTIFY, failing the test when none comes within d.
func (s *Subscription) Next(d time.Duration) *Notify {
	s.u.t.Helper()
	select {
	case n := <-s.Notifies:
		return n
	case <-time.After(d):
		s.u.t.Fatalf("siptest: no NOTIFY for %s %s within %v", s.Event, s.Target, d)
		return nil
	}
}

// Quiet fails the test when a NOTIFY arrives within d.
func (s *Subscription) Quiet(d time.Duration) {
	s.u.t.Helper()
	select {
	case n := <-s.Notifies:
		s.u.t.Fatalf("siptest: unexpected NOTIFY for %s %s: %s %s\n%s", s.Event, s.Target, n.State, n.Reason, n.Body)
	case <-time.After(d):
	}
}

func (u *UA) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	u.mu.Lock()
	s := u.subs[req.CallID().Value()]
	code := u.notifyCode
	if s == nil {
		u.strayNotify++
		code = 481
	}
	u.mu.Unlock()
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Answer", nil))
	if s == nil || code >= 300 {
		return
	}
	n := &Notify{Req: req, Expires: -1, Body: req.Body()}
	if h := req.GetHeader("Content-Type"); h != nil {
		n.Type = h.Value()
	}
	if h := req.GetHeader("Subscription-State"); h != nil {
		parts := strings.Split(h.Value(), ";")
		n.State = strings.TrimSpace(parts[0])
		for _, p := range parts[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			switch k {
			case "reason":
				n.Reason = v
			case "expires":
				n.Expires, _ = strconv.Atoi(v)
			}
		}
	}
	select {
	case s.Notifies <- n:
	default:
	}
}

// Ringing is an INVITE the phone received.
type Ringing struct {
	Req       *sip.Request
	tx        sip.ServerTransaction
	tag       string
	answer    chan int
	Cancelled chan struct{}
}

// Answer answers the ringing INVITE with code.
func (r *Ringing) Answer(code int) { r.answer <- code }

func (u *UA) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	r := &Ringing{Req: req, tx: tx, tag: sip.GenerateTagN(8), answer: make(chan int, 1), Cancelled: make(chan struct{})}
	tx.OnCancel(func(*sip.Request) { close(r.Cancelled) })
	resp := func(code int) *sip.Response {
		res := sip.NewResponseFromRequest(req, code, "R", nil)
		res.To().Params.Add("tag", r.tag)
		if code < 300 {
			res.AppendHeader(sip.NewHeader("Contact", "<"+u.ContactURI()+">"))
		}
		if code == 200 {
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			res.SetBody([]byte(SDP))
		}
		return res
	}
	_ = tx.Respond(resp(180))
	select {
	case u.Incoming <- r:
	default:
	}
	select {
	case code := <-r.answer:
		_ = tx.Respond(resp(code))
	case <-r.Cancelled:
	case <-tx.Done():
	case <-time.After(30 * time.Second):
	}
}

// SDP is a minimal audio offer/answer.
const SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

// Call is an INVITE the phone placed. It is for ringing and cancelling:
// a 2xx is not acknowledged unless Hangup is called with it.
type Call struct {
	u   *UA
	req *sip.Request
	tx  sip.ClientTransaction
	// Responses receives every response after the authentication, until
	// the final one.
	Responses chan *sip.Response
}

// Call sends an INVITE to number through the proxy, answering the 407.
func (u *UA) Call(number string) *Call {
	u.t.Helper()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: number, Host: u.Domain})
	req.AppendHeader(sip.NewHeader("From", u.aor()+";tag="+sip.GenerateTagN(8)))
	req.AppendHeader(sip.NewHeader("To", "<sip:"+number+"@"+u.Domain+">"))
	req.AppendHeader(sip.NewHeader("Contact", "<"+u.ContactURI()+">"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(SDP))
	req.SetDestination(u.Proxy)
	c := &Call{u: u, req: req, Responses: make(chan *sip.Response, 16)}
	tx, err := u.cli.TransactionRequest(context.Background(), req)
	if err != nil {
		u.t.Fatal(err)
	}
	first := waitFinalOrRinging(tx, 10*time.Second)
	if first != nil && (first.StatusCode == 407 || first.StatusCode == 401) {
		tx.Terminate()
		ctx, cancel := ctx10()
		defer cancel()
		if tx, err = u.cli.TransactionDigestAuth(ctx, req, first, sipgo.DigestAuth{Username: u.Number, Password: u.Password}); err != nil {
			u.t.Fatal(err)
		}
	} else if first != nil {
		c.Responses <- first
	}
	c.tx = tx
	go func() {
		for {
			select {
			case res := <-tx.Responses():
				select {
				case c.Responses <- res:
				default:
				}
				if !res.IsProvisional() {
					return
				}
			case <-tx.Done():
				return
			}
		}
	}()
	return c
}

func waitFinalOrRinging(tx sip.ClientTransaction, d time.Duration) *sip.Response {
	timeout := time.After(d)
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode != 100 {
				return res
			}
		case <-tx.Done():
			return nil
		case <-timeout:
			return nil
		}
	}
}

// WaitStatus returns the first response with a status in [lo, hi],
// failing the test after d.
func (c *Call) WaitStatus(lo, hi int, d time.Duration) *sip.Response {
	c.u.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case res := <-c.Responses:
			if res.StatusCode >= lo && res.StatusCode <= hi {
				return res
			}
		case <-timeout:
			c.u.t.Fatalf("siptest: no %d..%d response within %v", lo, hi, d)
			return nil
		}
	}
}

// Hangup ends the call answered by ok (its 2xx): an ACK and a BYE along
// the route set the 2xx's Record-Route gives, failing the test unless
// the BYE gets a 200.
func (c *Call) Hangup(ok *sip.Response) {
	c.u.t.Helper()
	inDialog := func(m sip.RequestMethod, seq uint32) *sip.Request {
		r := sip.NewRequest(m, ok.Contact().Address)
		rrs := ok.GetHeaders("Record-Route")
		for i := len(rrs) - 1; i >= 0; i-- { // the caller's route set is the Record-Route reversed (RFC 3261 §12.1.2)
			r.AppendHeader(sip.NewHeader("Route", rrs[i].Value()))
		}
		r.AppendHeader(sip.NewHeader("From", c.req.GetHeader("From").Value()))
		r.AppendHeader(sip.NewHeader("To", ok.To().Value()))
		r.AppendHeader(sip.NewHeader("Call-ID", c.req.CallID().Value()))
		r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
		return r
	}
	if err := c.u.cli.WriteRequest(inDialog(sip.ACK, c.req.CSeq().SeqNo)); err != nil {
		c.u.t.Fatalf("siptest: ACK: %v", err)
	}
	ctx, cancel := ctx10()
	defer cancel()
	res, err := c.u.cli.Do(ctx, inDialog(sip.BYE, c.req.CSeq().SeqNo+1))
	if err != nil || res.StatusCode != 200 {
		c.u.t.Fatalf("siptest: BYE: %v %v", res, err)
	}
}

// Cancel sends CANCEL for the call's INVITE.
func (c *Call) Cancel() {
	inv := c.req
	req := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	if v := inv.Via(); v != nil {
		req.AppendHeader(v.Clone())
	}
	for _, name := range []string{"From", "To", "Call-ID"} {
		if h := inv.GetHeader(name); h != nil {
			req.AppendHeader(sip.NewHeader(name, h.Value()))
		}
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.SetDestination(c.u.Proxy)
	ctx, cancel := ctx10()
	defer cancel()
	res, err := c.u.cli.Do(ctx, req, func(*sipgo.Client, *sip.Request) error { return nil })
	if err != nil || res.StatusCode != 200 {
		c.u.t.Fatalf("siptest: CANCEL: %v %v", res, err)
	}
}

// PIDF is the part of a PIDF document (RFC 3863, RPID RFC 4480) the
// tests read.
type PIDF struct {
	XMLName xml.Name `xml:"urn:ietf:params:xml:ns:pidf presence"`
	Entity  string   `xml:"entity,attr"`
	Tuples  []struct {
		ID    string   `xml:"id,attr"`
		Basic string   `xml:"urn:ietf:params:xml:ns:pidf status>basic"`
		Notes []string `xml:"urn:ietf:params:xml:ns:pidf note"`
	} `xml:"urn:ietf:params:xml:ns:pidf tuple"`
	Notes  []string `xml:"urn:ietf:params:xml:ns:pidf note"`
	Person struct {
		Activities struct {
			Any []struct {
				XMLName xml.Name
				Text    string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"urn:ietf:params:xml:ns:pidf:rpid activities"`
		UserInput string `xml:"urn:ietf:params:xml:ns:pidf:rpid user-input"`
	} `xml:"urn:ietf:params:xml:ns:pidf:data-model person"`
}

// Activities lists the RPID activity element names (and other's text).
func (p PIDF) Activities() []string {
	var out []string
	for _, a := range p.Person.Activities.Any {
		if a.XMLName.Local == "other" {
			out = append(out, "other:"+a.Text)
			continue
		}
		out = append(out, a.XMLName.Local)
	}
	return out
}

// AllNotes are every note of the document (presence and tuples).
func (p PIDF) AllNotes() []string {
	out := append([]string(nil), p.Notes...)
	for _, t := range p.Tuples {
		out = append(out, t.Notes...)
	}
	return out
}

// ParsePIDF decodes a PIDF document.
func ParsePIDF(b []byte) (PIDF, error) {
	var p PIDF
	if err := xml.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("siptest: pidf: %w\n%s", err, b)
	}
	return p, nil
}

// DialogInfo is a dialog-info document (RFC 4235).
type DialogInfo struct {
	XMLName xml.Name `xml:"urn:ietf:params:xml:ns:dialog-info dialog-info"`
	Version int      `xml:"version,attr"`
	State   string   `xml:"state,attr"`
	Entity  string   `xml:"entity,attr"`
	Dialogs []struct {
		ID        string `xml:"id,attr"`
		CallID    string `xml:"call-id,attr"`
		LocalTag  string `xml:"local-tag,attr"`
		RemoteTag string `xml:"remote-tag,attr"`
		Direction string `xml:"direction,attr"`
		State     string `xml:"urn:ietf:params:xml:ns:dialog-info state"`
		Remote    struct {
			Identity string `xml:"urn:ietf:params:xml:ns:dialog-info identity"`
		} `xml:"urn:ietf:params:xml:ns:dialog-info remote"`
		Local struct {
			Identity string `xml:"urn:ietf:params:xml:ns:dialog-info identity"`
		} `xml:"urn:ietf:params:xml:ns:dialog-info local"`
	} `xml:"urn:ietf:params:xml:ns:dialog-info dialog"`
}

// ParseDialogInfo decodes a dialog-info document.
func ParseDialogInfo(b []byte) (DialogInfo, error) {
	var d DialogInfo
	if err := xml.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("siptest: dialog-info: %w\n%s", err, b)
	}
	return d, nil
}
