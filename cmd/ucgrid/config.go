package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ucgrid/ucgrid/api"
)

// serveOptions are the settings of `ucgrid serve`, read from (lowest to
// highest precedence) built-in defaults, the YAML file of --config, UCGRID_*
// environment variables and command-line flags.
type serveOptions struct {
	Data          string `yaml:"data"`
	HTTP          string `yaml:"http"`
	Raft          string `yaml:"raft"`
	Node          string `yaml:"node"`
	Gossip        string `yaml:"gossip"`
	Join          string `yaml:"join"`
	Actor         string `yaml:"actor"`
	SIPDomain     string `yaml:"sip_domain"`
	SIP           string `yaml:"sip"`
	Cluster       string `yaml:"cluster"`
	AdminPassword string `yaml:"admin_password"`
	LogLevel      string `yaml:"log_level"`
	ClusterSecret string `yaml:"cluster_secret"`
	RaftVoters    string `yaml:"raft_voters"`
	RaftDeadAfter string `yaml:"raft_dead_after"`
	// TrustedProxy and AllowWideTrunks: see serveOptionTable.
	TrustedProxy    string `yaml:"trusted_proxy"`
	AllowWideTrunks string `yaml:"allow_wide_trunks"`
	HTTPTLSCert     string `yaml:"http_tls_cert"`
	HTTPTLSKey      string `yaml:"http_tls_key"`
	// SIP over TLS and connection limits (sipflags.go)
	SIPS                 string `yaml:"sips"`
	SIPTLSCert           string `yaml:"sip_tls_cert"`
	SIPTLSKey            string `yaml:"sip_tls_key"`
	SIPIdleTimeout       string `yaml:"sip_idle_timeout"`
	SIPMessageTimeout    string `yaml:"sip_message_timeout"`
	SIPMaxConnsPerSource string `yaml:"sip_max_conns_per_source"`
	SIPAdvertise         string `yaml:"sip_advertise"`
	// NAT traversal for phones (sipflags.go).
	SIPNATExpires  string `yaml:"sip_nat_expires"`
	SIPNATPing     string `yaml:"sip_nat_ping"`
	SIPNATPingCRLF string `yaml:"sip_nat_ping_crlf"`
	// Overload control (sipflags.go).
	SIPMaxCallsSettingUp  string `yaml:"sip_max_calls_setting_up"`
	SIPMaxTransactions    string `yaml:"sip_max_transactions"`
	SIPMaxQueueAge        string `yaml:"sip_max_queue_age"`
	SIPEdgeProcess        string `yaml:"sip_edge_process"`
	SIPMaxSchedLatency    string `yaml:"sip_max_sched_latency"`
	SIPOverloadRetryAfter string `yaml:"sip_overload_retry_after"`
	// Node-to-node TLS (tlsflags.go).
	TLSCA           string `yaml:"tls_ca"`
	TLSCert         string `yaml:"tls_cert"`
	TLSKey          string `yaml:"tls_key"`
	InsecureCluster string `yaml:"insecure_cluster"`
	// Demo fills a new directory with the demo company (demo.go).
	Demo string `yaml:"demo"`
	// Site is where the node runs (docs/multisite.md).
	Site string `yaml:"site"`
	// Go garbage collector (gcflags.go).
	GCPercent   string `yaml:"gc_percent"`
	MemoryLimit string `yaml:"memory_limit"`
	// LDAPConfig is the LDAP / Active Directory mapping file (ldap.go).
	LDAPConfig string `yaml:"ldap_config"`
}

// option binds one setting to its flag, environment variable and YAML key.
type option struct {
	name  string // flag name; the YAML key is the same with '_' for '-'
	usage string
	def   string
	dst   func(*serveOptions) *string
}

var serveOptionTable = []option{
	{"data", "data directory (Pebble store and Raft log)", "./data", func(o *serveOptions) *string { return &o.Data }},
	{"http", "HTTP listen address (API, /healthz, /readyz, /metrics)", "127.0.0.1:8080", func(o *serveOptions) *string { return &o.HTTP }},
	{"raft", "Raft listen address (peer traffic)", "127.0.0.1:8300", func(o *serveOptions) *string { return &o.Raft }},
	{"gossip", "gossip (memberlist) address, UDP and TCP, that other nodes join", "127.0.0.1:7946", func(o *serveOptions) *string { return &o.Gossip }},
	{"join", "comma-separated gossip addresses of nodes of a cluster to join (default: start a cluster of one)", "", func(o *serveOptions) *string { return &o.Join }},
	{"actor", "actor remote (grain traffic) address; port 0 picks a free one, published by gossip", "127.0.0.1:0", func(o *serveOptions) *string { return &o.Actor }},
	{"sip", "SIP listen address, UDP and TCP on the same port (registrar, call proxy, subscriptions)", "127.0.0.1:5060", func(o *serveOptions) *string { return &o.SIP }},
	{"sip-domain", "SIP domain: lines register as sip:NUMBER@DOMAIN; the digest realm of line passwords", "ucgrid.local", func(o *serveOptions) *string { return &o.SIPDomain }},
	{"node", "node name, unique in the cluster (default: the one --tls-cert names, else the one stored in --data, else a generated node-<hex>)", "", func(o *serveOptions) *string { return &o.Node }},
	{"cluster", "expected cluster id: refuse a data directory of another cluster (default: accept the stored one)", "", func(o *serveOptions) *string { return &o.Cluster }},
	{"admin-password", "password of the system owner 'admin', used on first start only (default: generated and printed)", "", func(o *serveOptions) *string { return &o.AdminPassword }},
	{"log-level", "log level: debug, info, warn or error", "info", func(o *serveOptions) *string { return &o.LogLevel }},
	{"cluster-secret", "shared secret of the cluster's nodes: authenticates forwarded writes and status requests between them and encrypts gossip; required with --join", "", func(o *serveOptions) *string { return &o.ClusterSecret }},
	{"raft-voters", "how many Raft voters the leader keeps; further nodes replicate as non-voters", "3", func(o *serveOptions) *string { return &o.RaftVoters }},
	{"raft-dead-after", "how long a failed node keeps its Raft place before the leader removes it", "30s", func(o *serveOptions) *string { return &o.RaftDeadAfter }},
	{"trusted-proxy", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client (for throttles and logs); default none: the peer's address is the client's", "", func(o *serveOptions) *string { return &o.TrustedProxy }},
	{"allow-wide-trunks", "accept and honour SIP trunks of /0 or wider than /16 (IPv4) or /48 (IPv6): every host in them calls without authentication", "", func(o *serveOptions) *string { return &o.AllowWideTrunks }},
	{"http-tls-cert", "PEM certificate (chain) for HTTPS on --http; read again on SIGHUP (default: plain HTTP)", "", func(o *serveOptions) *string { return &o.HTTPTLSCert }},
	{"http-tls-key", "PEM private key of --http-tls-cert", "", func(o *serveOptions) *string { return &o.HTTPTLSKey }},
	{"sips", "SIP over TLS listen address, e.g. 0.0.0.0:5061 (RFC 3261 §26, sips: URIs); needs --sip-tls-cert and --sip-tls-key (default: no SIP over TLS)", "", func(o *serveOptions) *string { return &o.SIPS }},
	{"sip-tls-cert", "PEM certificate (chain) served on --sips (default: the --http-tls-cert one)", "", func(o *serveOptions) *string { return &o.SIPTLSCert }},
	{"sip-tls-key", "PEM private key of --sip-tls-cert", "", func(o *serveOptions) *string { return &o.SIPTLSKey }},
	{"sip-idle-timeout", "close a SIP TCP/TLS connection that carried nothing, not even an RFC 5626 keep-alive, for this long", "5m", func(o *serveOptions) *string { return &o.SIPIdleTimeout }},
	{"sip-message-timeout", "close a SIP TCP/TLS connection whose message, TLS handshake or write takes longer than this", "10s", func(o *serveOptions) *string { return &o.SIPMessageTimeout }},
	{"sip-advertise", "HOST[:PORT] named to phones in Via, Record-Route and Contact, for a node behind a 1:1 NAT or a load balancer; the port defaults to --sip's, SIP over TLS keeps its own (default: the --sip address; bound to 0.0.0.0 or ::, the address each phone reaches the node on)", "", func(o *serveOptions) *string { return &o.SIPAdvertise }},
	{"sip-max-conns-per-source", "SIP TCP (and TLS) connections one IP address may hold open; raise it where many phones share one address", "32", func(o *serveOptions) *string { return &o.SIPMaxConnsPerSource }},
	{"sip-nat-expires", "longest registration granted to a phone behind a NAT (its Contact or Via names another address than its REGISTER came from); its refresh keeps the NAT mapping open", "60s", func(o *serveOptions) *string { return &o.SIPNATExpires }},
	{"sip-nat-ping", "how often this node pings the phones behind a NAT registered through it (OPTIONS over UDP; TCP/TLS: checks the connection); one missing 3 pings in a row is removed until it registers again; 0 disables", "20s", func(o *serveOptions) *string { return &o.SIPNATPing }},
	{"sip-nat-ping-crlf", "ping phones behind a NAT over UDP with a CRLF datagram instead of an OPTIONS (less traffic; dead phones are then only dropped when their registration expires)", "false", func(o *serveOptions) *string { return &o.SIPNATPingCRLF }},
	{"sip-max-calls-setting-up", "overload: new INVITEs being set up at once (no 18x or final answer yet) beyond which new calls get 503 with Retry-After; 0 = no bound", "400", func(o *serveOptions) *string { return &o.SIPMaxCallsSettingUp }},
	{"sip-max-transactions", "overload: SIP requests being handled at once beyond which new calls, registrations and subscriptions get 503; 0 = no bound", "5000", func(o *serveOptions) *string { return &o.SIPMaxTransactions }},
	{"sip-max-queue-age", "overload: refuse new work (503) read from a UDP datagram that waited longer than this in the socket's receive queue (all of it at twice this age); 0 = no bound", "100ms", func(o *serveOptions) *string { return &o.SIPMaxQueueAge }},
	{"sip-edge-process", "overload: read the SIP UDP socket in a small process of its own (the same binary), so that 503s for new work refused never wait for the node's goroutine scheduler (Linux; false: the node reads it itself)", "true", func(o *serveOptions) *string { return &o.SIPEdgeProcess }},
	{"sip-max-sched-latency", "overload: smoothed p99 goroutine scheduling latency (the CPU signal) above which a growing share of new work over TCP and TLS is refused (UDP: the queue age); 0 = no bound", "100ms", func(o *serveOptions) *string { return &o.SIPMaxSchedLatency }},
	{"sip-overload-retry-after", "overload: Retry-After of a refused INVITE; refused registrations and subscriptions get between it and twice it, at random", "2s", func(o *serveOptions) *string { return &o.SIPOverloadRetryAfter }},
	// Node-to-node TLS (tlsflags.go).
	{"tls-ca", "PEM file of the cluster CA: peers (Raft, actor remoting, node-to-node HTTP) must present a node certificate it signed", "", func(o *serveOptions) *string { return &o.TLSCA }},
	{"tls-cert", "PEM file of this node's certificate (ucgrid tls cert create --node NAME); it must name this node", "", func(o *serveOptions) *string { return &o.TLSCert }},
	{"tls-key", "PEM file of this node's private key", "", func(o *serveOptions) *string { return &o.TLSKey }},
	{"gc-percent", "heap growth between garbage collections in percent of the live heap (Go's GOGC, which wins when set); higher trades memory for CPU on the call path", "400", func(o *serveOptions) *string { return &o.GCPercent }},
	{"memory-limit", "soft memory limit of the Go heap (Go's GOMEMLIMIT, which wins when set): a size such as 2GiB, off, or auto = 3/4 of the cgroup's memory.max when one is set", "auto", func(o *serveOptions) *string { return &o.MemoryLimit }},
	{"site", "the site (data centre or branch office) this node runs in: letters, digits and -; grains of a site's people are placed on its nodes (docs/multisite.md; default: one site)", "", func(o *serveOptions) *string { return &o.Site }},
	{"demo", "on first start, fill the empty directory with a small demo company and print how to sign in as three of its people; refused on a directory that holds more than the admin", "", func(o *serveOptions) *string { return &o.Demo }},
	{"ldap-config", "LDAP / Active Directory mapping file (docs/ldap.md): the Raft leader syncs users, groups and lines from it every watch interval and on `ucgrid ldap sync` (default: no sync)", "", func(o *serveOptions) *string { return &o.LDAPConfig }},
	{"insecure-cluster", "allow Raft, actor and gossip addresses other hosts can reach without TLS (only on a network you trust; default false)", "", func(o *serveOptions) *string { return &o.InsecureCluster }},
}

func envName(flagName string) string {
	return "UCGRID_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseServeOptions reads the settings. lookupEnv is os.LookupEnv outside
// tests. Errors are one line a person can act on.
func parseServeOptions(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (serveOptions, error) {
	fs := flag.NewFlagSet("ucgrid serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML configuration file (keys as the flags, with '_' for '-')")
	flagVals := make(map[string]*string, len(serveOptionTable))
	byName := make(map[string]option, len(serveOptionTable))
	for _, o := range serveOptionTable {
		flagVals[o.name] = defineFlag(fs, o)
		byName[o.name] = o
	}
	if err := fs.Parse(args); err != nil {
		return serveOptions{}, err
	}
	if fs.NArg() > 0 {
		return serveOptions{}, fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	var opts serveOptions
	for _, o := range serveOptionTable {
		*o.dst(&opts) = o.def
	}
	if path := firstNonEmpty(*configFile, envOrEmpty(lookupEnv, "UCGRID_CONFIG")); path != "" {
		if err := readConfigFile(path, &opts); err != nil {
			return serveOptions{}, err
		}
	}
	for _, o := range serveOptionTable {
		if v, ok := lookupEnv(envName(o.name)); ok {
			*o.dst(&opts) = v
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if o, ok := byName[f.Name]; ok {
			*o.dst(&opts) = *flagVals[f.Name]
		}
	})
	return opts, opts.validate()
}

func (o serveOptions) validate() error {
	switch {
	case o.Data == "":
		return errors.New("--data is empty: name the data directory")
	case o.HTTP == "":
		return errors.New("--http is empty: name the HTTP listen address, e.g. 127.0.0.1:8080")
	case o.Raft == "":
		return errors.New("--raft is empty: name the Raft listen address, e.g. 127.0.0.1:8300")
	case o.Gossip == "":
		return errors.New("--gossip is empty: name the gossip address, e.g. 127.0.0.1:7946")
	case o.SIP == "":
		return errors.New("--sip is empty: name the SIP listen address, e.g. 127.0.0.1:5060")
	}
	if err := o.validateCluster(); err != nil {
		return err
	}
	if _, err := o.trustedProxies(); err != nil {
		return err
	}
	if _, err := o.allowWideTrunks(); err != nil {
		return err
	}
	if err := o.validateDemo(); err != nil {
		return err
	}
	if (o.HTTPTLSCert == "") != (o.HTTPTLSKey == "") {
		return errors.New("--http-tls-cert and --http-tls-key go together: give both, or neither for plain HTTP")
	}
	if _, err := o.sipConfig(); err != nil {
		return err
	}
	if err := o.validateTLS(); err != nil {
		return err
	}
	if _, err := o.gcSettings(); err != nil {
		return err
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", o.LogLevel)
	}
	return nil
}

// trustedProxies parses --trusted-proxy.
func (o serveOptions) trustedProxies() ([]netip.Prefix, error) {
	ps, err := api.ParseTrustedProxies(o.TrustedProxy)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxy: %s", strings.TrimPrefix(err.Error(), "api: "))
	}
	return ps, nil
}

// allowWideTrunks parses --allow-wide-trunks ("" is false).
func (o serveOptions) allowWideTrunks() (bool, error) {
	if o.AllowWideTrunks == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(o.AllowWideTrunks)
	if err != nil {
		return false, fmt.Errorf("--allow-wide-trunks %q: give true or false", o.AllowWideTrunks)
	}
	return v, nil
}

func readConfigFile(path string, opts *serveOptions) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(opts); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %s", path, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}

// joinList splits --join into addresses, dropping empty items.
func (o serveOptions) joinList() []string {
	var out []string
	for _, a := range strings.Split(o.Join, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func envOrEmpty(lookupEnv func(string) (string, bool), name string) string {
	v, _ := lookupEnv(name) // absent and empty mean the same here
	return v
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
