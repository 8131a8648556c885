package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ucgrid/ucgrid/cluster/peers"
	"github.com/ucgrid/ucgrid/ldapsync"
)

const ldapUsage = `usage:
  ucgrid ldap sync [--dry-run] [--watch] [--json] [--http ADDR] [--user ID] [--password PW]
      sync now on the Raft leader (asked through any node) and print the summary;
      --dry-run prints the plan and changes nothing; --watch then keeps printing
      the summary of every sync the leader runs until interrupted
  ucgrid ldap status [--json] [--http ADDR] [--user ID] [--password PW]
      the last sync's outcome
  ucgrid ldap check --config FILE
      read the mapping file, bind and count what a sync would read (no node needed)
`

// loadLDAPConfig loads serve's --ldap-config (nil when not given).
func loadLDAPConfig(path string) (*ldapsync.Config, error) {
	if path == "" {
		return nil, nil
	}
	return ldapsync.Load(path)
}

// ldapCmd runs `ucgrid ldap SUBCOMMAND`.
func ldapCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, ldapUsage)
		return 2
	}
	switch args[0] {
	case "sync":
		return ldapSyncCmd(args[1:], stdout, stderr)
	case "status":
		return ldapStatusCmd(args[1:], stdout, stderr)
	case "check":
		return ldapCheckCmd(args[1:], stdout, stderr)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, ldapUsage)
		return 0
	}
	fmt.Fprint(stderr, ldapUsage)
	return 2
}

// ldapStatus is GET /v1/ldap/status and the status of POST /v1/ldap/sync.
type ldapStatus struct {
	Node       string     `json:"node"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DryRun     bool       `json:"dry_run"`
	Error      string     `json:"error"`
	Created    int        `json:"created"`
	Updated    int        `json:"updated"`
	Disabled   int        `json:"disabled"`
	Unchanged  int        `json:"unchanged"`
	Problems   []string   `json:"problems"`
	IntervalS  int        `json:"interval_s"`
	Source     string     `json:"source"`
}

type ldapAction struct {
	Op     string   `json:"op"`
	Kind   string   `json:"kind"`
	ID     string   `json:"id"`
	DN     string   `json:"dn"`
	Fields []string `json:"fields"`
}

func ldapSyncCmd(args []string, stdout, stderr io.Writer) int {
	var dryRun, watch, asJSON bool
	var poll time.Duration
	o, err := parseAdmin("ldap sync", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&dryRun, "dry-run", false, "print the plan (create / update / disable) and change nothing")
		fs.BoolVar(&watch, "watch", false, "after this sync, print the summary of every sync the leader runs (Ctrl-C ends)")
		fs.BoolVar(&asJSON, "json", false, "print the raw JSON answer")
		fs.DurationVar(&poll, "poll", 5*time.Second, "with --watch: how often to ask for the status")
	})
	if err != nil {
		return exitCode(stderr, "ldap sync", err, true)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := ldapSyncOnce(ctx, o, dryRun, asJSON, stdout)
	if err != nil || !watch {
		return exitCode(stderr, "ldap sync", err, false)
	}
	return exitCode(stderr, "ldap sync", ldapWatch(ctx, o, st, poll, stdout), false)
}

// ldapSyncOnce asks the node for a sync; a follower's not_leader answer
// is followed to the leader's HTTP address (GET /v1/cluster).
func ldapSyncOnce(ctx context.Context, o *adminOptions, dryRun, asJSON bool, stdout io.Writer) (*ldapStatus, error) {
	body := []byte(fmt.Sprintf(`{"dry_run":%t}`, dryRun))
	rctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	resp, err := o.do(rctx, http.MethodPost, "/v1/ldap/sync", body)
	var ae *apiAnswer
	if errors.As(err, &ae) && ae.code == "not_leader" {
		leader, lerr := leaderHTTP(rctx, o)
		if lerr != nil {
			return nil, fmt.Errorf("%w (and the leader's address: %v)", err, lerr)
		}
		lo := *o
		lo.HTTP = leader
		resp, err = lo.do(rctx, http.MethodPost, "/v1/ldap/sync", body)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out struct {
		Status ldapStatus   `json:"status"`
		Plan   []ldapAction `json:"plan"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("unreadable answer: %w", err)
	}
	if asJSON {
		_, err = stdout.Write(append(raw, '\n'))
		return &out.Status, err
	}
	if dryRun {
		printPlan(stdout, out.Plan)
	}
	printLDAPStatus(stdout, &out.Status)
	return &out.Status, nil
}

// leaderHTTP finds the Raft leader's HTTP address.
func leaderHTTP(ctx context.Context, o *adminOptions) (string, error) {
	resp, err := o.get(ctx, "/v1/cluster")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var st peers.ClusterStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return "", fmt.Errorf("unreadable cluster status: %w", err)
	}
	for _, m := range st.Members {
		if m.Node == st.Raft.Leader && m.Address != "" {
			return m.Address, nil
		}
	}
	return "", fmt.Errorf("no leader with an HTTP address in the cluster status (leader %q)", st.Raft.Leader)
}

func printPlan(w io.Writer, plan []ldapAction) {
	for _, a := range plan {
		fields := ""
		if len(a.Fields) > 0 {
			fields = " (" + strings.Join(a.Fields, ", ") + ")"
		}
		fmt.Fprintf(w, "%-7s %-5s %s  %s%s\n", a.Op, a.Kind, a.ID, a.DN, fields)
	}
}

func printLDAPStatus(w io.Writer, st *ldapStatus) {
	when := "?"
	if st.FinishedAt != nil {
		when = st.FinishedAt.Local().Format(time.DateTime)
	}
	what := "sync"
	if st.DryRun {
		what = "dry run (nothing changed)"
	}
	if st.Error != "" {
		fmt.Fprintf(w, "%s %s on %s from %s FAILED: %s\n", when, what, st.Node, st.Source, st.Error)
		return
	}
	fmt.Fprintf(w, "%s %s on %s from %s: %d created, %d updated, %d disabled, %d unchanged, %d problems\n",
		when, what, st.Node, st.Source, st.Created, st.Updated, st.Disabled, st.Unchanged, len(st.Problems))
	for _, p := range st.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
}

// ldapWatch prints each new status until ctx ends.
func ldapWatch(ctx context.Context, o *adminOptions, last *ldapStatus, poll time.Duration, stdout io.Writer) error {
	seen := statusKey(last)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		st, err := fetchLDAPStatus(ctx, o)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if st != nil && statusKey(st) != seen {
			seen = statusKey(st)
			printLDAPStatus(stdout, st)
		}
	}
}

func statusKey(st *ldapStatus) string {
	if st == nil || st.StartedAt == nil {
		return ""
	}
	return st.Node + " " + st.StartedAt.String()
}

func fetchLDAPStatus(ctx context.Context, o *adminOptions) (*ldapStatus, error) {
	rctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	resp, err := o.get(rctx, "/v1/ldap/status")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Configured bool        `json:"configured"`
		Status     *ldapStatus `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("unreadable answer: %w", err)
	}
	return out.Status, nil
}

func ldapStatusCmd(args []string, stdout, stderr io.Writer) int {
	var asJSON bool
	o, err := parseAdmin("ldap status", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the raw JSON answer of GET /v1/ldap/status")
	})
	if err != nil {
		return exitCode(stderr, "ldap status", err, true)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	resp, err := o.get(ctx, "/v1/ldap/status")
	if err != nil {
		return exitCode(stderr, "ldap status", err, false)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return exitCode(stderr, "ldap status", err, false)
	}
	if asJSON {
		_, err = stdout.Write(append(raw, '\n'))
		return exitCode(stderr, "ldap status", err, false)
	}
	var out struct {
		Configured bool        `json:"configured"`
		Status     *ldapStatus `json:"status"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return exitCode(stderr, "ldap status", fmt.Errorf("unreadable answer: %w", err), false)
	}
	if !out.Configured {
		fmt.Fprintf(stdout, "this node has no --ldap-config\n")
	}
	if out.Status == nil {
		fmt.Fprintf(stdout, "no sync has run yet\n")
		return 0
	}
	printLDAPStatus(stdout, out.Status)
	return 0
}

func ldapCheckCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ucgrid ldap check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the mapping file (as serve --ldap-config)")
	if err := fs.Parse(args); err != nil {
		return exitCode(stderr, "ldap check", err, true)
	}
	if *path == "" {
		return exitCode(stderr, "ldap check", errors.New("--config FILE is required"), true)
	}
	c, err := ldapsync.Load(*path)
	if err != nil {
		return exitCode(stderr, "ldap check", err, false)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(c.Timeout))
	defer cancel()
	snap, err := ldapsync.Fetch(ctx, c)
	if err != nil {
		return exitCode(stderr, "ldap check", err, false)
	}
	fmt.Fprintf(stdout, "%s: %d people, %d groups\n", c.Source(), len(snap.Users), len(snap.Groups))
	return 0
}
