package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"
)

// errRetry marks an attempt that failed in a way a later attempt may not:
// the grain has no owner yet, or its activation or node went away.
var errRetry = errors.New("grain unreachable")

// Request sends msg to the grain identity of kind, activating it where the
// cluster places it, and returns the grain's response.
//
// The request is bounded by ctx's deadline, or by Config.RequestTimeout
// when ctx has none. An attempt is retried, after an exponential back-off
// from RetryBaseDelay to RetryMaxDelay with jitter, when the grain has no
// owner yet, when its activation answers with a dead letter, and when the
// node holding it leaves the topology while we wait: a request to a grain
// on a node that dies is answered by its new activation about as soon as
// the death is detected. Such a retry may deliver msg twice (the old
// activation may have handled it before dying).
//
// Messages must be protobuf: protoactor-go's remote drops anything else
// silently.
//
// Request does not use Cluster.Request or the generated clients: one
// attempt of those can block for the whole timeout on a dead node (and
// disthash's lookup for a hard-coded 5 s), and RequestFuture shares a
// package-global call config (PITFALLS.md).
func (n *Node) Request(ctx context.Context, identity, kind string, msg proto.Message) (proto.Message, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.RequestTimeout)
		defer cancel()
	}
	resp, err := n.request(ctx, identity, kind, msg)
	if err != nil {
		n.requests.failures.Add(1)
	}
	return resp, err
}

func (n *Node) request(ctx context.Context, identity, kind string, msg proto.Message) (proto.Message, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		resp, err := n.attempt(ctx, identity, kind, msg)
		switch {
		case err == nil:
			return resp, nil
		case ctx.Err() != nil:
			return nil, requestError(identity, kind, ctx.Err(), errors.Join(lastErr, err))
		case !errors.Is(err, errRetry):
			return nil, requestError(identity, kind, err, nil)
		}
		lastErr = err
		n.requests.retries.Add(1)
		if !sleep(ctx, retryDelay(attempt, n.cfg.RetryBaseDelay, n.cfg.RetryMaxDelay)) {
			return nil, requestError(identity, kind, ctx.Err(), lastErr)
		}
	}
}

func requestError(identity, kind string, err, last error) error {
	if last != nil {
		return fmt.Errorf("cluster: request %s/%s: %w (last attempt: %v)", kind, identity, err, last)
	}
	return fmt.Errorf("cluster: request %s/%s: %w", kind, identity, err)
}

// attempt looks the grain up and asks it once.
func (n *Node) attempt(ctx context.Context, identity, kind string, msg proto.Message) (proto.Message, error) {
	pid, err := n.activation(ctx, identity, kind)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline() // Request always sets one
	future := n.system.Root.RequestFuture(pid, msg, min(time.Until(deadline), n.cfg.AttemptTimeout))
	res, err := n.awaitWhileMember(ctx, pid.Address, func() (any, error) { return future.Result() })
	if err != nil {
		if isUnreachable(err) || errors.Is(err, errRetry) {
			n.cluster.PidCache.RemoveByValue(identity, kind, pid)
			return nil, fmt.Errorf("%w: %v", errRetry, err)
		}
		return nil, err
	}
	resp, ok := res.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("response of type %T is not a protobuf message", res)
	}
	return resp, nil
}

// activation returns the PID of the grain's activation, from the cluster's
// PID cache or by asking the identity's owner to activate it.
func (n *Node) activation(ctx context.Context, identity, kind string) (*actor.PID, error) {
	if pid, ok := n.cluster.PidCache.Get(identity, kind); ok {
		return pid, nil
	}
	// The owner's address is not known here; a lookup stuck on an owner
	// that died is abandoned at the next topology change.
	res, err := n.awaitWhileMember(ctx, "", func() (any, error) {
		return n.cluster.Get(identity, kind), nil
	})
	if err != nil {
		return nil, err
	}
	pid, _ := res.(*actor.PID)
	if pid == nil {
		return nil, fmt.Errorf("%w: no activation (no member hosts the kind, or its owner did not answer)", errRetry)
	}
	n.cluster.PidCache.Set(identity, kind, pid)
	return pid, nil
}

// awaitWhileMember runs call aside and returns its result, unless ctx ends
// first or the topology changes so that addr is no longer a member (any
// change, when addr is ""); the call is then abandoned, with errRetry.
// An abandoned call ends by itself within its own timeout (a future's,
// at most AttemptTimeout); shutdown waits for it (n.aside).
func (n *Node) awaitWhileMember(ctx context.Context, addr string, call func() (any, error)) (any, error) {
	type result struct {
		v   any
		err error
	}
	p := n.provider
	done := make(chan result, 1)
	n.aside.add()
	go func() {
		defer n.aside.done()
		v, err := call()
		done <- result{v, err}
	}()
	for {
		changed := p.topologyChanged()
		select {
		case r := <-done:
			return r.v, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
			if addr == "" || !p.inTopology(addr) {
				return nil, fmt.Errorf("%w: member %q left the topology", errRetry, addr)
			}
		}
	}
}

// isUnreachable reports errors of protoactor-go futures that mean the
// activation or its node is gone.
func isUnreachable(err error) bool {
	return errors.Is(err, actor.ErrDeadLetter) || errors.Is(err, actor.ErrTimeout) ||
		errors.Is(err, remote.ErrDeadLetter) || errors.Is(err, remote.ErrTimeout) ||
		errors.Is(err, remote.ErrUnAvailable)
}

// sleep waits for d, or until ctx ends (then it returns false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryDelay is the wait before retry number attempt+1: base·2^attempt
// capped at maxDelay, of which the upper half is random ("equal jitter"),
// so it never drops below half the exponential value. (protoactor-go's
// default sleeps i*i*50 nanoseconds: retries during topology churn would
// all fire at once.)
func retryDelay(attempt int, base, maxDelay time.Duration) time.Duration {
	d := maxDelay
	if attempt < 30 && base<<attempt < maxDelay {
		d = base << attempt
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// asideCalls counts the calls awaitWhileMember runs aside, so that a
// node's shutdown can wait for the abandoned ones: protoactor-go has no
// way to cancel a future, which ends only with its timeout.
type asideCalls struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while nobody waits
}

func (a *asideCalls) add() {
	a.mu.Lock()
	a.n++
	a.mu.Unlock()
}

func (a *asideCalls) done() {
	a.mu.Lock()
	if a.n--; a.n == 0 && a.idle != nil {
		close(a.idle)
		a.idle = nil
	}
	a.mu.Unlock()
}

// wait waits until no call runs aside or d passed; it reports how many
// still run.
func (a *asideCalls) wait(d time.Duration) int {
	a.mu.Lock()
	if a.n == 0 {
		a.mu.Unlock()
		return 0
	}
	if a.idle == nil {
		a.idle = make(chan struct{})
	}
	idle := a.idle
	a.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}
