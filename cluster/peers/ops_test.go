package peers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	ucluster "github.com/ucgrid/ucgrid/cluster"
	"github.com/ucgrid/ucgrid/cluster/membership"
	"github.com/ucgrid/ucgrid/internal/testdir"
	"github.com/ucgrid/ucgrid/internal/testlog"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testSecret = "peers-test-secret-0123456789"

// fixedActors is an in-memory Actors: a layer that reports local and
// cannot restart.
type fixedActors struct {
	local LocalActors
	ok    bool
}

func (a fixedActors) Local() (LocalActors, bool) { return a.local, a.ok }

func (a fixedActors) Restart(context.Context) (*membership.Membership, error) {
	return nil, errors.New("fixedActors: no restart")
}

// openDir opens a directory that is a Raft cluster of one, ready.
func openDir(t *testing.T) *persistence.Node {
	t.Helper()
	return testdir.Open(t, persistence.Config{Logger: testlog.New(t, slog.LevelWarn)})
}

func testConfig(t *testing.T, dir *persistence.Node, actors Actors) Config {
	return Config{
		Dir: dir, HTTPAddr: "127.0.0.1:1", Secret: testSecret, Actors: actors, Logger: testlog.New(t, slog.LevelWarn),
		StartGossip: func(context.Context, string, membership.Meta) (*membership.Membership, error) {
			return nil, errors.New("no gossip in this test")
		},
	}
}

// serveInternal serves o's node-to-node routes on a loopback port and
// returns a client signing with secret, and the address.
func serveInternal(t *testing.T, o *Ops, secret string) (*internalClient, string) {
	t.Helper()
	srv := httptest.NewServer(o.InternalHandler())
	c := newInternalClient(signer{secret: []byte(secret), now: time.Now}, nil, nil, nil)
	t.Cleanup(func() {
		c.client.CloseIdleConnections()
		srv.Close()
	})
	return c, srv.Listener.Addr().String()
}

func TestNew_NamesTheMissingField(t *testing.T) {
	full := testConfig(t, &persistence.Node{}, fixedActors{})
	tests := []struct {
		name   string
		adjust func(*Config)
		want   string
	}{
		{"no directory", func(c *Config) { c.Dir = nil }, "Config.Dir"},
		{"no HTTP address", func(c *Config) { c.HTTPAddr = "" }, "Config.HTTPAddr"},
		{"no gossip starter", func(c *Config) { c.StartGossip = nil }, "Config.StartGossip"},
		{"no actor layer", func(c *Config) { c.Actors = nil }, "Config.Actors"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := full
			tc.adjust(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func putUser(t *testing.T, id string) []byte {
	t.Helper()
	b, err := proto.Marshal(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{
		User: &dirpb.User{Id: id, DisplayName: "User " + id}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A follower's write reaches the leader over the signed route: applied,
// rejected with the FSM's code, or not delivered (ErrNoLeader, so the
// caller may retry) when the secrets differ or the leader is unknown.
func TestForwarder_CarriesWritesToTheLeadersSignedRoute(t *testing.T) {
	leader := openDir(t)
	o, err := New(testConfig(t, leader, fixedActors{}))
	if err != nil {
		t.Fatal(err)
	}
	good, addr := serveInternal(t, o, testSecret)
	bad, _ := serveInternal(t, o, "another-secret-0123456789")
	at := func(id string) (string, bool) { return addr, id == leader.ID() }
	tests := []struct {
		name     string
		f        *forwarder
		leaderID string
		cmd      []byte
		check    func(index uint64, err error) error
	}{
		{"applied", &forwarder{client: good, httpAddrOf: at}, leader.ID(), putUser(t, "alice"), func(index uint64, err error) error {
			if err != nil || index == 0 {
				return errors.Join(errors.New("not applied"), err)
			}
			if _, err := leader.Store().User("alice"); err != nil {
				return err
			}
			return nil
		}},
		{"rejected by the FSM", &forwarder{client: good, httpAddrOf: at}, leader.ID(), putUser(t, ""), func(_ uint64, err error) error {
			var ce *persistence.CommandError
			if !errors.As(err, &ce) || ce.Code != persistence.CodeInvalid {
				return errors.Join(errors.New("want a CommandError with CodeInvalid"), err)
			}
			return nil
		}},
		{"other secret", &forwarder{client: bad, httpAddrOf: at}, leader.ID(), putUser(t, "mallory"), func(_ uint64, err error) error {
			if !errors.Is(err, persistence.ErrNoLeader) || !strings.Contains(err.Error(), "403") {
				return errors.Join(errors.New("want ErrNoLeader after a 403"), err)
			}
			if _, err := leader.Store().User("mallory"); err == nil {
				return errors.New("mallory was written")
			}
			return nil
		}},
		{"leader gossips no address", &forwarder{client: good, httpAddrOf: at}, "unknown", putUser(t, "bob"), func(_ uint64, err error) error {
			if !errors.Is(err, persistence.ErrNoLeader) {
				return errors.Join(errors.New("want ErrNoLeader"), err)
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tc.check(tc.f.Forward(ctx, tc.leaderID, tc.cmd)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// GET /v1/internal/node reports the node's Raft state and what its actor
// layer knows: the actor systems in its topology and its grains.
func TestInternalHandler_ReportsRaftStateAndTheActorLayer(t *testing.T) {
	dir := openDir(t)
	actors := fixedActors{ok: true, local: LocalActors{ActorID: "self-1",
		Members: []ucluster.MemberStatus{
			{Node: dir.ID(), ActorID: "self-1", InTopology: true},
			{Node: "b", ActorID: "b-1", InTopology: true},
			{Node: "client", ActorID: "c-1"},
		},
		Grains: map[string]int{"user": 2, "line": 1}}}
	o, err := New(testConfig(t, dir, actors))
	if err != nil {
		t.Fatal(err)
	}
	c, addr := serveInternal(t, o, testSecret)
	var rep nodeReport
	if err := c.do(context.Background(), http.MethodGet, addr, NodePath, nil, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Node != dir.ID() || rep.RaftState != "Leader" || rep.AppliedIndex == 0 {
		t.Errorf("raft part %+v, want node %q, Leader, an applied index", rep, dir.ID())
	}
	if !slices.Equal(rep.ActorIDs, []string{"self-1", "b-1"}) {
		t.Errorf("actor IDs %v, want the two in the topology", rep.ActorIDs)
	}
	if rep.Grains["user"] != 2 || rep.Grains["line"] != 1 || len(rep.Grains) != 2 {
		t.Errorf("grains %v", rep.Grains)
	}
	var none nodeReport
	if err := c.do(context.Background(), http.MethodGet, addr, "/v1/internal/nothing", nil, &none); !errors.Is(err, errUnsent) {
		t.Errorf("unknown route: %v, want errUnsent (404)", err)
	}
}

// Without gossip the status holds this node's Raft view only: it is the
// leader and the one voter.
func TestClusterStatus_WithoutGossipShowsTheRaftView(t *testing.T) {
	dir := openDir(t)
	o, err := New(testConfig(t, dir, fixedActors{}))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := o.ClusterStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := doc.(ClusterStatus)
	if st.Node != dir.ID() || st.Raft.Leader != dir.ID() || !slices.Equal(st.Raft.Voters, []string{dir.ID()}) ||
		len(st.Raft.NonVoters) != 0 || len(st.Members) != 0 {
		t.Fatalf("status %+v", st)
	}
}
