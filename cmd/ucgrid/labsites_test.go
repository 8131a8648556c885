package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/cluster/peers"
	"github.com/ucgrid/ucgrid/internal/netlab"
)

// The three-site lab of issue 20: three sites of two nodes each, every
// node and phone on its own host, an emulated WAN (netlab.Lab.WAN: a
// user-space netem, this machine's kernel has no netem qdisc) between
// every pair of sites, SIPp phones in each site homed there and
// registered through their own site's first node.

// Between every pair of sites: 40 ms round trip, 0.5 % loss each way
// (issue 20, item 5).
const (
	wanOneWay = 20 * time.Millisecond
	wanLoss   = 0.005
)

// labSite is one site of the lab: its nodes' hosts and nodes, and its
// phones (users homed in the site).
type labSite struct {
	name   string
	hosts  []*netlab.Host
	nodes  []*clusterNode
	phones []*labPhone
}

// server is the SIP address of the site's first node, which its phones
// register and call through.
func (s *labSite) server() string { return sipAddr(s.hosts[0].IPv4(), 5060) }

// sitesLab is the lab: the network, the cluster, the sites and the WAN
// links between each pair of them.
type sitesLab struct {
	lab   *netlab.Lab
	c     *testCluster
	sites []*labSite
	wans  []*netlab.Link
	wire  map[*netlab.Host]*netlab.Capture // every host's datagrams, both ways
	// pending checks the end of a phone's last answering SIPp (call).
	pending map[*labPhone]func()
}

// setWAN sets every WAN link of the lab.
func (s *sitesLab) setWAN(oneWay time.Duration, loss float64) {
	for _, w := range s.wans {
		w.Set(oneWay, loss)
	}
}

// startSitesLab builds the three-site lab with phones phones per site
// (users p<site><i>, lines 2<site number><i>), starts the cluster (the
// first node of site a founds it, nodes started site by site in turn),
// waits for its three voters (one per site), homes each phone's user in its site and
// registers the phones through their site's first node.
func startSitesLab(t testing.TB, phones int) *sitesLab {
	t.Helper()
	needSIPp(t)
	s := &sitesLab{lab: netlab.New(t), wire: map[*netlab.Host]*netlab.Capture{}, pending: map[*labPhone]func(){}}
	for i, name := range []string{"a", "b", "c"} {
		site := &labSite{name: name}
		for j := 1; j <= 2; j++ {
			site.hosts = append(site.hosts, s.lab.Host(fmt.Sprintf("%s%d", name, j)))
		}
		for j := 1; j <= phones; j++ {
			user := fmt.Sprintf("p%s%d", name, j)
			site.phones = append(site.phones, attachPhone(s.lab.Host(user), fmt.Sprintf("2%d%d", i+1, j), false))
		}
		s.sites = append(s.sites, site)
	}
	for _, site := range s.sites {
		for _, h := range site.all() {
			s.wire[h] = h.CaptureUDPBothWays()
		}
	}
	for i, a := range s.sites {
		for _, b := range s.sites[i+1:] {
			s.wans = append(s.wans, s.lab.WAN(a.all(), b.all(), wanOneWay, wanLoss))
		}
	}
	s.startCluster(t)
	st := s.c.waitSpread([]int{1, 1, 1}, clusterStart)
	t.Logf("cluster of %d nodes in 3 sites: voters %v (one per site), leader %s", len(s.c.nodes), st.Raft.Voters, st.Raft.Leader)
	via := s.sites[0].nodes[0].http
	for _, site := range s.sites {
		for _, p := range site.phones {
			// The leader records a node's site when it first sees it:
			// a home site is accepted once a node of it is recorded.
			pollCode(t, 30*time.Second, "user "+p.name+" homed in site "+site.name, http.StatusOK, func() (int, string) {
				code, body, _ := apiCall(t, http.MethodPut, via, "/v1/users/"+p.name, map[string]any{"display_name": p.name, "site": site.name})
				return map[bool]int{true: http.StatusOK}[code/100 == 2], body
			})
			mustAPI(t, via, http.MethodPut, "/v1/lines/"+p.number, map[string]any{"owner": p.name, "sip_password": p.pw})
		}
	}
	for _, site := range s.sites {
		for _, p := range site.phones {
			waitLine(t, site.nodes[0].http, p.number)
			registerSIPp(t, p, site.server())
		}
	}
	return s
}

// all is every host of the site, nodes and phones.
func (s *labSite) all() []*netlab.Host {
	hosts := append([]*netlab.Host(nil), s.hosts...)
	for _, p := range s.phones {
		hosts = append(hosts, p.host)
	}
	return hosts
}

// startCluster starts a node on each node host with --site, over mutual
// TLS as startLabCluster does; it returns once every node serves.
func (s *sitesLab) startCluster(t testing.TB) {
	t.Helper()
	s.c = &testCluster{t: t}
	certs := t.TempDir()
	for j := range 2 {
		for _, site := range s.sites {
			h := site.hosts[j]
			ip, name := h.IPv4().String(), h.Name()
			cn := &clusterNode{name: name, data: filepath.Join(t.TempDir(), "data"),
				gossip: ip + ":7946", raft: ip + ":8300", http: ip + ":8080", wrap: h.Wrap(),
				args: append([]string{"--site", site.name, "--actor", ip + ":0", "--sip", ip + ":5060"}, tlsArgs(t, certs, name)...)}
			if s.c.seed == "" {
				s.c.seed = cn.gossip
			}
			site.nodes = append(site.nodes, cn)
			s.c.nodes = append(s.c.nodes, cn)
			s.c.start(cn)
			if len(s.c.nodes) == 1 {
				cn.proc.waitServing(clusterStart)
			}
		}
	}
	for _, cn := range s.c.nodes[1:] {
		cn.proc.waitServing(clusterStart)
	}
}

// call has caller call callee through the first node of site via
// (SIPp: digest, 180, 200, BYE) and fails the test unless the call
// succeeds, with what the caller, the callee and the node sent and
// received during the call, and what the WAN links dropped. The callee's
// SIPp stays a second after the call (uas_ring.xml) for a retransmitted
// BYE: its end is awaited when the phone is used next (settle).
func (s *sitesLab) call(t testing.TB, caller, callee *labPhone, via *labSite) {
	t.Helper()
	s.settle(t, caller)
	s.settle(t, callee)
	hosts := []*netlab.Host{caller.host, callee.host, via.hosts[0]}
	marks := make([]int, len(hosts))
	for i, h := range hosts {
		marks[i] = len(s.wire[h].Datagrams())
	}
	server := via.server()
	fail := func(errCall, errAnswer error) {
		t.Helper()
		var b strings.Builder
		fmt.Fprintf(&b, "call %s → %s through %s (%s) failed:\ncaller: %v\ncallee: %v\n", caller.name, callee.name, via.hosts[0].Name(), server, errCall, errAnswer)
		for i, h := range hosts {
			fmt.Fprintf(&b, "SIP on the wire of %s:\n%s", h.Name(), sipTrace(s.wire[h], marks[i]))
		}
		for i, w := range s.wans {
			passed, dropped := w.Stats()
			fmt.Fprintf(&b, "WAN link %d: %d packets passed, %d dropped\n", i, passed, dropped)
		}
		t.Fatal(b.String())
	}
	answers := runSIPp(t, callee, "uas_ring.xml", server)
	answers.ready(t)
	calls := runSIPp(t, caller, "uac_ring.xml", server, "-key", "callee", callee.number)
	if err := calls.result(30 * time.Second); err != nil {
		fail(err, answers.result(10*time.Second))
	}
	s.pending[callee] = func() {
		t.Helper()
		if err := answers.result(10 * time.Second); err != nil {
			fail(nil, err)
		}
	}
}

// settle waits for the end of phone p's last answering SIPp, failing
// the test if it failed.
func (s *sitesLab) settle(t testing.TB, p *labPhone) {
	t.Helper()
	if check, ok := s.pending[p]; ok {
		delete(s.pending, p)
		check()
	}
}

// result waits for the scenario to end within d: nil when it passed,
// else an error with SIPp's last output and error file.
func (r *sippLab) result(d time.Duration) error {
	select {
	case err := <-r.done:
		r.done <- err // for the clean-up
		if err != nil {
			b, _ := os.ReadFile(r.errs) // absent when SIPp logged nothing
			return fmt.Errorf("sipp %s: %v\n%s\n%s", r.name, err, lastLines(r.out.String(), 30), b)
		}
		return nil
	case <-time.After(d):
		return fmt.Errorf("sipp %s did not finish within %v", r.name, d)
	}
}

// sipTrace lists the SIP datagrams of a capture of both ways from its
// datagram from on: when, sent or received, from and to, the start line
// and CSeq.
func sipTrace(c *netlab.Capture, from int) string {
	var b strings.Builder
	for _, d := range c.Datagrams()[from:] {
		if m, ok := parseSIP(d); ok {
			dir := "in "
			if d.Sent {
				dir = "out"
			}
			fmt.Fprintf(&b, "  %s %s %s → %s: %s (CSeq %s)\n", d.At.Format("15:04:05.000"), dir, d.From, d.To, m.start, strings.Join(m.header("cseq"), ","))
		}
	}
	return b.String()
}

// TestLab_SiteCutOffForAMinuteKeepsCallingAndJournalsOnceAfterHeal: the
// three-site lab (40 ms RTT, 0.5 % loss between sites). One whole site
// (both its nodes and its phones; a site without the Raft leader) is cut
// off from the other two for 60 s. Throughout the cut, calls go on in
// rounds: a local call in each of the three sites, and a call from a
// phone of one connected site to a phone of the other. Every one of them
// must succeed: the cut-off site keeps calling, and the other sites see
// no failed call. The connected sites keep seeing each other's nodes
// alive in gossip. The cut-off site's journal entries wait in its
// nodes' queues; after the heal, with no operator step, the queues
// drain and every call's journal entries, written on both sides, are on
// every node exactly once.
func TestLab_SiteCutOffForAMinuteKeepsCallingAndJournalsOnceAfterHeal(t *testing.T) {
	const cutFor = 60 * time.Second
	s := startSitesLab(t, 2)
	st := s.c.waitVoters(3, clusterStart)
	cutAt := 2
	for _, cn := range s.sites[cutAt].nodes {
		if cn.name == st.Raft.Leader {
			cutAt = 1
		}
	}
	cut := s.sites[cutAt]
	var up []*labSite
	for _, site := range s.sites {
		if site != cut {
			up = append(up, site)
		}
	}
	calls := map[string]int{} // user → calls it took part in
	call := func(caller, callee *labPhone, via *labSite) {
		t.Helper()
		s.call(t, caller, callee, via)
		calls[caller.name]++
		calls[callee.name]++
	}
	// One call per site before the cut: every path works.
	for _, site := range s.sites {
		call(site.phones[0], site.phones[1], site)
	}

	for _, h := range cut.all() {
		for _, site := range up {
			for _, o := range site.all() {
				s.lab.Cut(h, o)
			}
		}
	}
	cutStart := time.Now()
	t.Logf("site %s cut off from %s and %s", cut.name, up[0].name, up[1].name)
	rounds := 0
	for time.Since(cutStart) < cutFor {
		for _, site := range s.sites {
			call(site.phones[rounds%2], site.phones[1-rounds%2], site)
		}
		call(up[0].phones[0], up[1].phones[0], up[0])
		s.checkAlive(t, up)
		rounds++
	}
	for _, site := range s.sites {
		for _, p := range site.phones {
			s.settle(t, p)
		}
	}
	t.Logf("%d rounds of calls during the %v cut, every call answered", rounds, time.Since(cutStart).Round(time.Second))
	queued := 0.0
	for _, cn := range cut.nodes {
		queued += max(0, metricValue(t, cn.http, "ucgrid_persistence_journal_queued_entries"))
	}
	if queued == 0 {
		t.Fatalf("no journal entry queued on the cut-off site %s after its calls", cut.name)
	}
	t.Logf("%v journal entries queued in site %s at the end of the cut", queued, cut.name)

	for _, h := range cut.all() {
		for _, site := range up {
			for _, o := range site.all() {
				s.lab.Heal(h, o)
			}
		}
	}
	healed := time.Now()
	for _, cn := range cut.nodes {
		pollCode(t, 90*time.Second, "the journal queue of "+cn.name+" committed after the heal", http.StatusOK, func() (int, string) {
			if n := metricValue(t, cn.http, "ucgrid_persistence_journal_queued_entries"); n != 0 {
				return 0, fmt.Sprintf("%v queued", n)
			}
			return http.StatusOK, ""
		})
	}
	t.Logf("journal queues of site %s committed %v after the heal", cut.name, time.Since(healed).Round(100*time.Millisecond))
	for _, cn := range s.c.nodes {
		for _, site := range s.sites {
			for _, p := range site.phones {
				want := calls[p.name]
				pollCode(t, 30*time.Second, fmt.Sprintf("%s's %d journal entries, once each, on %s", p.name, want, cn.name), http.StatusOK, func() (int, string) {
					ids := allJournalIDs(t, cn.http, p.name)
					seen := map[string]int{}
					for _, id := range ids {
						seen[id]++
					}
					if len(ids) != want || len(seen) != want {
						return 0, fmt.Sprintf("%d entries, %d distinct", len(ids), len(seen))
					}
					return http.StatusOK, ""
				})
			}
		}
	}
	for _, via := range s.c.nodes {
		s.c.pollStatus(via, 90*time.Second, "every node alive and in the actor topology of "+via.name+" after the heal", func(st peers.ClusterStatus) bool {
			for _, cn := range s.c.nodes {
				if m, ok := memberOf(st, cn.name); !ok || m.State != "alive" || !m.InTopology {
					return false
				}
			}
			return true
		})
	}
	t.Logf("every node alive and in every node's topology %v after the heal", time.Since(healed).Round(100*time.Millisecond))
	// The cut-off site calls across the WAN again, both ways.
	call(cut.phones[0], up[0].phones[0], cut)
	call(up[1].phones[1], cut.phones[1], up[1])
	s.settle(t, up[0].phones[0])
	s.settle(t, cut.phones[1])
}

// checkAlive fails the test unless the first node of each site in sites
// sees every node of those sites alive in gossip: a WAN link that works
// must not get healthy nodes declared dead.
func (s *sitesLab) checkAlive(t *testing.T, sites []*labSite) {
	t.Helper()
	for _, via := range sites {
		st, err := s.c.status(via.nodes[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, site := range sites {
			for _, cn := range site.nodes {
				if m, ok := memberOf(st, cn.name); !ok || m.State != "alive" {
					t.Errorf("%s (site %s) sees %s (site %s) as %q across a working WAN link", via.nodes[0].name, via.name, cn.name, site.name, m.State)
				}
			}
		}
	}
}

// allJournalIDs lists the ids of every journal entry of user through
// the API at addr (as the admin), page after page.
func allJournalIDs(t *testing.T, addr, user string) []string {
	t.Helper()
	var ids []string
	for after := ""; ; {
		path := "/v1/users/" + user + "/journal?limit=1000"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		code, body, _ := apiCall(t, http.MethodGet, addr, path, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s on %s: %d %s", path, addr, code, body)
		}
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			ids = append(ids, e.ID)
		}
		if page.Next == "" || len(page.Items) == 0 {
			return ids
		}
		after = page.Next
	}
}
