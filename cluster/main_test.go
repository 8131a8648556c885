package cluster

import (
	"os"
	"testing"
)

// TestMain runs the test binary either as the test suite or, when
// childNodeEnv is set, as one cluster node for the multi-node tests (see
// multinode_test.go).
func TestMain(m *testing.M) {
	if os.Getenv(childNodeEnv) != "" {
		os.Exit(runChildNode())
	}
	os.Exit(m.Run())
}
