package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// Common is what every scenario shares: the cluster, the generated
// directory, the load.
type Common struct {
	Cluster   ClusterConfig   `json:"cluster"`
	Directory DirectoryConfig `json:"directory"`
	Load      LoadConfig      `json:"load"`
	// Log receives set-up messages ("generating 10000 users"); nil = none.
	Log io.Writer `json:"-"`
	// AfterRun, when set, is called after the measured window while the
	// cluster still runs (to scrape its /metrics, say).
	AfterRun func(ctx context.Context, cl *Cluster) `json:"-"`
}

func (c *Common) afterRun(ctx context.Context, cl *Cluster) {
	if c.AfterRun != nil {
		c.AfterRun(ctx, cl)
	}
}

func (c *Common) ensureDefaults() {
	c.Cluster.ensureDefaults()
	c.Directory.ensureDefaults()
	c.Load.ensureDefaults()
}

func (c *Common) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "\r\033[Kbench: "+format+"\n", args...)
	}
}

// setUp starts (or connects to) the cluster and writes the directory.
func (c *Common) setUp(ctx context.Context) (*Cluster, error) {
	if err := c.Load.validate(); err != nil {
		return nil, err
	}
	begin := time.Now()
	mode := "in-process"
	switch {
	case len(c.Cluster.Target) > 0:
		mode = "target"
	case c.Cluster.Procs:
		mode = "child processes"
	}
	c.logf("starting cluster: %d node(s), %s", max(c.Cluster.Nodes, len(c.Cluster.Target)), mode)
	cl, err := StartCluster(ctx, c.Cluster)
	if err != nil {
		return nil, err
	}
	c.logf("cluster ready in %.1fs; generating %d users, %d groups", time.Since(begin).Seconds(), c.Directory.Users, c.Directory.Groups)
	begin = time.Now()
	var mu sync.Mutex
	var last time.Time
	err = c.Directory.generate(ctx, cl.Nodes[0].API, func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if c.Log != nil && time.Since(last) > time.Second {
			last = time.Now()
			fmt.Fprintf(c.Log, "\rbench: directory %d/%d", done, total)
		}
	})
	if err != nil {
		cl.Stop()
		return nil, fmt.Errorf("bench: generate directory: %w", err)
	}
	c.logf("directory written in %.1fs", time.Since(begin).Seconds())
	return cl, nil
}

// newResult starts a result with the machine and the configuration.
func newResult(name string, cfg any) *Result {
	return &Result{Scenario: name, Started: time.Now().UTC(), Machine: ThisMachine(), Config: cfg}
}
