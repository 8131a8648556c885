//go:build !race

// Built without -race only: it runs whole nodes and a protoactor-go
// client in this process (see the Makefile's NORACE_PKGS).

package node

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testlog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/actorspb"
	ucluster "github.com/ucgrid/ucgrid/cluster"
	"github.com/ucgrid/ucgrid/cluster/membership"
	"github.com/ucgrid/ucgrid/cluster/peerlink"
	"github.com/ucgrid/ucgrid/cluster/peers"
	"github.com/ucgrid/ucgrid/cluster/pki"
	"github.com/ucgrid/ucgrid/cluster/pki/pkitest"
	"github.com/ucgrid/ucgrid/internal/testnet"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

const tlsTestSecret = "tls-test-secret-0123456789"

// startBob starts a node (adjusted by adjust) holding user bob, who is
// busy; it returns the node and bob's client.
func startBob(t *testing.T, adjust func(*Config)) (*Node, client) {
	t.Helper()
	s := startServerWith(t, func(c *Config) {
		c.NodeID, c.ClusterSecret, c.GossipAddr = "n1", tlsTestSecret, testnet.FreeAddr(t)
		adjust(c)
	})
	base := "http://" + s.HTTPAddr()
	client{t, base, AdminID, "admin-secret"}.must(http.StatusCreated, "PUT", "/v1/users/bob", map[string]any{"display_name": "Bob", "password": "bob-password"}, "")
	bob := client{t, base, "bob", "bob-password"}
	bob.must(http.StatusOK, "PUT", "/v1/users/bob/presence", map[string]any{"state": "busy"}, "")
	return s, bob
}

// rogueSetsPresence starts an actor-cluster client that knows the
// cluster secret (so it joins gossip) and holds tlsCfg (nil: plain gRPC),
// and asks bob's grain to set bob's presence to dnd.
func rogueSetsPresence(t *testing.T, s *Node, tlsCfg *pki.Bundle) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rogue, err := ucluster.Start(ctx, ucluster.Config{
		Membership: membership.Config{NodeName: "rogue", BindAddr: "127.0.0.1:0", Seeds: []string{s.cfg.GossipAddr},
			SecretKey: gossipKey(tlsTestSecret), Logger: s.cfg.Logger},
		ActorAddr: "127.0.0.1:0", Client: true, TLS: tlsCfg, Logger: s.cfg.Logger,
		RequestTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := rogue.Shutdown(ctx); err != nil {
			t.Log(err)
		}
	}()
	waitUntil(t, "the rogue sees n1's grains", func() bool {
		for _, m := range rogue.Members() {
			if m.Node == "n1" && slices.Contains(m.Kinds, actors.KindUser) {
				return true
			}
		}
		return false
	})
	dnd := "dnd"
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	rep, err := rogue.Request(rctx, "bob", actors.KindUser, &actorspb.SetPresence{Actor: "bob", State: &dnd})
	if err == nil {
		if e := rep.(*actorspb.SetPresenceReply).GetError(); e != nil {
			t.Fatalf("the grain refused for another reason: %v", e)
		}
	}
	return err
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

// Without TLS a process that knows the cluster secret sets anybody's
// presence through the grain (the control: the attack is real); with
// mutual TLS neither a plain gRPC client nor one holding a certificate of
// another CA (even one naming the node) gets a message to the grain.
func TestServer_GrainsTakeMessagesOnlyFromCertifiedNodes(t *testing.T) {
	t.Run("control: plain remoting", func(t *testing.T) {
		s, bob := startBob(t, func(*Config) {})
		if err := rogueSetsPresence(t, s, nil); err != nil {
			t.Fatalf("the rogue's message did not arrive without TLS: %v", err)
		}
		if got, _ := bob.must(http.StatusOK, "GET", "/v1/users/bob/presence", nil, ""); got["state"] != "dnd" {
			t.Fatalf("bob is %v after the control message", got["state"])
		}
	})
	ca := t.TempDir()
	logs := &testlog.Buffer{}
	s, bob := startBob(t, func(c *Config) {
		c.TLS = pkitest.Bundle(t, ca, "n1")
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	for _, tc := range []struct {
		name string
		tls  *pki.Bundle
	}{
		{"plain gRPC", nil},
		{"certificate of another CA", pkitest.Stranger(t, ca, "rogue")},
		{"another CA's certificate naming n1", pkitest.Stranger(t, ca, "n1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := rogueSetsPresence(t, s, tc.tls); err == nil {
				t.Fatal("the rogue's message was answered")
			}
			if got, _ := bob.must(http.StatusOK, "GET", "/v1/users/bob/presence", nil, ""); got["state"] != "busy" {
				t.Fatalf("bob is %v, want busy", got["state"])
			}
		})
	}
	t.Run("another CA's certificate, sending straight to the grain", func(t *testing.T) {
		// Fire-and-forget to the grain's PID: no reply path is needed, so
		// only the node's check of the client certificate keeps it out.
		local := s.layer().node.Cluster().Get("bob", actors.KindUser)
		if local == nil {
			t.Fatal("no activation of bob")
		}
		// A fresh PID: the one from n1 caches n1's in-process actor, and a
		// send through it would never touch the network.
		pid := actor.NewPID(local.Address, local.Id)
		system := actor.NewActorSystem()
		stranger := pkitest.Stranger(t, ca, "n1")
		r := remote.NewRemote(system, remote.Configure("127.0.0.1", 0,
			remote.WithServerOptions(grpc.Creds(credentials.NewTLS(stranger.Server()))),
			remote.WithDialOptions(grpc.WithTransportCredentials(credentials.NewTLS(stranger.Client(""))))))
		r.Start()
		defer r.Shutdown(false)
		defer system.Shutdown()
		before := s.layer().node.PeersRefused()
		dnd := "dnd"
		system.Root.Send(pid, &actorspb.SetPresence{Actor: "bob", State: &dnd})
		// Either the node refuses the connection or the message changes
		// bob (within milliseconds once connected).
		state := func() any {
			got, _ := bob.must(http.StatusOK, "GET", "/v1/users/bob/presence", nil, "")
			return got["state"]
		}
		waitUntil(t, "the connection is refused or the message arrives", func() bool {
			return s.layer().node.PeersRefused() > before || state() != "busy"
		})
		if got := state(); got != "busy" {
			t.Fatalf("bob is %v, want busy", got)
		}
	})
	if !strings.Contains(logs.String(), "refused an actor peer") {
		t.Errorf("no refusal logged:\n%s", logs.String())
	}
	if m := metricsOf(t, s); !strings.Contains(m, `ucgrid_cluster_peers_refused_total{port="actor"}`) ||
		strings.Contains(m, `ucgrid_cluster_peers_refused_total{port="actor"} 0`) {
		t.Errorf("refusals not counted:\n%s", grepLines(m, "refused"))
	}
}

func metricsOf(t *testing.T, s *Node) string {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// With TLS the node-to-node routes are off the public HTTP port (even a
// request signed with the cluster secret gets 404), and the Raft port
// refuses plain HTTP and another CA's certificate; a node with another
// CA's certificate is not added to Raft. The directory is unchanged.
func TestServer_NodeToNodeRoutesAndJoinNeedTheClusterCA(t *testing.T) {
	ca := t.TempDir()
	s, _ := startBob(t, func(c *Config) { c.TLS = pkitest.Bundle(t, ca, "n1") })
	applied := s.Directory().Applied()
	body, err := proto.Marshal(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{
		User: &dirpb.User{Id: "mallory", DisplayName: "Mallory", SystemRole: "system_owner"}}}})
	if err != nil {
		t.Fatal(err)
	}
	raftAddr := s.Directory().RaftAddr()
	t.Run("signed request on the public port", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.HTTPAddr()+peers.ApplyPath, bytes.NewReader(body))
		peers.Sign(req, body, tlsTestSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
	})
	t.Run("plain HTTP on the Raft port", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+raftAddr+peers.ApplyPath, bytes.NewReader(body))
		peers.Sign(req, body, tlsTestSecret)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("answered %d", resp.StatusCode)
		}
	})
	t.Run("another CA on the Raft port", func(t *testing.T) {
		link, err := peerlink.Listen("127.0.0.1:0", "", pkitest.Stranger(t, ca, "n2"), s.cfg.Logger)
		if err != nil {
			t.Fatal(err)
		}
		defer link.Close()
		c := &http.Client{Transport: &http.Transport{
			DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return link.DialInternal(ctx, addr, "") },
		}}
		req, _ := http.NewRequest(http.MethodPost, "https://"+raftAddr+peers.ApplyPath, bytes.NewReader(body))
		peers.Sign(req, body, tlsTestSecret)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatal("answered 200")
			}
		}
	})
	t.Run("a node of another CA joins", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.NodeID, cfg.ClusterSecret, cfg.Join = "n2", tlsTestSecret, []string{s.cfg.GossipAddr}
		cfg.GossipAddr, cfg.ReadyTimeout = testnet.FreeAddr(t), 3*time.Second
		cfg.TLS = pkitest.Stranger(t, ca, "n2")
		if other, err := Start(context.Background(), cfg); err == nil {
			_ = other.Shutdown(context.Background())
			t.Fatal("the node of another CA started in the cluster")
		} else if !strings.Contains(err.Error(), "not added") {
			t.Fatalf("start failed for another reason: %v", err)
		}
		servers, err := s.Directory().Servers()
		if err != nil || len(servers) != 1 || servers[0].ID != "n1" {
			t.Fatalf("raft servers %v, %v: want only n1", servers, err)
		}
	})
	if _, err := s.Directory().Store().User("mallory"); err == nil {
		t.Fatal("mallory was written")
	}
	if m := metricsOf(t, s); !strings.Contains(m, `ucgrid_cluster_peers_refused_total{port="raft"}`) ||
		strings.Contains(m, `ucgrid_cluster_peers_refused_total{port="raft"} 0`) {
		t.Errorf("refusals not counted:\n%s", grepLines(m, "refused"))
	}
	if got := s.Directory().Applied(); got != applied {
		t.Fatalf("applied index moved from %d to %d", applied, got)
	}
}
