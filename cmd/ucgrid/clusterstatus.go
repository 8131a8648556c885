package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ucgrid/ucgrid/cluster/peers"
)

// clusterCmd runs `ucgrid cluster SUBCOMMAND`.
func clusterCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprint(stderr, "usage: ucgrid cluster status [--http ADDR] [--user ID] [--password PW] [--json]\n")
		return 2
	}
	var asJSON bool
	o, err := parseAdmin("cluster status", args[1:], stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the raw JSON document of GET /v1/cluster")
	})
	if err != nil {
		return exitCode(stderr, "cluster status", err, true)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	resp, err := o.get(ctx, "/v1/cluster")
	if err != nil {
		return exitCode(stderr, "cluster status", err, false)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return exitCode(stderr, "cluster status", err, false)
	}
	if asJSON {
		_, err = stdout.Write(raw)
		return exitCode(stderr, "cluster status", err, false)
	}
	var st peers.ClusterStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return exitCode(stderr, "cluster status", fmt.Errorf("unreadable answer: %w", err), false)
	}
	return exitCode(stderr, "cluster status", printStatus(stdout, st), false)
}

// printStatus writes the status for a person: a summary, the Raft
// configuration, the sites (when any is named), then one line per member.
func printStatus(w io.Writer, st peers.ClusterStatus) error {
	leader := st.Raft.Leader
	if leader == "" {
		leader = "NONE (no quorum?)"
	}
	fmt.Fprintf(w, "cluster %s (answered by %s)\n", st.ClusterID, st.Node)
	fmt.Fprintf(w, "raft: leader %s; voters %s; non-voters %s; commit index %d\n", leader,
		listOrNone(st.Raft.Voters), listOrNone(st.Raft.NonVoters), st.Raft.CommitIndex)
	printSites(w, st.Sites)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSITE\tSTATE\tRAFT\tAPPLIED\tHTTP\tGRAINS\tNOTE")
	for _, m := range st.Members {
		role := m.RaftRole
		if m.Node == st.Raft.Leader {
			role += " (leader)"
		}
		note := m.Error
		if m.State == "alive" && !m.InTopology && m.ActorAddr != "" {
			note = strings.TrimSpace("not in the actor topology " + note)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", m.Node, siteName(m.Site), m.State, role, m.Applied, m.Address, grains(m.Grains), note)
	}
	return tw.Flush()
}

// printSites writes one line per site, when any node names one: the
// site's voters and how many of its members are alive.
func printSites(w io.Writer, sites []peers.SiteStatus) {
	if len(sites) == 0 || (len(sites) == 1 && sites[0].Site == "") {
		return
	}
	for _, s := range sites {
		fmt.Fprintf(w, "site %s: voters %s; %d of %d members alive\n", siteName(s.Site), listOrNone(s.Voters), s.Alive, len(s.Members))
	}
}

// siteName shows the unnamed site (nodes without --site) as "-".
func siteName(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(slices.Values(xs)), ",")
}

func grains(g map[string]int) string {
	if len(g) == 0 {
		return "-"
	}
	kinds := make([]string, 0, len(g))
	for k := range g {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s=%d", k, g[k])
	}
	return strings.Join(parts, " ")
}
