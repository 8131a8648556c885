//go:build !race

// Built without -race only: see server_test.go.

package node

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/internal/testnet"
	"github.com/ucgrid/ucgrid/sip/siptest"
)

const pickupSecret = "pickup-test-cluster-secret-0123456789"

// TestPickup_AcrossNodes: two nodes of one cluster. Alice (100) calls
// bob (101) through n1; the pickers' phones use n2: tim (102, team level
// over bob, so line1_pickup) picks the call up with **101 and with *8 —
// n2 finds the call through bob's line grain and passes the INVITE to n1,
// which sends alice's phone an INVITE with Replaces — and eve (103,
// public level) is refused with 403.
func TestPickup_AcrossNodes(t *testing.T) {
	n1 := startServerWith(t, func(c *Config) {
		c.NodeID, c.ClusterSecret, c.GossipAddr, c.SIPAddr = "n1", pickupSecret, testnet.FreeAddr(t), "127.0.0.1:0"
	})
	n2 := startServerWith(t, func(c *Config) {
		c.NodeID, c.ClusterSecret, c.GossipAddr, c.SIPAddr = "n2", pickupSecret, testnet.FreeAddr(t), "127.0.0.1:0"
		c.Join = []string{n1.cfg.GossipAddr}
	})
	admin := client{t, "http://" + n1.HTTPAddr(), AdminID, "admin-secret"}
	for i, u := range []string{"alice", "bob", "tim", "eve"} {
		admin.must(http.StatusCreated, "PUT", "/v1/users/"+u, map[string]any{"display_name": u, "password": u + "-password"}, "")
		admin.must(http.StatusCreated, "PUT", "/v1/lines/10"+string(rune('0'+i)), map[string]any{"owner": u, "kind": "primary",
			"sip_password": u + "-sip-secret"}, "")
	}
	client{t, "http://" + n1.HTTPAddr(), "bob", "bob-password"}.must(http.StatusOK, "PUT", "/v1/users/bob/grants/tim",
		map[string]any{"level": "team"}, "")
	eventuallyNode(t, "n2 has the grant", func() bool {
		_, err := n2.Directory().Store().User("eve")
		return err == nil && n2.Directory().Applied() >= n1.Directory().Applied()
	})
	phone := func(n *Node, number, owner string) *siptest.UA {
		p := siptest.NewUA(t, n.SIPAddr(), defaultSIPDomain, number, owner+"-sip-secret")
		if res := p.Register(600); res.StatusCode != 200 {
			t.Fatalf("%s registers through %s: %v", number, n.cfg.NodeID, res)
		}
		return p
	}
	alice, bob := phone(n1, "100", "alice"), phone(n1, "101", "bob")
	tim, eve := phone(n2, "102", "tim"), phone(n2, "103", "eve")

	for _, code := range []string{"**101", "*8"} {
		t.Run(code, func(t *testing.T) {
			call := alice.Call("101")
			ring := <-bob.Incoming
			call.WaitStatus(180, 180, subWait)
			pick, _ := waitPickup(t, tim, code)
			var replaced *siptest.Ringing
			select {
			case replaced = <-alice.Incoming:
			case <-time.After(subWait):
				t.Fatal("alice's phone got no INVITE with Replaces")
			}
			if h, id := replaced.Req.GetHeader("Replaces"), ring.Req.CallID().Value(); h == nil || !strings.HasPrefix(h.Value(), id+";") {
				t.Fatalf("Replaces %v, want alice's call %s", h, id)
			}
			replaced.Answer(200)
			pick.Hangup(pick.WaitStatus(200, 200, subWait)) // ACK and BYE through n2 and n1
			select {
			case <-ring.Cancelled:
			case <-time.After(subWait):
				t.Fatal("bob's phone was not cancelled")
			}
			call.WaitStatus(487, 487, subWait)
		})
	}
	t.Run("without the right", func(t *testing.T) {
		call := alice.Call("101")
		ring := <-bob.Incoming
		call.WaitStatus(180, 180, subWait)
		if _, res := waitPickup(t, eve, "**101"); res.StatusCode != http.StatusForbidden {
			t.Fatalf("eve's **101: %d %s, want 403", res.StatusCode, res.Reason)
		}
		select {
		case r := <-alice.Incoming:
			t.Fatalf("alice's phone got %s", r.Req.StartLine())
		default:
		}
		call.Cancel()
		call.WaitStatus(487, 487, subWait)
		<-ring.Cancelled
	})
}

// waitPickup has the picker dial code until bob's line grain knows the
// call is ringing (the report travels after the 180): a pickup finding
// nothing yet is 404, tried again. It returns the call and its first
// response other than 404.
func waitPickup(t *testing.T, picker *siptest.UA, code string) (*siptest.Call, *sip.Response) {
	t.Helper()
	deadline := time.Now().Add(subWait)
	for {
		pick := picker.Call(code)
		res := pick.WaitStatus(180, 699, subWait)
		if res.StatusCode != http.StatusNotFound {
			return pick, res
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still 404 after %v", code, subWait)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func eventuallyNode(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(subWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, subWait)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}
