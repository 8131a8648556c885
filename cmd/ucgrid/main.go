// Command ucgrid is the one binary of ucgrid: `ucgrid serve` runs a node,
// `ucgrid bench` load-tests one, and the admin commands manage a cluster.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: ucgrid <command> [flags]

commands:
  serve     run a node (ucgrid serve --help for its flags)
  cluster status   show members, Raft roles, applied indexes and grains of a running cluster
  ldap sync [--dry-run] [--watch] / ldap status   sync users, groups and lines from LDAP / Active Directory now, or show the last sync (ucgrid ldap help)
  backup    write a consistent backup of a running cluster's directory (--out FILE)
  restore   create a one-node cluster from a backup (--from FILE --data DIR)
  tls ca create / tls cert create --node NAME   make certificates for node-to-node TLS (ucgrid tls help)
  bench     load-test a cluster: rights, presence, hunt, register, failover, scale (ucgrid bench help)
  version   print the version
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "cluster":
		return clusterCmd(args[1:], stdout, stderr)
	case "ldap":
		return ldapCmd(args[1:], stdout, stderr)
	case "backup":
		return backupCmd(args[1:], stdout, stderr)
	case "restore":
		return restoreCmd(args[1:], stdout, stderr)
	case "tls":
		return tlsCmd(args[1:], stdout, stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "ucgrid %s\n", version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ucgrid: unknown command %q (try: ucgrid help)\n", args[0])
		return 2
	}
}
