package sip

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// trunkTx is the INVITE transaction of a trunk branch as the branch
// sees it: when the upstream answers 401 or 407 first, it sends the
// INVITE again with the trunk's digest credentials (a new transaction:
// CSeq one higher, a new Via branch; the branch's request and the CSeq
// shift of its dialog follow, so CANCEL, ACK and in-dialog requests
// match) and passes on that one's responses, with the caller's CSeq.
// Only one challenge is answered: a second one is the final response.
// Every response tells the trunk's overload state (overloadcontrol.go)
// what the upstream asks for.
type trunkTx struct {
	s     *Server
	b     *branch
	trunk string
	out   *dirpb.TrunkOutbound

	res  chan *sip.Response
	done chan struct{}

	mu      sync.Mutex
	cur     sip.ClientTransaction
	retried bool
	onRetx  sip.FnTxResponse
}

func newTrunkTx(s *Server, b *branch, inner sip.ClientTransaction, trunk string, out *dirpb.TrunkOutbound) *trunkTx {
	return &trunkTx{s: s, b: b, trunk: trunk, out: out, cur: inner, res: make(chan *sip.Response), done: make(chan struct{})}
}

func (t *trunkTx) current() sip.ClientTransaction {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

// Responses are the responses of the current INVITE transaction.
func (t *trunkTx) Responses() <-chan *sip.Response { return t.res }

// Done is closed when the current transaction is done and no retry follows.
func (t *trunkTx) Done() <-chan struct{} { return t.done }

// Err is the current transaction's.
func (t *trunkTx) Err() error { return t.current().Err() }

// Terminate ends the current transaction.
func (t *trunkTx) Terminate() { t.current().Terminate() }

// OnTerminate registers f on the current transaction.
func (t *trunkTx) OnTerminate(f sip.FnTxTerminate) bool { return t.current().OnTerminate(f) }

// OnRetransmission registers f for 2xx retransmissions of this and a
// retried transaction.
func (t *trunkTx) OnRetransmission(f sip.FnTxResponse) bool {
	t.mu.Lock()
	t.onRetx = f
	cur := t.cur
	t.mu.Unlock()
	return cur.OnRetransmission(f)
}

// pump moves responses from the current transaction to the branch,
// answering the first challenge.
func (t *trunkTx) pump() {
	defer close(t.done)
	for {
		cur := t.current()
		select {
		case res := <-cur.Responses():
			t.s.trunkRegs.oc.observe(t.trunk, res, time.Now())
			if t.challenge(res) && t.retry(res) {
				continue
			}
			t.pass(res, cur)
		case <-cur.Done():
			return
		}
	}
}

// pass hands res on to the branch's reader, with the caller's CSeq.
func (t *trunkTx) pass(res *sip.Response, cur sip.ClientTransaction) {
	t.mu.Lock()
	retried := t.retried
	t.mu.Unlock()
	if retried {
		res = res.Clone()
		if cs := res.CSeq(); cs != nil {
			cs.SeqNo = t.b.c.req.CSeq().SeqNo
		}
	}
	select {
	case t.res <- res:
	case <-cur.Done():
	}
}

func (t *trunkTx) challenge(res *sip.Response) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.retried && t.out.GetPassword() != "" &&
		(res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired)
}

// retry sends the INVITE again with credentials for challenge res; false
// when it could not (no usable challenge, the branch is being cancelled,
// or sending failed): res is then the final response.
func (t *trunkTx) retry(res *sip.Response) bool {
	b := t.b
	b.mu.Lock()
	req := b.req.Clone()
	cancelling := b.cancelReason != nil
	b.mu.Unlock()
	if cancelling {
		return false
	}
	if err := answerChallenge(req, res, t.out); err != nil {
		t.s.log.Warn("sip: trunk challenge not answered", "err", err)
		return false
	}
	req.RemoveHeader("Via")
	req.CSeq().SeqNo++
	ctx := context.WithoutCancel(b.c.ctx)
	next, err := t.s.client.TransactionRequest(ctx, req, t.s.addVia, ocVia)
	if err != nil {
		t.s.log.Warn("sip: trunk retry", "err", err)
		return false
	}
	t.mu.Lock()
	t.cur, t.retried = next, true
	onRetx := t.onRetx
	t.mu.Unlock()
	if onRetx != nil {
		seq := b.c.req.CSeq().SeqNo
		next.OnRetransmission(func(res *sip.Response) {
			res = res.Clone()
			if cs := res.CSeq(); cs != nil {
				cs.SeqNo = seq // the caller's, as pass gives it
			}
			onRetx(res)
		})
	}
	b.mu.Lock()
	b.req, b.cseqShift = req, 1
	b.mu.Unlock()
	return true
}

// answerChallenge adds to req the credentials answering res's challenge
// with the trunk's user and password.
func answerChallenge(req *sip.Request, res *sip.Response, out *dirpb.TrunkOutbound) error {
	name, answer := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		name, answer = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := res.GetHeader(name)
	if h == nil {
		return fmt.Errorf("sip: %d without %s", res.StatusCode, name)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return fmt.Errorf("sip: %s: %w", name, err)
	}
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	user := out.GetAuthUsername()
	if user == "" {
		user = out.GetUsername()
	}
	cred, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: req.Recipient.Addr(),
		Username: user, Password: out.GetPassword()})
	if err != nil {
		return fmt.Errorf("sip: digest: %w", err)
	}
	removeAll(req, answer)
	req.AppendHeader(sip.NewHeader(answer, cred.String()))
	return nil
}
