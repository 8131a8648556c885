package sip

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/persistence"
)

// Subscriptions (RFC 6665) to the events "presence" (PIDF, RFC 3863) and
// "dialog" (dialog-info, RFC 4235, for BLF keys) of a user or a line.
//
// The resource is the Request-URI user sip:ID@DOMAIN: a line number
// names that line, else ID is a user id. presence of a line is its
// owner's presence; dialog of a user is their primary line. The
// subscriber authenticates with its line's digest credentials (401) on
// the initial SUBSCRIBE and every refresh; the subscriber's identity, the
// viewer whose rights filter everything it is sent, is the line's owner.
//
// Each subscription is one hub session watching one user or line: the
// hub sends the views already filtered by the viewer's rights (the note
// only with see_note, a call's remote party only with the line's
// incoming/outgoing right). A view that shows nothing any more (a revoked
// right) ends the subscription with reason=rejected.

// Events served, and their bodies.
const (
	eventPresence = "presence"
	eventDialog   = "dialog"
	ctPIDF        = "application/pidf+xml"
	ctDialogInfo  = "application/dialog-info+xml"
	allowEvents   = "presence, dialog"
	// statusBadEvent answers an event package not served (RFC 6665).
	statusBadEvent = 489
)

const (
	// defaultSubExpires is a subscription's duration when SUBSCRIBE has
	// no Expires (RFC 3856 and RFC 4235 both default to 3600 s).
	defaultSubExpires = time.Hour
	// maxSubsPerLine bounds the subscriptions one line may hold on a node:
	// a 100-key BLF expansion module watching dialog and presence fits,
	// a runaway phone does not eat the node.
	maxSubsPerLine = 256
	// subBuffer is the hub session's room for undelivered views. Only the
	// latest view matters: the subscription's loop reads them while a
	// NOTIFY is in flight, so the buffer only has to cover a burst.
	subBuffer = 32
	// finalNotifyTimeout bounds the terminating NOTIFY sent at shutdown.
	finalNotifyTimeout = 2 * time.Second
)

// Subscription-State reasons (RFC 6665 §4.1.3).
const (
	reasonTimeout     = "timeout"     // expired or un-subscribed
	reasonRejected    = "rejected"    // the right to see the resource was revoked
	reasonDeactivated = "deactivated" // resubscribe at once (node shutting down, view lost)
)

// subTable holds this node's subscriptions by dialog (Call-ID and our
// tag) and counts them per subscribing line.
type subTable struct {
	mu     sync.Mutex
	byKey  map[string]*subscription
	byLine map[string]int
}

func newSubTable() *subTable {
	return &subTable{byKey: map[string]*subscription{}, byLine: map[string]int{}}
}

func subKey(callID, localTag string) string { return callID + "\x00" + localTag }

// add registers sub unless its line holds maxSubsPerLine already.
func (t *subTable) add(sub *subscription) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byLine[sub.line] >= maxSubsPerLine {
		return false
	}
	t.byKey[sub.key] = sub
	t.byLine[sub.line]++
	return true
}

func (t *subTable) remove(sub *subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byKey[sub.key] != sub {
		return
	}
	delete(t.byKey, sub.key)
	if t.byLine[sub.line]--; t.byLine[sub.line] <= 0 {
		delete(t.byLine, sub.line)
	}
}

func (t *subTable) get(key string) *subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byKey[key]
}

// EndSubscriptions ends, with a terminating NOTIFY (Subscription-State:
// terminated;reason=rejected), every subscription of this node made from
// a line match accepts: its owner's access ended (disabled, deleted, new
// password or roles; the line deleted, given a new SIP password or
// another owner). It answers how many it ended.
func (s *Server) EndSubscriptions(match func(line string) bool) int {
	s.subs.mu.Lock()
	var end []*subscription
	for _, sub := range s.subs.byKey {
		if match(sub.line) {
			end = append(end, sub)
		}
	}
	s.subs.mu.Unlock()
	for _, sub := range end {
		select {
		case sub.revoke <- struct{}{}:
		default: // already asked
		}
	}
	return len(end)
}

// Subscriptions is the number of subscriptions the server holds.
func (s *Server) Subscriptions() int { return s.subs.len() }

// len is the number of subscriptions held (tests check none leak).
func (t *subTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}

// subscription is one SUBSCRIBE dialog: its loop goroutine owns the
// views, the expiry and the NOTIFYs.
type subscription struct {
	s       *Server
	key     string
	event   string // eventPresence or eventDialog
	eventID string // the Event header's id parameter, echoed in NOTIFY
	line    string // the subscriber's line
	entity  string // the resource's URI, sip:ID@DOMAIN
	number  string // the watched line (dialog)
	session *actors.Session

	// dialog state for NOTIFY
	callID    string
	localTag  string
	local     string // From of our NOTIFYs (the SUBSCRIBE's To, with our tag)
	remote    string // To of our NOTIFYs (the SUBSCRIBE's From, with its tag)
	target    sip.Uri
	routes    []string
	transport string
	flow      string // the SUBSCRIBE's source when the subscriber is behind a NAT (natted)
	cseq      uint32

	// refresh carries a refresh's new expiry (zero time: un-subscribe)
	// to the loop; revoke ends it (EndSubscriptions); done closes when
	// the loop has ended.
	refresh chan time.Time
	revoke  chan struct{}
	done    chan struct{}

	// loop state
	presence *actorspb.PresenceView
	lineView *actorspb.LineView
	version  int // dialog-info version of the next NOTIFY
}

// onSubscribe serves SUBSCRIBE: a new subscription, or a refresh or
// un-subscribe of one this node holds. In-dialog SUBSCRIBEs between
// phones that we record-routed are relayed.
func (s *Server) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) {
		tag, _ := req.To().Params.Get("tag")
		if sub := s.subs.get(subKey(callID(req), tag)); sub != nil {
			s.refreshSubscription(req, tx, sub)
			return
		}
		if s.isRoutedThrough(req) {
			s.onInDialog(req, tx)
			return
		}
		s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
		return
	}
	s.newSubscription(req, tx)
}

// subscribeRequest is a validated initial SUBSCRIBE.
type subscribeRequest struct {
	event, eventID string
	contact        sip.Uri
	expires        time.Duration // 0: a fetch (RFC 6665 §4.4.3)
}

// checkSubscribe validates the parts of a SUBSCRIBE that need no
// directory: mandatory headers, event, Accept, Contact, Expires. A
// non-zero code is the error answer.
func (s *Server) checkSubscribe(req *sip.Request) (subscribeRequest, int, string) {
	var r subscribeRequest
	if req.CallID() == nil || req.From() == nil || req.To() == nil || req.CSeq() == nil {
		return r, sip.StatusBadRequest, "Missing Mandatory Header"
	}
	if _, ok := req.From().Params.Get("tag"); !ok {
		return r, sip.StatusBadRequest, "Missing From Tag"
	}
	ev := req.GetHeader("Event")
	if ev == nil {
		if ev = req.GetHeader("o"); ev == nil {
			return r, statusBadEvent, "Bad Event"
		}
	}
	r.event, r.eventID = parseEvent(ev.Value())
	if r.event != eventPresence && r.event != eventDialog {
		return r, statusBadEvent, "Bad Event"
	}
	if !accepts(req, bodyType(r.event)) {
		return r, sip.StatusNotAcceptable, "Not Acceptable"
	}
	contacts, err := contactValues(req)
	if err != nil || len(contacts) != 1 || contacts[0].uri.Wildcard {
		return r, sip.StatusBadRequest, "Bad Contact"
	}
	r.contact = contacts[0].uri
	exp, code, reason := s.subExpires(req)
	if code != 0 {
		return r, code, reason
	}
	r.expires = exp
	return r, 0, ""
}

// subExpires reads Expires: absent → the default, 0 → 0, below
// MinExpires → 423, above MaxExpires → capped.
func (s *Server) subExpires(req *sip.Request) (time.Duration, int, string) {
	h := req.GetHeader("Expires")
	if h == nil {
		return min(defaultSubExpires, s.cfg.MaxExpires), 0, ""
	}
	n, err := strconv.ParseInt(strings.TrimSpace(h.Value()), 10, 64)
	if err != nil || n < 0 {
		return 0, sip.StatusBadRequest, "Bad Expires"
	}
	if n == 0 {
		return 0, 0, ""
	}
	d := time.Duration(min(n, int64(s.cfg.MaxExpires/time.Second))) * time.Second
	if d < s.cfg.MinExpires {
		return 0, sip.StatusIntervalToBrief, "Interval Too Brief"
	}
	return d, 0, ""
}

// parseEvent splits an Event header value into the package and its id
// parameter.
func parseEvent(v string) (string, string) {
	parts := strings.Split(v, ";")
	event := strings.ToLower(strings.TrimSpace(parts[0]))
	id := ""
	for _, p := range parts[1:] {
		if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "id") {
			id = strings.TrimSpace(val)
		}
	}
	return event, id
}

func bodyType(event string) string {
	if event == eventDialog {
		return ctDialogInfo
	}
	return ctPIDF
}

// accepts reports whether the request's Accept headers (none: the
// event's default) allow content type ct.
func accepts(req *sip.Request, ct string) bool {
	hs := req.GetHeaders("Accept")
	if len(hs) == 0 {
		return true
	}
	for _, h := range hs {
		for _, v := range strings.Split(h.Value(), ",") {
			v, _, _ = strings.Cut(v, ";")
			v = strings.ToLower(strings.TrimSpace(v))
			if v == ct || v == "*/*" || v == "application/*" || v == "" {
				return true
			}
		}
	}
	return false
}

func (s *Server) badSubscribe(req *sip.Request, tx sip.ServerTransaction, code int, reason string) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	switch code {
	case statusBadEvent:
		res.AppendHeader(sip.NewHeader("Allow-Events", allowEvents))
	case sip.StatusIntervalToBrief:
		res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.MinExpires/time.Second))))
	case sip.StatusNotAcceptable:
		res.AppendHeader(sip.NewHeader("Accept", ctPIDF+", "+ctDialogInfo))
	}
	s.send(tx, res)
}

// newSubscription authenticates and authorises an initial SUBSCRIBE,
// answers it and starts the subscription's loop, which sends the first
// NOTIFY.
func (s *Server) newSubscription(req *sip.Request, tx sip.ServerTransaction) {
	r, code, reason := s.checkSubscribe(req)
	if code == 0 && s.cfg.Hub == nil {
		code, reason = statusBadEvent, "Bad Event"
	}
	if code != 0 {
		s.badSubscribe(req, tx, code, reason)
		return
	}
	if !s.ourURI(req.Recipient) && !s.servesHost(req.Recipient.Host) {
		s.respond(tx, req, sip.StatusNotFound, "Not Found")
		return
	}
	line, err := s.authenticate(req, tx, wwwAuth)
	if err != nil {
		return
	}
	viewer := line.GetOwner()
	watchUser, watchLine, ok := s.subTarget(r.event, req.Recipient.User)
	if !ok {
		s.respond(tx, req, sip.StatusNotFound, "Not Found")
		return
	}
	sub := &subscription{
		s: s, event: r.event, eventID: r.eventID, line: line.GetNumber(),
		entity: "sip:" + req.Recipient.User + "@" + s.cfg.Domain, number: watchLine,
		callID: callID(req), localTag: sip.GenerateTagN(16),
		remote: req.From().Value(), target: r.contact, transport: req.Transport(),
		refresh: make(chan time.Time), revoke: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if t, ok := r.contact.UriParams.Get("transport"); ok && t != "" {
		sub.transport = strings.ToUpper(t)
	}
	if natted(req, r.contact) {
		sub.flow, sub.transport = req.Source(), strings.ToUpper(req.Transport())
	}
	sub.local = req.To().Value() + ";tag=" + sub.localTag // an initial SUBSCRIBE has no To tag
	sub.key = subKey(sub.callID, sub.localTag)
	for _, h := range req.GetHeaders("Record-Route") {
		sub.routes = append(sub.routes, splitList(h.Value())...)
	}
	if !s.subs.add(sub) {
		res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Too Many Subscriptions", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "60"))
		s.send(tx, res)
		return
	}
	if code, reason := sub.watch(viewer, watchUser); code != 0 {
		s.subs.remove(sub)
		s.respond(tx, req, code, reason)
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.To().Params.Add("tag", sub.localTag)
	res.AppendHeader(s.contactHeader(sub.transport, req.Source()))
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(r.expires/time.Second))))
	s.send(tx, res)
	s.m.subscriptions.Inc()
	expiry := time.Now().Add(r.expires)
	if !s.goTracked(func() { sub.run(expiry, r.expires == 0) }) {
		sub.close()
	}
}

// subTarget resolves the resource: presence → the user to watch (a
// line's owner for a line number), dialog → the line to watch (a user's
// primary line for a user id).
func (s *Server) subTarget(event, id string) (user, line string, ok bool) {
	if id == "" {
		return "", "", false
	}
	l, err := s.cfg.Store.Line(id)
	if err != nil && !errors.Is(err, persistence.ErrNotFound) {
		s.log.Warn("sip: read line", "err", err)
		return "", "", false
	}
	if l != nil {
		if event == eventPresence {
			return l.GetOwner(), "", l.GetOwner() != ""
		}
		return "", l.GetNumber(), true
	}
	if _, err := s.cfg.Store.User(id); err != nil {
		return "", "", false
	}
	if event == eventPresence {
		return id, "", true
	}
	n := s.primaryLine(id)
	return "", n, n != ""
}

// watch opens the hub session and registers it with the grain. A
// non-zero code refuses the subscription: 403 when the viewer may not
// see the resource, 404 when it vanished, 503 when the grain did not
// answer.
func (sub *subscription) watch(viewer, user string) (int, string) {
	s := sub.s
	sub.session = s.cfg.Hub.Open(viewer, subBuffer)
	ctx, cancel := s.backendCtx()
	defer cancel()
	var err error
	visible := false
	if sub.event == eventPresence {
		sub.presence, err = s.cfg.Hub.Watch(ctx, sub.session, user)
		visible = sub.presence.GetVisible()
	} else {
		sub.lineView, err = s.cfg.Hub.WatchLine(ctx, sub.session, sub.number)
		visible = sub.lineView.GetSeesState()
	}
	code, reason := 0, ""
	switch {
	case errors.Is(err, actors.ErrNotFound):
		code, reason = sip.StatusNotFound, "Not Found"
	case errors.Is(err, actors.ErrForbidden):
		code, reason = sip.StatusForbidden, "Forbidden"
	case err != nil:
		s.log.Warn("sip: watch for subscription", "event", sub.event, "err", err)
		code, reason = sip.StatusServiceUnavailable, "Service Unavailable"
	case !visible:
		code, reason = sip.StatusForbidden, "Forbidden"
	}
	if code != 0 {
		s.closeSession(sub.session)
	}
	return code, reason
}

func (s *Server) closeSession(sess *actors.Session) {
	ctx, cancel := s.backendCtx()
	defer cancel()
	s.cfg.Hub.Close(ctx, sess)
}

// close ends a subscription whose loop never ran.
func (sub *subscription) close() {
	sub.s.subs.remove(sub)
	sub.s.closeSession(sub.session)
	sub.s.m.subscriptions.Dec()
	close(sub.done)
}

// refreshSubscription handles a SUBSCRIBE inside one of our
// subscriptions: authenticated as the same line, a new expiry (a NOTIFY
// follows) or Expires: 0 (a final NOTIFY follows).
func (s *Server) refreshSubscription(req *sip.Request, tx sip.ServerTransaction, sub *subscription) {
	if ev := req.GetHeader("Event"); ev != nil {
		if e, id := parseEvent(ev.Value()); e != sub.event || id != sub.eventID {
			s.badSubscribe(req, tx, statusBadEvent, "Bad Event")
			return
		}
	}
	exp, code, reason := s.subExpires(req)
	if code != 0 {
		s.badSubscribe(req, tx, code, reason)
		return
	}
	line, err := s.authenticate(req, tx, wwwAuth)
	if err != nil {
		return
	}
	if line.GetNumber() != sub.line {
		s.respond(tx, req, sip.StatusForbidden, "Forbidden")
		return
	}
	var until time.Time
	if exp > 0 {
		until = time.Now().Add(exp)
	}
	select {
	case sub.refresh <- until:
	case <-sub.done:
		s.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(s.contactHeader(sub.transport, req.Source()))
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(exp/time.Second))))
	s.send(tx, res)
}

// contactHeader is our Contact toward peer (host:port) on transport: the
// address that peer reaches us on.
func (s *Server) contactHeader(transport, peer string) sip.Header {
	v := "<sip:" + s.uriHostPort(transport, peer)
	if transport != "" && !strings.EqualFold(transport, "UDP") {
		v += ";transport=" + strings.ToLower(transport)
	}
	return sip.NewHeader("Contact", v+">")
}

// notifyResult is how one NOTIFY ended.
type notifyResult struct {
	ok   bool // a 2xx
	gone bool // the subscriber ended the subscription (481, other errors, no answer)
}

// run is the subscription's loop: it sends the first NOTIFY, then one
// per change of the view (coalescing changes while a NOTIFY is in
// flight), per refresh, and a final one at expiry, un-subscribe,
// revocation or shutdown. fetch (Expires: 0) sends one terminated NOTIFY.
func (sub *subscription) run(expiry time.Time, fetch bool) {
	s := sub.s
	defer func() {
		s.subs.remove(sub)
		s.closeSession(sub.session)
		s.m.subscriptions.Dec()
		close(sub.done)
	}()
	timer := time.NewTimer(time.Until(expiry))
	defer timer.Stop()
	events, stopping := sub.session.Events, s.ctx.Done()
	sent := make(chan notifyResult, 1)
	inflight, dirty := false, true
	final := "" // the terminating reason once decided
	if fetch {
		final = reasonTimeout
	}
	finalSent := false
	for {
		if !inflight && dirty && !finalSent {
			dirty = false
			inflight = true
			finalSent = final != ""
			req := sub.notifyRequest(expiry, final)
			// A final NOTIFY at shutdown gets a short bound of its own;
			// any other gives up when shutdown starts.
			ctx, cancel := context.WithTimeout(s.ctx, 64*sip.T1)
			if s.ctx.Err() != nil {
				ctx, cancel = context.WithTimeout(context.Background(), finalNotifyTimeout)
			}
			// Not goTracked: the loop (tracked) waits for it before
			// it returns, and it must run during shutdown too.
			go func() { defer cancel(); sent <- s.sendNotify(ctx, req) }()
		}
		if finalSent && !inflight {
			return
		}
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				if final == "" {
					final, dirty = reasonDeactivated, true // lagged: resubscribe to resynchronise
				}
				continue
			}
			if final != "" {
				continue
			}
			if sub.apply(ev) {
				dirty = true
			} else {
				final, dirty = reasonRejected, true
			}
		case until := <-sub.refresh:
			if final != "" {
				continue // the final NOTIFY is decided; the 200 is harmless
			}
			if until.IsZero() {
				final, dirty = reasonTimeout, true
				continue
			}
			expiry, dirty = until, true
			timer.Reset(time.Until(expiry))
		case <-sub.revoke:
			if final == "" {
				final, dirty = reasonRejected, true
			}
		case <-timer.C:
			if final == "" {
				final, dirty = reasonTimeout, true
			}
		case <-stopping:
			stopping = nil
			if final == "" {
				final, dirty = reasonDeactivated, true
			}
		case r := <-sent:
			inflight = false
			if r.gone {
				return
			}
		}
	}
}

// apply takes a view from the hub; false when it shows nothing any more
// (the viewer lost the right).
func (sub *subscription) apply(ev actors.Event) bool {
	switch {
	case sub.event == eventPresence && ev.View != nil:
		sub.presence = ev.View
		return ev.View.GetVisible()
	case sub.event == eventDialog && ev.Line != nil:
		sub.lineView = ev.Line
		return ev.Line.GetSeesState()
	}
	return true
}

// notifyRequest builds the next NOTIFY: state active with the remaining
// time, or terminated with reason.
func (sub *subscription) notifyRequest(expiry time.Time, reason string) *sip.Request {
	s := sub.s
	req := sip.NewRequest(sip.NOTIFY, *sub.target.Clone())
	req.AppendHeader(sip.NewHeader("From", sub.local))
	req.AppendHeader(sip.NewHeader("To", sub.remote))
	req.AppendHeader(sip.NewHeader("Call-ID", sub.callID))
	sub.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.cseq, MethodName: sip.NOTIFY})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, r := range sub.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	event := sub.event
	if sub.eventID != "" {
		event += ";id=" + sub.eventID
	}
	req.AppendHeader(sip.NewHeader("Event", event))
	state := "active;expires=" + strconv.Itoa(max(0, int(time.Until(expiry).Round(time.Second)/time.Second)))
	if reason != "" {
		state = "terminated;reason=" + reason
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("User-Agent", "ucgrid"))
	// A subscription ended by a revoked right carries no state: the
	// subscriber may not see it any more.
	if reason != reasonRejected {
		req.AppendHeader(sip.NewHeader("Content-Type", bodyType(sub.event)))
		if sub.event == eventPresence {
			req.SetBody(pidfBody(sub.entity, sub.presence))
		} else {
			req.SetBody(dialogInfoBody(sub.entity, s.cfg.Domain, sub.version, sub.lineView))
			sub.version++
		}
	} else {
		req.SetBody(nil)
	}
	dest := hostPort(sub.target)
	transport := sub.transport
	if sub.flow != "" {
		dest = sub.flow // a NATed subscriber: where its SUBSCRIBE came from
	}
	if len(sub.routes) > 0 {
		var u sip.Uri
		if _, err := sip.ParseAddressValue(sub.routes[0], &u, nil); err == nil {
			dest = hostPort(u)
			transport = "UDP"
			if t, ok := u.UriParams.Get("transport"); ok && t != "" {
				transport = strings.ToUpper(t)
			}
		}
	}
	s.prepareOut(req, transport, dest)
	req.AppendHeader(s.contactHeader(sub.transport, req.Destination()))
	return req
}

// sendNotify sends one NOTIFY and waits for its final response until
// ctx ends.
func (s *Server) sendNotify(ctx context.Context, req *sip.Request) notifyResult {
	s.m.notifies.Inc()
	tx, err := s.client.TransactionRequest(ctx, req, s.addVia)
	if err != nil {
		s.log.Debug("sip: notify", "err", err)
		return notifyResult{gone: true}
	}
	defer tx.Terminate()
	res := waitFinal(ctx, tx)
	switch {
	case res == nil && s.ctx.Err() != nil:
		return notifyResult{} // cut short by shutdown: the final NOTIFY follows
	case res == nil:
		return notifyResult{gone: true} // no answer: the subscriber is gone (RFC 6665 §4.2.2)
	case res.IsSuccess():
		return notifyResult{ok: true}
	case res.StatusCode == sip.StatusServiceUnavailable || res.StatusCode == 491 || res.StatusCode == sip.StatusRequestTimeout:
		return notifyResult{} // transient: the next change or refresh retries
	}
	return notifyResult{gone: true} // 481 and other errors end it
}
