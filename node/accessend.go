package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"slices"
	"sync"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
	"github.com/ucgrid/ucgrid/sip"
)

// accessEnder ends the SIP subscriptions of users whose access ended, on
// this node, as soon as its directory applies the change: the user is
// disabled or deleted, their password, system role or group roles
// change, or the subscribing line is deleted, gets another SIP password
// or another owner. (Event streams end the same way in the API,
// api/sessions.go.) It keeps a digest of every user's access and of every
// line's credentials to tell such a change from a profile edit.
//
// The digests are read in the background (rescan), not before the node
// is ready: at 100 k users that is 300 k reads, which made up most of a
// cold start (docs/persistence.md "Start"). A change applied while a
// rescan read the digests may already be in the digest it is compared
// with, so such changes (index in forceFrom..forceTo) end the
// subscriptions of the lines they touch without comparing: a
// subscription may end needlessly then, never stay when it should end.
type accessEnder struct {
	store   *persistence.Store
	applied func() uint64 // the directory's applied index
	sip     *sip.Server
	logger  *slog.Logger
	// forceFrom and forceTo bound the indexes applied during the last
	// rescan (forceFrom exclusive): see above.
	forceFrom, forceTo uint64
	// access is the digest of each user's access (digest).
	access map[string][32]byte
	// lines is the digest of each line's credentials (lineDigest).
	lines  map[string][32]byte
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// accessFeedBuffer is the change feed's buffer; on overflow the feed
// resets and every user's access is compared again.
const accessFeedBuffer = 1024

// startAccessEnder follows dir's changes until stop; nil when the node
// serves no SIP.
func startAccessEnder(dir *persistence.Node, srv *sip.Server, logger *slog.Logger) (*accessEnder, error) {
	if srv == nil {
		return nil, nil
	}
	a := &accessEnder{store: dir.Store(), applied: dir.Applied, sip: srv, logger: logger,
		access: map[string][32]byte{}, lines: map[string][32]byte{}}
	// Subscribed first: every change the rescan may miss is in the feed.
	changes, unsubscribe := dir.Subscribe(accessFeedBuffer)
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Go(func() {
		defer unsubscribe()
		if err := a.rescan(); err != nil {
			a.logger.Warn("access check: reading every user's access failed", "err", err)
		}
		a.follow(ctx, changes)
	})
	return a, nil
}

// stop ends the follower and waits for it. Safe on nil.
func (a *accessEnder) stop() {
	if a == nil {
		return
	}
	a.cancel()
	a.wg.Wait()
}

func (a *accessEnder) follow(ctx context.Context, changes <-chan persistence.Change) {
	persistence.Follow(ctx, changes, func(c persistence.Change) {
		if err := a.apply(c); err != nil {
			a.logger.Warn("access check after a directory change failed", "err", err)
		}
	})
}

func (a *accessEnder) apply(c persistence.Change) error {
	if c.Reset {
		return a.rescan()
	}
	// Applied while the digests were read: compared with a digest that
	// may already hold it (see accessEnder).
	force := c.Index > a.forceFrom && c.Index <= a.forceTo
	switch {
	case c.Kind == persistence.KindLine && c.Deleted:
		delete(a.lines, c.ID)
		a.sip.EndSubscriptions(func(line string) bool { return line == c.ID })
	case c.Kind == persistence.KindLine:
		return a.checkLine(c.ID, force)
	case c.Kind == persistence.KindUser && c.Deleted:
		delete(a.access, c.ID) // its lines' deletions follow
	case c.Kind == persistence.KindUser:
		return a.check(c.ID, force)
	case c.Kind == persistence.KindGroup:
		for _, u := range c.Users {
			if err := a.check(u, force); err != nil {
				return err
			}
		}
	}
	return nil
}

// check compares user's access with the one known; when it changed (or
// force), the subscriptions of the user's lines end.
func (a *accessEnder) check(user string, force bool) error {
	d, err := a.digest(user)
	if errors.Is(err, persistence.ErrNotFound) {
		delete(a.access, user)
		return nil
	}
	if err != nil {
		return err
	}
	old, known := a.access[user]
	a.access[user] = d
	if known && old == d && !force {
		return nil
	}
	lines, err := a.store.LinesOf(user)
	if err != nil {
		return err
	}
	numbers := make([]string, len(lines))
	for i, l := range lines {
		numbers[i] = l.GetNumber()
	}
	if n := a.sip.EndSubscriptions(func(line string) bool { return slices.Contains(numbers, line) }); n > 0 {
		a.logger.Info("SIP subscriptions ended: the subscriber's access changed", "user", user, "subscriptions", n)
	}
	return nil
}

// checkLine compares the credentials of line (its SIP password and owner)
// with the ones known; when they changed (or force), the subscriptions
// made with the line end.
func (a *accessEnder) checkLine(number string, force bool) error {
	l, err := a.store.Line(number)
	if errors.Is(err, persistence.ErrNotFound) {
		delete(a.lines, number)
		return nil
	}
	if err != nil {
		return err
	}
	d := lineDigest(l)
	old, known := a.lines[number]
	a.lines[number] = d
	if known && old == d && !force {
		return nil
	}
	if n := a.sip.EndSubscriptions(func(line string) bool { return line == number }); n > 0 {
		a.logger.Info("SIP subscriptions ended: the line's password or owner changed", "line", number, "subscriptions", n)
	}
	return nil
}

// lineDigest sums up what a line's credentials are made of: who owns it
// (the subscriber's identity) and its digest HA1s (its SIP password).
func lineDigest(l *dirpb.Line) [32]byte {
	h := sha256.New()
	for _, s := range []string{l.GetOwner(), l.GetRealm(), l.GetHa1Md5(), l.GetHa1Sha256()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// rescanLines reads every line's credentials (see rescan).
func (a *accessEnder) rescanLines() error {
	seen := map[string]bool{}
	after := ""
	for {
		lines, next, err := a.store.ListLines(after, 1000)
		if err != nil {
			return err
		}
		for _, l := range lines {
			seen[l.GetNumber()] = true
			if err := a.checkLine(l.GetNumber(), false); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	for l := range a.lines {
		if !seen[l] {
			delete(a.lines, l)
		}
	}
	return nil
}

// rescan reads every user's access (at start, and after a reset of the
// feed, when changes may have been missed) and ends the subscriptions of
// those whose access changed or who are gone. The changes applied
// meanwhile are forced (see accessEnder).
func (a *accessEnder) rescan() error {
	from := a.applied()
	err := a.readAll()
	a.forceFrom, a.forceTo = from, a.applied()
	return err
}

func (a *accessEnder) readAll() error {
	seen := map[string]bool{}
	after := ""
	for {
		users, next, err := a.store.ListUsers(after, 1000)
		if err != nil {
			return err
		}
		for _, u := range users {
			seen[u.Id] = true
			if err := a.check(u.Id, false); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	for u := range a.access {
		if !seen[u] {
			delete(a.access, u)
		}
	}
	if err := a.rescanLines(); err != nil {
		return err
	}
	// Subscriptions of lines deleted meanwhile.
	a.sip.EndSubscriptions(func(line string) bool {
		_, err := a.store.Line(line)
		return errors.Is(err, persistence.ErrNotFound)
	})
	return nil
}

// digest sums up what a user's access is made of.
func (a *accessEnder) digest(user string) ([32]byte, error) {
	u, err := a.store.User(user)
	if err != nil {
		return [32]byte{}, err
	}
	ms, err := a.store.GroupsOf(user)
	if err != nil {
		return [32]byte{}, err
	}
	leads, err := a.store.GroupsLedBy(user)
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	disabled := "0"
	if u.Disabled {
		disabled = "1"
	}
	for _, s := range []string{u.PasswordHash, u.SystemRole, disabled} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	for _, m := range ms {
		h.Write([]byte(m.Group + "\x00" + m.Role + "\x00"))
	}
	h.Write([]byte{1}) // then the leader and deputy posts
	for _, m := range leads {
		h.Write([]byte(m.Group + "\x00" + m.Role + "\x00"))
	}
	var d [32]byte
	h.Sum(d[:0])
	return d, nil
}
