package persistence

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func digestOf(name string) []byte {
	d := sha256.Sum256([]byte(name))
	return d[:]
}

func putToken(name, user string, issuedMs, expiresMs int64, max int32) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutToken{PutToken: &dirpb.PutToken{MaxPerUser: max,
		Token: &dirpb.BearerToken{Digest: digestOf(name), User: user, IssuedUnixMs: issuedMs, ExpiresUnixMs: expiresMs}}}}
}

func revokeToken(name string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_RevokeToken{RevokeToken: &dirpb.RevokeToken{Digest: digestOf(name)}}}
}

func revokeUserTokens(user string) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_RevokeUserTokens{RevokeUserTokens: &dirpb.RevokeUserTokens{User: user}}}
}

func purgeTokens(nowMs int64) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PurgeTokens{PurgeTokens: &dirpb.PurgeTokens{NowUnixMs: nowMs}}}
}

// wantTokens checks that each named token is stored or not and that the
// token tables hold three keys per stored token, nothing dangling.
func (h *storeHarness) wantTokens(present map[string]bool) {
	h.t.Helper()
	stored := 0
	for name, want := range present {
		tk, err := h.s.Token(digestOf(name))
		switch {
		case want && err != nil:
			h.t.Errorf("token %s: %v, want stored", name, err)
		case !want && !errors.Is(err, ErrNotFound):
			h.t.Errorf("token %s: %v %v, want ErrNotFound", name, tk, err)
		case want:
			stored++
		}
	}
	counts := map[string]int{}
	for k := range dump(h.t, h.s) {
		for _, table := range []string{tToken, tTokenUser, tTokenExpiry} {
			if strings.HasPrefix(k, table) {
				counts[table]++
			}
		}
	}
	for _, table := range []string{tToken, tTokenUser, tTokenExpiry} {
		if counts[table] != stored {
			h.t.Errorf("table %s holds %d keys, want %d (one per stored token)", table, counts[table], stored)
		}
	}
}

func TestTokens_PutReadRevoke(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("bob"), putToken("t1", "bob", 1000, 5000, 10), putToken("t2", "bob", 2000, 6000, 10))
	tk, err := h.s.Token(digestOf("t1"))
	if err != nil || tk.User != "bob" || tk.IssuedUnixMs != 1000 || tk.ExpiresUnixMs != 5000 || tk.Index == 0 {
		t.Fatalf("Token(t1) = %v, %v", tk, err)
	}
	if tks, _ := h.s.TokensOf("bob"); len(tks) != 2 || tks[0].Index >= tks[1].Index {
		t.Fatalf("TokensOf(bob) = %v, want t1 then t2", tks)
	}
	h.mustApply(revokeToken("t1"))
	h.wantTokens(map[string]bool{"t1": false, "t2": true})
	if err := h.apply(revokeToken("t1"))[0]; !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking twice: %v, want ErrNotFound", err)
	}
}

func TestTokens_CapDropsOldestThenExpired(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("bob"), putUser("amy"))
	// Issued in this order; the cap of 2 keeps the two newest of bob.
	h.mustApply(putToken("b1", "bob", 1000, 9000, 2), putToken("b2", "bob", 1000, 9000, 2),
		putToken("a1", "amy", 1000, 9000, 2), putToken("b3", "bob", 1000, 9000, 2))
	h.wantTokens(map[string]bool{"b1": false, "b2": true, "b3": true, "a1": true})
	// At 9000 b2 and b3 have expired: issuing drops them, not counted
	// against the cap. amy's expired token stays until a purge.
	h.mustApply(putToken("b4", "bob", 9000, 20000, 2))
	h.wantTokens(map[string]bool{"b2": false, "b3": false, "b4": true, "a1": true})
	// A cap lowered by the proposer's config is applied at the next issue.
	h.mustApply(putToken("b5", "bob", 10000, 20000, 3), putToken("b6", "bob", 10000, 20000, 1))
	h.wantTokens(map[string]bool{"b4": false, "b5": false, "b6": true, "a1": true})
}

func putTicket(name, user string, issuedMs, expiresMs int64, maxTickets int32) *dirpb.Command {
	c := putToken(name, user, issuedMs, expiresMs, 2)
	c.GetPutToken().Token.Ticket = true
	c.GetPutToken().MaxTicketsPerUser = maxTickets
	return c
}

func TestTokens_TicketsHaveTheirOwnCapAndNeverDropTokens(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("bob"), putToken("b1", "bob", 1000, 90000, 2), putToken("b2", "bob", 1000, 90000, 2))
	// Many tickets: the tokens (cap 2) stay; the third ticket is refused.
	h.mustApply(putTicket("k1", "bob", 1000, 31000, 2), putTicket("k2", "bob", 2000, 32000, 2))
	err := h.apply(putTicket("k3", "bob", 3000, 33000, 2))[0]
	var ce *CommandError
	if !errors.As(err, &ce) || !errors.Is(err, ErrLimit) || !strings.Contains(ce.Msg, "max_tickets_per_user") {
		t.Fatalf("third ticket: %v, want ErrLimit naming max_tickets_per_user", err)
	}
	h.wantTokens(map[string]bool{"b1": true, "b2": true, "k1": true, "k2": true, "k3": false})
	// A token does not count the tickets either: b3 drops b1 only.
	h.mustApply(putToken("b3", "bob", 4000, 90000, 2))
	h.wantTokens(map[string]bool{"b1": false, "b2": true, "b3": true, "k1": true, "k2": true})
	// Once k1 has expired, a ticket is taken again (and k1 dropped).
	h.mustApply(putTicket("k4", "bob", 31000, 61000, 2))
	h.wantTokens(map[string]bool{"b2": true, "b3": true, "k1": false, "k2": true, "k4": true})
	if err := h.apply(putTicket("k5", "bob", 31000, 61000, 0))[0]; !errors.Is(err, ErrInvalid) {
		t.Errorf("ticket without max_tickets_per_user: %v, want ErrInvalid", err)
	}
}

func TestTokens_PurgeDeletesExactlyTheExpired(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("bob"), putUser("amy"))
	h.mustApply(putToken("b1", "bob", 1000, 5000, 10), putToken("b2", "bob", 1000, 5001, 10), putToken("a1", "amy", 1000, 4000, 10))
	if due, err := h.s.TokensExpiredAt(3999); err != nil || due {
		t.Errorf("TokensExpiredAt(3999) = %v, %v; want false", due, err)
	}
	if due, err := h.s.TokensExpiredAt(4000); err != nil || !due {
		t.Errorf("TokensExpiredAt(4000) = %v, %v; want true", due, err)
	}
	h.mustApply(purgeTokens(5000)) // expires <= now: expired
	h.wantTokens(map[string]bool{"b1": false, "b2": true, "a1": false})
	h.mustApply(purgeTokens(5000)) // nothing due: accepted, changes nothing
	h.wantTokens(map[string]bool{"b2": true})
}

func TestTokens_SignOutEverywhere(t *testing.T) {
	tests := []struct {
		name    string
		cmd     *dirpb.Command
		dropped bool
	}{
		{"revoke all of the user", revokeUserTokens("bob"), true},
		{"user deleted", deleteUser("bob"), true},
		{"password changed", &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob", PasswordHash: "new"}}}}, true},
		{"user disabled", &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob", Disabled: true}}}}, true},
		{"profile edit without password", &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob", DisplayName: "Bobby"}}}}, false},
		{"same password hash", &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob", PasswordHash: "old"}}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob", PasswordHash: "old"}}}},
				putUser("amy"), putToken("b1", "bob", 1000, 9000, 10), putToken("b2", "bob", 1000, 9000, 10), putToken("a1", "amy", 1000, 9000, 10))
			h.mustApply(tt.cmd)
			h.wantTokens(map[string]bool{"b1": !tt.dropped, "b2": !tt.dropped, "a1": true})
		})
	}
}

func TestTokens_RejectedCommandsChangeNothing(t *testing.T) {
	h := newHarness(t)
	h.mustApply(putUser("bob"), putToken("t1", "bob", 1000, 9000, 2), putToken("t2", "bob", 1000, 9000, 2))
	h.mustApply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "off", Disabled: true}}}})
	short := &dirpb.Command{Op: &dirpb.Command_RevokeToken{RevokeToken: &dirpb.RevokeToken{Digest: []byte("short")}}}
	tests := []struct {
		name string
		cmd  *dirpb.Command
		want error
	}{
		// Accepted, these would drop t1 (cap 2): rejected, they must not.
		{"token of missing user", putToken("x", "nobody", 1000, 9000, 2), ErrNotFound},
		{"token of disabled user", putToken("x", "off", 1000, 9000, 2), ErrConflict},
		{"digest taken", putToken("t2", "bob", 1000, 9000, 2), ErrConflict},
		{"expiry not after issue", putToken("x", "bob", 9000, 9000, 2), ErrInvalid},
		{"no issue time", putToken("x", "bob", 0, 9000, 2), ErrInvalid},
		{"cap zero", putToken("x", "bob", 1000, 9000, 0), ErrInvalid},
		{"cap too large", putToken("x", "bob", 1000, 9000, MaxTokensPerUser+1), ErrInvalid},
		{"bad user id", putToken("x", "a\x00b", 1000, 9000, 2), ErrInvalid},
		{"missing token", &dirpb.Command{Op: &dirpb.Command_PutToken{PutToken: &dirpb.PutToken{MaxPerUser: 2}}}, ErrInvalid},
		{"digest not SHA-256", short, ErrInvalid},
		{"revoke unknown", revokeToken("x"), ErrNotFound},
		{"revoke all with bad user id", revokeUserTokens(""), ErrInvalid},
		{"purge without now", purgeTokens(0), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := dump(t, h.s)
			err := h.apply(tt.cmd)[0]
			var ce *CommandError
			if !errors.Is(err, tt.want) || !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *CommandError %v", err, tt.want)
			}
			if d := diffDumps(before, dump(t, h.s)); d != "" {
				t.Errorf("rejected command changed the directory:\n%s", d)
			}
		})
	}
}

// tokenModel is the obviously-correct reference of the token commands.
type tokenModel struct {
	tokens map[string]modelToken // by name
	seq    int
}

type modelToken struct {
	user             string
	expires, ordinal int64
	ticket           bool
}

// put issues a token, or a ticket; it answers false when the ticket is
// refused (limit live tickets already).
func (m *tokenModel) put(name, user string, issued, expires int64, limit int, ticket bool) bool {
	var live []string
	for n, tk := range m.tokens {
		if tk.user == user && tk.expires > issued && tk.ticket == ticket {
			live = append(live, n)
		}
	}
	if ticket && len(live) >= limit {
		return false
	}
	for n, tk := range m.tokens {
		if tk.user == user && tk.expires <= issued {
			delete(m.tokens, n)
		}
	}
	if ticket {
		live = nil
	}
	slices.SortFunc(live, func(a, b string) int { return int(m.tokens[a].ordinal - m.tokens[b].ordinal) })
	for len(live) > limit-1 {
		delete(m.tokens, live[0])
		live = live[1:]
	}
	m.seq++
	m.tokens[name] = modelToken{user: user, expires: expires, ordinal: int64(m.seq), ticket: ticket}
	return true
}

func (m *tokenModel) dropWhere(drop func(modelToken) bool) {
	for n, tk := range m.tokens {
		if drop(tk) {
			delete(m.tokens, n)
		}
	}
}

// Random issue, revoke, sign-out and purge sequences leave exactly the
// tokens the reference model keeps, with no dangling index key.
func TestTokens_RandomCommandsMatchReference(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	h := newHarness(t)
	users := []string{"ann", "bob", "cid"}
	for _, u := range users {
		h.mustApply(putUser(u))
	}
	m := &tokenModel{tokens: map[string]modelToken{}}
	seen := map[string]bool{}
	var clock int64 = 1000
	for step := range 300 {
		clock += rng.Int64N(5)
		user := users[rng.IntN(len(users))]
		switch r := rng.IntN(10); {
		case r < 4:
			name := fmt.Sprintf("t%d", step)
			expires, limit := clock+1+rng.Int64N(20), 1+rng.IntN(4)
			h.mustApply(putToken(name, user, clock, expires, int32(limit)))
			m.put(name, user, clock, expires, limit, false)
			seen[name] = true
		case r < 6: // a ticket, with its own cap
			name := fmt.Sprintf("t%d", step)
			expires, limit := clock+1+rng.Int64N(20), 1+rng.IntN(3)
			err := h.apply(putTicket(name, user, clock, expires, int32(limit)))[0]
			if ok := m.put(name, user, clock, expires, limit, true); ok != (err == nil) || (err != nil && !errors.Is(err, ErrLimit)) {
				t.Fatalf("step %d: ticket %s: %v, model takes it: %v", step, name, err, ok)
			}
			seen[name] = true
		case r < 8:
			name := fmt.Sprintf("t%d", rng.IntN(step+1))
			err := h.apply(revokeToken(name))[0]
			if _, ok := m.tokens[name]; ok != (err == nil) {
				t.Fatalf("step %d: revoke %s: %v, model holds it: %v", step, name, err, ok)
			}
			delete(m.tokens, name)
		case r < 9:
			h.mustApply(revokeUserTokens(user))
			m.dropWhere(func(tk modelToken) bool { return tk.user == user })
		default:
			h.mustApply(purgeTokens(clock))
			m.dropWhere(func(tk modelToken) bool { return tk.expires <= clock })
		}
		want := map[string]bool{}
		for n := range seen {
			_, want[n] = m.tokens[n]
		}
		h.wantTokens(want)
		if t.Failed() {
			t.Fatalf("step %d diverged from the model", step)
		}
	}
}
