// Package baresiptest runs baresip (Debian package baresip, installed by
// `make test-deps`) as a real desk phone in the tests of every package:
// headless, from a generated config directory, stopped when the test
// ends.
package baresiptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/internal/testlog"
)

// Modules is where Debian installs baresip's modules.
const Modules = "/usr/lib/baresip/modules"

// Need returns baresip's path, or skips the test when it is not
// installed (fails instead with UCGRID_REQUIRE_PEERS set, as in `make
// test`).
func Need(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("baresip")
	if err != nil {
		if os.Getenv("UCGRID_REQUIRE_PEERS") != "" {
			t.Fatal("baresip not installed (make test-deps installs it)")
		}
		t.Skip("baresip not installed: run make test-deps")
	}
	if _, err := os.Stat(filepath.Join(Modules, "aubridge.so")); err != nil {
		t.Fatalf("baresip modules not found in %s: %v", Modules, err)
	}
	return path
}

// Config is the configuration of a headless phone listening on listen
// (host:port), followed by more lines: no sound device (player and source
// are one in-memory aubridge device; aufile and ausine stall or refuse
// 8 kHz in baresip 1.0), G.711, accounts from the accounts file.
func Config(listen string, more ...string) []string {
	return append([]string{
		"poll_method epoll",
		"sip_listen " + listen,
		"audio_player aubridge,play", "audio_alert aubridge,alert", "audio_source aubridge,play",
		"module_path " + Modules, "module g711.so", "module aufile.so", "module aubridge.so",
		"module_app account.so",
	}, more...)
}

// Process is a running baresip.
type Process struct {
	// Out collects its standard output and error.
	Out *testlog.Buffer
	// Exited is closed when it has exited.
	Exited <-chan struct{}
}

// Start writes config and the accounts line into a fresh directory and
// starts `baresip -f DIR` through command (exec.Command, or a network
// namespace's). It is killed when the test ends; if the test failed, its
// last output lines are logged under name.
func Start(t testing.TB, name string, command func(string, ...string) *exec.Cmd, config []string, account string) *Process {
	t.Helper()
	dir := t.TempDir()
	for file, content := range map[string]string{"config": strings.Join(config, "\n") + "\n", "accounts": account + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := &testlog.Buffer{}
	cmd := command(Need(t), "-f", dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			lines := strings.Split(out.String(), "\n")
			t.Logf("baresip %s output:\n%s", name, strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	})
	return &Process{Out: out, Exited: exited}
}
