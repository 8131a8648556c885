package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// benchSDP is the offer and answer of every call: the load generator
// sends no media.
const benchSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=ucgrid-bench\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

// userAgent is one sipgo user agent on a UDP socket of 127.0.0.1: it
// sends requests (REGISTER, INVITE) and answers the ones it receives.
// A phoneBank is a userAgent whose contact serves many lines (the
// Request-URI's user names the line); a caller is one that places calls.
type userAgent struct {
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	addr   string
	dialog *sipgo.DialogUA
	pc     net.PacketConn
}

func newUserAgent(name string, logger *slog.Logger) (*userAgent, error) {
	u := &userAgent{}
	var err error
	if u.ua, err = sipgo.NewUA(sipgo.WithUserAgent(name),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(logger)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(logger))); err != nil {
		return nil, fmt.Errorf("bench: sip user agent: %w", err)
	}
	if u.srv, err = sipgo.NewServer(u.ua, sipgo.WithServerLogger(logger)); err != nil {
		return nil, fmt.Errorf("bench: sip server: %w", err)
	}
	if u.pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("bench: sip socket: %w", err)
	}
	u.addr = u.pc.LocalAddr().String()
	host, port, _ := net.SplitHostPort(u.addr) // our own listener's address
	n, _ := strconv.Atoi(port)
	u.cli, err = sipgo.NewClient(u.ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(n),
		sipgo.WithClientConnectionAddr(u.addr), sipgo.WithClientLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("bench: sip client: %w", err)
	}
	u.dialog = &sipgo.DialogUA{Client: u.cli, ContactHDR: sip.ContactHeader{
		Address: sip.Uri{Scheme: "sip", User: name, Host: host, Port: n}}}
	return u, nil
}

// serve starts reading the socket (handlers must be set before) and
// waits until the transport layer knows it: a request sent earlier
// would make the client bind the address a second time.
func (u *userAgent) serve() error {
	// ServeUDP ends with an error when close() closes the socket.
	go func() { _ = u.srv.ServeUDP(u.pc) }()
	return poll(context.Background(), 5*time.Second, time.Millisecond, func() error {
		if c, err := u.ua.TransportLayer().GetConnection("udp", u.addr); err != nil || c == nil {
			return fmt.Errorf("bench: sip socket %s not served yet", u.addr)
		}
		return nil
	})
}

func (u *userAgent) close() {
	// Closing the UA closes its transports; an error only says one was closed already.
	_ = u.ua.Close()
	_ = u.pc.Close()
}

// register sends a REGISTER for line number (contact: this agent's
// address with the line as user), answers the digest challenge, and
// returns the final status.
func (u *userAgent) register(ctx context.Context, proxy, domain, number, pw string, expires int) (int, error) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: domain})
	aor := "<sip:" + number + "@" + domain + ">"
	req.AppendHeader(sip.NewHeader("From", aor+";tag="+sip.GenerateTagN(8)))
	req.AppendHeader(sip.NewHeader("To", aor))
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+number+"@"+u.addr+">"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	req.SetDestination(proxy)
	res, err := u.cli.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	if res.StatusCode == 401 {
		res, err = u.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: number, Password: pw})
		if err != nil {
			return 0, err
		}
	}
	return res.StatusCode, nil
}

// phoneBank answers INVITEs for every line registered on it: 180 at
// once, 200 after AnswerAfter (plus up to as much again at random, so
// the branches of a ring_all call do not all answer at the same
// instant), then holds the dialog until BYE or CANCEL.
type phoneBank struct {
	*userAgent
	answerAfter time.Duration
	dialogs     *sipgo.DialogServerCache
	invites     atomic.Int64
	answered    atomic.Int64
	cancelled   atomic.Int64
}

func newPhoneBank(name string, answerAfter time.Duration, logger *slog.Logger) (*phoneBank, error) {
	u, err := newUserAgent(name, logger)
	if err != nil {
		return nil, err
	}
	b := &phoneBank{userAgent: u, answerAfter: answerAfter}
	b.dialogs = sipgo.NewDialogServerCache(u.cli, u.dialog.ContactHDR)
	u.srv.OnInvite(b.onInvite)
	u.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		// An ACK of an unknown dialog (a branch the proxy gave up) is dropped.
		_ = b.dialogs.ReadAck(req, tx)
	})
	u.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := b.dialogs.ReadBye(req, tx); err != nil {
			// ReadBye answers known dialogs itself; an unknown one gets 481.
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		}
	})
	if err := u.serve(); err != nil {
		u.close()
		return nil, err
	}
	return b, nil
}

func (b *phoneBank) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	b.invites.Add(1)
	d, err := b.dialogs.ReadInvite(req, tx)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 400, err.Error(), nil)) // best effort: the proxy times the branch out otherwise
		return
	}
	defer d.Close()
	// A failed write shows as the caller's failure; nothing to do here.
	_ = d.Respond(180, "Ringing", nil)
	wait := b.answerAfter
	if wait > 0 {
		wait += rand.N(b.answerAfter)
	}
	select {
	case <-d.Context().Done():
		b.cancelled.Add(1)
		return
	case <-time.After(wait): // the phone "rings" for a while
	}
	if err := d.RespondSDP([]byte(benchSDP)); err != nil {
		return
	}
	b.answered.Add(1)
	// The server transaction lives as long as this handler: hold the
	// dialog until BYE (or the proxy's end of it).
	select {
	case <-d.Context().Done():
	case <-time.After(2 * time.Minute):
	}
}

// callTimes are the moments of one call's progress.
type callTimes struct {
	ringing, answered time.Time
}

// callError is a call that ended without a 2xx: the status says why;
// retryAfter is the Retry-After of a 503 (0 when none).
type callError struct {
	code       int
	retryAfter time.Duration
}

func (e *callError) Error() string { return fmt.Sprintf("bench: call answered %d", e.code) }

// errNoResponse is an INVITE the proxy answered nothing to, not even
// 100 Trying, within the failover timer: the node is down or cut off.
var errNoResponse = errors.New("bench: no response from the proxy")

// call places a call from this agent to number at proxy (as a trunk:
// no digest), waits for the answer, sends ACK, holds for hold and hangs
// up. It returns when the 180 and the 200 arrived.
func (u *userAgent) call(ctx context.Context, proxy, domain, from, number string, hold time.Duration) (callTimes, error) {
	return u.dial(ctx, dialSpec{proxy: proxy, domain: domain, from: from, number: number, hold: hold})
}

// dialSpec is one call attempt through one proxy.
type dialSpec struct {
	proxy, domain, from, number string
	hold                        time.Duration
	// noResponse > 0 gives up with errNoResponse when the proxy sent
	// nothing at all within it (RFC 3261 would wait Timer B, 32 s).
	noResponse time.Duration
}

// dial is call with the failover timer of spec.
func (u *userAgent) dial(ctx context.Context, spec dialSpec) (callTimes, error) {
	var ct callTimes
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: spec.number, Host: spec.domain})
	req.AppendHeader(sip.NewHeader("From", "<sip:"+spec.from+"@"+spec.domain+">;tag="+sip.GenerateTagN(8)))
	req.AppendHeader(sip.NewHeader("To", "<sip:"+spec.number+"@"+spec.domain+">"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(benchSDP))
	req.SetDestination(spec.proxy)
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var heard atomic.Bool
	if spec.noResponse > 0 {
		silent := time.AfterFunc(spec.noResponse, func() {
			if !heard.Load() {
				// Force: sipgo would otherwise wait for a response to CANCEL.
				cancel(sipgo.WaitAnswerForceCancelErr)
			}
		})
		defer silent.Stop()
	}
	d, err := u.dialog.WriteInvite(wctx, req)
	if err != nil {
		return ct, err
	}
	defer d.Close()
	err = d.WaitAnswer(wctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		heard.Store(true)
		if r.StatusCode >= 180 && r.StatusCode < 200 && ct.ringing.IsZero() {
			ct.ringing = time.Now()
		}
		return nil
	}})
	if err != nil {
		return ct, answerError(wctx, err, heard.Load())
	}
	ct.answered = time.Now()
	return ct, u.talk(ctx, d, spec.hold)
}

// answerError turns WaitAnswer's error into a callError, errNoResponse
// or the error itself.
func answerError(ctx context.Context, err error, heard bool) error {
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) {
		ce := &callError{code: de.Res.StatusCode}
		if h := de.Res.GetHeader("Retry-After"); h != nil {
			// Retry-After: SECONDS [(comment)][;params]
			secs, _, _ := strings.Cut(strings.TrimSpace(h.Value()), " ")
			secs, _, _ = strings.Cut(secs, ";")
			if n, perr := strconv.Atoi(secs); perr == nil && n > 0 {
				ce.retryAfter = time.Duration(n) * time.Second
			}
		}
		return ce
	}
	if !heard && errors.Is(context.Cause(ctx), sipgo.WaitAnswerForceCancelErr) {
		return errNoResponse
	}
	return err
}

// talk acknowledges the answer, holds the call for hold and hangs up.
func (u *userAgent) talk(ctx context.Context, d *sipgo.DialogClientSession, hold time.Duration) error {
	if err := d.Ack(ctx); err != nil {
		return fmt.Errorf("bench: ack: %w", err)
	}
	if hold > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(hold): // the call's talk time
		}
	}
	byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.Bye(byeCtx); err != nil {
		return fmt.Errorf("bench: bye: %w", err)
	}
	return nil
}

// sipErrKind names a SIP failure for the report.
func sipErrKind(err error) string {
	var ce *callError
	switch {
	case errors.As(err, &ce):
		return strconv.Itoa(ce.code)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, sip.ErrTransactionTimeout):
		return "timeout"
	case errors.Is(err, errNoResponse):
		return "no response"
	default:
		return "error"
	}
}
