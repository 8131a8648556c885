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

// WithDefaults returns a copy of c with the defaults of its Cluster,
// Directory and Load filled in. Each scenario's Config calls it from its
// own WithDefaults.
func (c Common) WithDefaults() Common {
	c.Cluster = c.Cluster.WithDefaults()
	c.Directory = c.Directory.WithDefaults()
	c.Load = c.Load.WithDefaults()
	return c
}

// Validate reports the first invalid field of c's Cluster, Directory or
// Load, with their defaults filled in.
func (c Common) Validate() error {
	c = c.WithDefaults()
	if err := c.Cluster.Validate(); err != nil {
		return err
	}
	if err := c.Directory.Validate(); err != nil {
		return err
	}
	return c.Load.Validate()
}

// invalidConfig is the error of a Config's Validate: "bench:
// <Type>.<Field>: <what is wrong>".
func invalidConfig(field, format string, args ...any) error {
	return fmt.Errorf("bench: %s: %s", field, fmt.Sprintf(format, args...))
}

func (c *Common) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "\r\033[Kbench: "+format+"\n", args...)
	}
}

// setUp starts (or connects to) the cluster and writes the directory.
func (c *Common) setUp(ctx context.Context) (*Cluster, error) {
	if err := c.Validate(); err != nil {
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
