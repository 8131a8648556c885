package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// validateCluster checks the cluster flags of serve.
func (o serveOptions) validateCluster() error {
	if _, err := o.raftVoters(); err != nil {
		return err
	}
	if _, err := o.raftDeadAfter(); err != nil {
		return err
	}
	if o.Join != "" && o.ClusterSecret == "" {
		return errors.New("--cluster-secret is required with --join: give every node of the cluster the same secret (it authenticates forwarded writes between nodes)")
	}
	if o.ClusterSecret != "" && len(o.ClusterSecret) < 16 {
		return errors.New("--cluster-secret is too short: use at least 16 characters (e.g. openssl rand -hex 16)")
	}
	return nil
}

func (o serveOptions) raftVoters() (int, error) {
	n, err := strconv.Atoi(o.RaftVoters)
	if err != nil || n < 1 || n > 9 {
		return 0, fmt.Errorf("--raft-voters %q: give a number from 1 to 9 (3 survives one failure, 5 two)", o.RaftVoters)
	}
	return n, nil
}

func (o serveOptions) raftDeadAfter() (time.Duration, error) {
	d, err := time.ParseDuration(o.RaftDeadAfter)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("--raft-dead-after %q: give a duration of at least 1s, e.g. 30s", o.RaftDeadAfter)
	}
	return d, nil
}
