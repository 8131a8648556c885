package main

import (
	"github.com/ucgrid/ucgrid/sip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseServeOptions_Precedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ucgrid.yaml")
	writeFile(t, cfg, "data: /from/file\nhttp: 127.0.0.1:9000\nnode: file-node\nadmin_password: from-file-pw\n")
	o, err := parseServeOptions([]string{"--config", cfg, "--http", "127.0.0.1:9100"},
		env(map[string]string{"UCGRID_NODE": "env-node", "UCGRID_RAFT": "127.0.0.1:9300"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := serveOptions{Data: "/from/file", HTTP: "127.0.0.1:9100", Raft: "127.0.0.1:9300", Node: "env-node",
		Gossip: "127.0.0.1:7946", Actor: "127.0.0.1:0", SIPDomain: "ucgrid.local", SIP: "127.0.0.1:5060", AdminPassword: "from-file-pw", LogLevel: "info",
		RaftVoters: "3", RaftDeadAfter: "30s", SIPIdleTimeout: "5m", SIPMessageTimeout: "10s", SIPMaxConnsPerSource: "32",
		SIPNATExpires: "60s", SIPNATPing: "20s", SIPNATPingCRLF: "false", GCPercent: "400", MemoryLimit: "auto",
		SIPMaxCallsSettingUp: "400", SIPMaxTransactions: "5000", SIPMaxQueueAge: "100ms", SIPEdgeProcess: "true", SIPMaxSchedLatency: "100ms", SIPOverloadRetryAfter: "2s"}
	if o != want {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
}

// SIP over TLS and the connection limits come from flags, UCGRID_*
// variables and config keys like every setting, into sip.Config.
func TestParseServeOptions_SIPTLSAndLimits(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ucgrid.yaml")
	writeFile(t, cfg, "sips: 0.0.0.0:5061\nsip_tls_cert: /etc/ucgrid/sip.crt\nsip_idle_timeout: 2m\n")
	o, err := parseServeOptions([]string{"--config", cfg, "--sip-max-conns-per-source", "64"},
		env(map[string]string{"UCGRID_SIP_TLS_KEY": "/etc/ucgrid/sip.key", "UCGRID_SIP_MESSAGE_TIMEOUT": "5s"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.sipConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.TLSAddr != "0.0.0.0:5061" || c.TLSCertFile != "/etc/ucgrid/sip.crt" || c.TLSKeyFile != "/etc/ucgrid/sip.key" ||
		c.IdleTimeout != 2*time.Minute || c.MessageTimeout != 5*time.Second || c.MaxConnsPerSource != 64 {
		t.Errorf("sip config %+v", c)
	}
}

// The NAT settings come from flags, UCGRID_* variables and config keys;
// --sip-nat-ping 0 disables the pings.
func TestParseServeOptions_SIPNAT(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ucgrid.yaml")
	writeFile(t, cfg, "sip_nat_expires: 90s\nsip_nat_ping_crlf: true\n")
	o, err := parseServeOptions([]string{"--config", cfg, "--sip-nat-ping", "0"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.sipConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.NATExpires != 90*time.Second || c.NATPingInterval >= 0 || !c.NATPingCRLF {
		t.Errorf("sip config %+v", c)
	}
	o, _ = parseServeOptions([]string{"--sip-nat-ping", "25s"}, env(map[string]string{"UCGRID_SIP_NAT_EXPIRES": "2m"}), io.Discard)
	if c, err = o.sipConfig(); err != nil || c.NATPingInterval != 25*time.Second || c.NATExpires != 2*time.Minute || c.NATPingCRLF {
		t.Errorf("sip config %+v %v", c, err)
	}
}

// The overload limits come from flags, UCGRID_* variables and config
// keys; 0 disables a bound (negative in sip.Config); the defaults leave
// sip.Config's zero values, which take the package's defaults.
func TestParseServeOptions_SIPOverload(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ucgrid.yaml")
	writeFile(t, cfg, "sip_max_calls_setting_up: 50\nsip_max_queue_age: 0\n")
	o, err := parseServeOptions([]string{"--config", cfg, "--sip-max-sched-latency", "40ms"},
		env(map[string]string{"UCGRID_SIP_OVERLOAD_RETRY_AFTER": "5s"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.sipConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxCallsSettingUp != 50 || c.MaxTransactions != 5000 || c.MaxQueueAge >= 0 ||
		c.MaxSchedLatency != 40*time.Millisecond || c.OverloadRetryAfter != 5*time.Second {
		t.Errorf("sip config %+v", c)
	}
	o, _ = parseServeOptions(nil, env(nil), io.Discard)
	c, _ = o.sipConfig()
	if d := (sip.Config{}).WithDefaults(); c.MaxCallsSettingUp != d.MaxCallsSettingUp || c.MaxTransactions != d.MaxTransactions ||
		c.MaxQueueAge != d.MaxQueueAge || c.MaxSchedLatency != d.MaxSchedLatency || c.OverloadRetryAfter != d.OverloadRetryAfter {
		t.Errorf("flag defaults %+v differ from sip.Config's", c)
	}
}

func TestParseServeOptions_Defaults(t *testing.T) {
	o, err := parseServeOptions(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Data != "./data" || o.HTTP != "127.0.0.1:8080" || o.Raft != "127.0.0.1:8300" || o.LogLevel != "info" {
		t.Errorf("defaults %+v", o)
	}
}

func TestParseServeOptions_BadInputIsOneClearLine(t *testing.T) {
	dir := t.TempDir()
	unknownKey := filepath.Join(dir, "unknown.yaml")
	writeFile(t, unknownKey, "dta: /x\n")
	broken := filepath.Join(dir, "broken.yaml")
	writeFile(t, broken, "data: [\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"--dat", "/x"}, nil, "flag provided but not defined: -dat"},
		{"stray argument", []string{"serve-now"}, nil, `unexpected argument "serve-now"`},
		{"empty data", []string{"--data", ""}, nil, "--data is empty"},
		{"bad log level", nil, map[string]string{"UCGRID_LOG_LEVEL": "loud"}, `--log-level "loud"`},
		{"missing config file", []string{"--config", filepath.Join(dir, "nope.yaml")}, nil, "no such file"},
		{"unknown config key", []string{"--config", unknownKey}, nil, "field dta not found"},
		{"broken yaml", nil, map[string]string{"UCGRID_CONFIG": broken}, "broken.yaml"},
		{"sips without certificate", []string{"--sips", "127.0.0.1:5061"}, nil, "--sips needs a certificate"},
		{"bad sip idle timeout", nil, map[string]string{"UCGRID_SIP_IDLE_TIMEOUT": "soon"}, `--sip-idle-timeout "soon"`},
		{"bad sip message timeout", []string{"--sip-message-timeout", "0s"}, nil, `--sip-message-timeout "0s"`},
		{"bad sip connection cap", []string{"--sip-max-conns-per-source", "0"}, nil, `--sip-max-conns-per-source "0"`},
		{"sip nat expires below the minimum", []string{"--sip-nat-expires", "30s"}, nil, `--sip-nat-expires "30s"`},
		{"bad sip nat ping", nil, map[string]string{"UCGRID_SIP_NAT_PING": "often"}, `--sip-nat-ping "often"`},
		{"bad sip nat ping crlf", []string{"--sip-nat-ping-crlf", "maybe"}, nil, `--sip-nat-ping-crlf "maybe"`},
		{"bad sip calls bound", []string{"--sip-max-calls-setting-up", "-3"}, nil, `--sip-max-calls-setting-up "-3"`},
		{"bad sip transactions bound", nil, map[string]string{"UCGRID_SIP_MAX_TRANSACTIONS": "many"}, `--sip-max-transactions "many"`},
		{"bad sip queue age", []string{"--sip-max-queue-age", "10"}, nil, `--sip-max-queue-age "10"`},
		{"bad sip sched latency", []string{"--sip-max-sched-latency", "-1ms"}, nil, `--sip-max-sched-latency "-1ms"`},
		{"sip retry-after below a second", []string{"--sip-overload-retry-after", "500ms"}, nil, `--sip-overload-retry-after "500ms"`},
		{"gc percent not a number", []string{"--gc-percent", "lots"}, nil, `--gc-percent "lots"`},
		{"gc percent too low", nil, map[string]string{"UCGRID_GC_PERCENT": "5"}, `--gc-percent "5"`},
		{"memory limit without unit sense", []string{"--memory-limit", "2 apples"}, nil, `--memory-limit "2 apples"`},
		{"memory limit too small", []string{"--memory-limit", "1MiB"}, nil, `--memory-limit "1MiB"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseServeOptions(tc.args, env(tc.env), io.Discard)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestParseServeOptions_TrustedProxyAndWideTrunks(t *testing.T) {
	o, err := parseServeOptions([]string{"--trusted-proxy", "10.0.0.0/8, 192.0.2.7", "--allow-wide-trunks"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	proxies, _ := o.trustedProxies()
	wide, _ := o.allowWideTrunks()
	if len(proxies) != 2 || proxies[1].String() != "192.0.2.7/32" || !wide {
		t.Errorf("proxies %v, wide trunks %v", proxies, wide)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ucgrid.yaml")
	writeFile(t, cfg, "trusted_proxy: 2001:db8::/32\nallow_wide_trunks: true\n")
	o, err = parseServeOptions([]string{"--config", cfg}, env(map[string]string{"UCGRID_ALLOW_WIDE_TRUNKS": "false"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	proxies, _ = o.trustedProxies()
	wide, _ = o.allowWideTrunks()
	if len(proxies) != 1 || wide {
		t.Errorf("from file and env: proxies %v, wide trunks %v (env false wins over the file)", proxies, wide)
	}
	o, _ = parseServeOptions(nil, env(nil), io.Discard)
	if wide, _ := o.allowWideTrunks(); wide || o.TrustedProxy != "" {
		t.Errorf("defaults: %+v", o)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--trusted-proxy", "10.0.0.0/8,office"}, nil, `--trusted-proxy: trusted proxy "office"`},
		{nil, map[string]string{"UCGRID_ALLOW_WIDE_TRUNKS": "sometimes"}, `--allow-wide-trunks "sometimes"`},
		{[]string{"--allow-wide-trunks=maybe"}, nil, "give true or false"},
	} {
		_, err := parseServeOptions(tc.args, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v %v: error %v, want one line containing %q", tc.args, tc.env, err, tc.want)
		}
	}
}
