package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	actorcluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/ucgrid/ucgrid/cluster/membership"
)

// Environment of a child node process.
const (
	childNodeEnv   = "UCGRID_CLUSTER_TEST_NODE"   // node name; selects the child role
	childSeedsEnv  = "UCGRID_CLUSTER_TEST_SEEDS"  // comma-separated gossip seeds
	childClientEnv = "UCGRID_CLUSTER_TEST_CLIENT" // "1": start as an actor-cluster client
	childSiteEnv   = "UCGRID_CLUSTER_TEST_SITE"   // the node's site (membership.Meta.Site)
)

// testHomeSite is the children's HomeSiteFunc: an identity "SITE.rest" is
// homed in SITE, any other has no home site, unless POST /home moved it.
// movedHome holds the home sites POST /home set, by identity.
var movedHome sync.Map

func testHomeSite(_, identity string) string {
	if site, ok := movedHome.Load(identity); ok {
		return site.(string)
	}
	site, _, ok := strings.Cut(identity, ".")
	if !ok {
		return ""
	}
	return site
}

// runChildNode runs one cluster node until its parent closes stdin, kills
// it, or asks it to leave. It prints one line to stdout once started:
//
//	READY http=ADDR
//
// and serves on ADDR:
//
//	GET  /members          JSON []MemberStatus
//	GET  /echo?id=ID       JSON echoReply from the echo grain ID, or 500
//	POST /home?id=ID&site=S  the home site of ID is S now (Node.Recheck)
//	POST /leave            graceful Shutdown, then the process exits
func runChildNode() int {
	name := os.Getenv(childNodeEnv)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var seeds []string
	if s := os.Getenv(childSeedsEnv); s != "" {
		seeds = strings.Split(s, ",")
	}
	cfg := Config{
		Membership: membership.Config{
			NodeName:       name,
			BindAddr:       "127.0.0.1:0",
			Seeds:          seeds,
			RejoinInterval: time.Second,
			Meta:           membership.Meta{Site: os.Getenv(childSiteEnv)},
		},
		ActorAddr: "127.0.0.1:0",
		Kinds:     []*actorcluster.Kind{newEchoKind(name)},
		HomeSite:  testHomeSite,
		Logger:    logger,
	}
	if os.Getenv(childClientEnv) == "1" {
		cfg.Client, cfg.Kinds = true, nil
	}
	node, err := Start(context.Background(), cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", name, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", name, err)
		return 1
	}
	left := make(chan struct{})
	go func() {
		// Serve returns when the process exits; its error is moot then.
		_ = http.Serve(ln, childMux(node, left))
	}()
	fmt.Printf("READY http=%s\n", ln.Addr())

	parentGone := make(chan struct{})
	go func() {
		// EOF (or any error) on stdin means the parent test is gone.
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(parentGone)
	}()
	select {
	case <-left:
	case <-parentGone:
	}
	return 0
}

func childMux(node *Node, left chan<- struct{}) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /members", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, node.Members())
	})
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := node.Request(ctx, r.URL.Query().Get("id"), echoKind, wrapperspb.String("hi"))
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		reply, err := parseEcho(resp.(*wrapperspb.StringValue).GetValue())
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, childEcho{Reply: reply, Took: time.Since(start)})
	})
	mux.HandleFunc("POST /home", func(w http.ResponseWriter, r *http.Request) {
		movedHome.Store(r.URL.Query().Get("id"), r.URL.Query().Get("site"))
		node.Recheck()
		writeJSON(w, http.StatusOK, map[string]string{})
	})
	mux.HandleFunc("POST /leave", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
		defer cancel()
		if err := node.Shutdown(ctx); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{})
		close(left)
	})
	return mux
}

// childEcho is the /echo response.
type childEcho struct {
	Reply echoReply     `json:"reply"`
	Took  time.Duration `json:"took"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// A failed write means the parent hung up; nothing to do about it.
	_ = json.NewEncoder(w).Encode(v)
}
