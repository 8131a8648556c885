package sip

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/internal/netlab"
	"github.com/ucgrid/ucgrid/sip/siptest"
)

// A node bound to the wildcard address with one interface on each of two
// subnets that cannot reach each other, a phone on each: a call from
// subnet 1 to subnet 2 carries two Record-Routes (RFC 5658), the top one
// naming the node's address on subnet 2, the other its address on subnet
// 1; every Via the node adds names the address on the receiver's side;
// ACK and BYE from either phone reach the other through the node. Over
// IPv4 (bound to 0.0.0.0) and IPv6 (bound to ::).
func TestNetlab_WildcardNodeNamesEachSideItsOwnAddress(t *testing.T) {
	lab := netlab.New(t)
	sideA, sideB := lab.Host("phonea"), lab.Host("phoneb")
	node := lab.MultiHomed("node", []*netlab.Host{sideA}, []*netlab.Host{sideB})
	na := node.Addrs() // eth0 v4, v6, eth1 v4, v6
	for _, fam := range []struct {
		name, bind string
		nodeA      netip.Addr // the node on side A's subnet
		nodeB      netip.Addr
		phoneA     netip.Addr
		phoneB     netip.Addr
	}{
		{"IPv4", "0.0.0.0:5060", na[0], na[2], sideA.IPv4(), sideB.IPv4()},
		{"IPv6", "[::]:5060", na[1], na[3], sideA.IPv6(), sideB.IPv6()},
	} {
		t.Run(fam.name, func(t *testing.T) {
			hub := newFakeHub()
			hub.presence["alice"] = &actorspb.PresenceView{Visible: true, State: "available"}
			e := newEnvWith(t, node.Do, func(c *Config) { c.Addr = fam.bind; c.Hub = hub })
			e.user("alice", "1001", "a-pw")
			e.user("bob", "2001", "b-pw")
			toA := netip.AddrPortFrom(fam.nodeA, 5060).String()
			toB := netip.AddrPortFrom(fam.nodeB, 5060).String()
			alice := newPhoneOn(t, sideA.ListenUDP(netip.AddrPortFrom(fam.phoneA, 0).String()), toA, "1001", "a-pw")
			bob := newPhoneOn(t, sideB.ListenUDP(netip.AddrPortFrom(fam.phoneB, 0).String()), toB, "2001", "b-pw")
			if res := bob.register(300); res == nil || res.StatusCode != 200 {
				t.Fatalf("bob registers through the node's subnet-2 address: %v", res)
			}
			for _, hangUp := range []string{"caller", "callee"} {
				_, acksBefore := bob.counts()
				c := alice.call("2001")
				ring := bob.waitRinging(5 * time.Second)
				checkNamesSide(t, ring.req, fam.nodeB, fam.nodeA)
				ring.answer <- 200
				ok := c.wait(200, 5*time.Second)
				if got := recordRoutes(ok); len(got) != 2 || got[1] != routeTo(fam.nodeA) {
					t.Fatalf("200 at the caller: Record-Route %q, want the node's subnet-1 address %s last", got, fam.nodeA)
				}
				c.ack()
				// Either side hangs up once the ACK is through, as people
				// do: a BYE overtaking the ACK ends the dialog at the
				// node, which then drops the late ACK.
				eventually(t, 5*time.Second, "ACK reaches the callee", func() bool { _, acks := bob.counts(); return acks > acksBefore })
				if hangUp == "caller" {
					c.bye()
				} else {
					calleeBye(t, bob, ring)
				}
				eventually(t, 5*time.Second, "the call ends at the node", func() bool { return e.srv.calls.len() == 0 })
			}
			if byes, _ := bob.counts(); byes != 1 {
				t.Fatalf("callee got %d BYEs, want 1 (from the caller's hang-up)", byes)
			}
			if byes, _ := alice.counts(); byes != 1 {
				t.Fatalf("caller got %d BYEs, want 1 (from the callee's hang-up)", byes)
			}
			checkSubscribeContact(t, sideB, toB, fam.phoneB, fam.nodeB)
		})
	}
}

// checkNamesSide checks the INVITE the callee received: our Via names our
// address on the callee's side, Record-Route names it first and the
// caller's side second.
func checkNamesSide(t *testing.T, inv *sip.Request, calleeSide, callerSide netip.Addr) {
	t.Helper()
	via := inv.Via()
	if h, err := netip.ParseAddr(via.Host); err != nil || h != calleeSide || via.Port != 5060 || !via.Params.Has("rport") {
		t.Errorf("top Via %s, want sent-by %s:5060 with rport", via.Value(), calleeSide)
	}
	got := recordRoutes(inv)
	if len(got) != 2 || got[0] != routeTo(calleeSide) || got[1] != routeTo(callerSide) {
		t.Errorf("Record-Route %q, want %s then %s", got, routeTo(calleeSide), routeTo(callerSide))
	}
}

func recordRoutes(m sip.Message) []string {
	var out []string
	for _, h := range m.GetHeaders("Record-Route") {
		out = append(out, h.Value())
	}
	return out
}

func routeTo(a netip.Addr) string {
	return "<sip:" + net.JoinHostPort(a.String(), "5060") + ";lr>"
}

// checkSubscribeContact subscribes from a phone on side (at phoneIP) to
// alice's presence through the node at proxy: the 200's Contact, and the
// NOTIFY's Contact and Via, name the node's address on that side.
func checkSubscribeContact(t *testing.T, side *netlab.Host, proxy string, phoneIP, nodeIP netip.Addr) {
	t.Helper()
	ua := siptest.NewUAOn(t, side.ListenUDP(netip.AddrPortFrom(phoneIP, 0).String()), proxy, testDomain, "2001", "b-pw")
	sub, res := ua.Subscribe("alice", "presence", 60)
	if res == nil || res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v", res)
	}
	want := "<sip:" + net.JoinHostPort(nodeIP.String(), "5060") + ">"
	if c := res.GetHeader("Contact"); c == nil || c.Value() != want {
		t.Errorf("200 to SUBSCRIBE: Contact %v, want %s", c, want)
	}
	n := sub.Next(5 * time.Second)
	if n == nil {
		t.Fatal("no NOTIFY")
	}
	if c := n.Req.GetHeader("Contact"); c == nil || c.Value() != want {
		t.Errorf("NOTIFY: Contact %v, want %s", c, want)
	}
	if h, err := netip.ParseAddr(n.Req.Via().Host); err != nil || h != nodeIP {
		t.Errorf("NOTIFY: Via %s, want sent-by %s", n.Req.Via().Value(), nodeIP)
	}
}
