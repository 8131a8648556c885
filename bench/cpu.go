package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverCPU returns a meter of the CPU the cluster's nodes used so far:
// the child processes' (Procs), or this process's for in-process nodes
// (the bench's own share is small when SIPp generates the load). pid,
// when set, is measured instead (a server the bench did not start).
func (c *Cluster) serverCPU(pid int) func() (time.Duration, bool) {
	if pid > 0 {
		return pidCPU(pid)
	}
	var pids []int
	for _, n := range c.Nodes {
		switch {
		case n.cmd != nil && n.cmd.Process != nil:
			pids = append(pids, n.cmd.Process.Pid)
		case n.srv != nil:
			return selfCPU
		}
	}
	if len(pids) == 0 {
		return nil
	}
	return func() (time.Duration, bool) {
		var sum time.Duration
		for _, p := range pids {
			sum += taskCPU(p)
		}
		return sum, true
	}
}

// selfCPU is this process's user and system CPU time.
func selfCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// pidCPU meters process pid and its children (Kamailio's workers are
// children of its main process); nil for pid 0.
func pidCPU(pid int) func() (time.Duration, bool) {
	if pid <= 0 {
		return nil
	}
	return func() (time.Duration, bool) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
			return 0, false
		}
		sum := taskCPU(pid)
		for _, c := range childPIDs(pid) {
			sum += taskCPU(c)
		}
		return sum, true
	}
}

// taskCPU sums the CPU time of every thread of process pid from
// /proc/PID/task/*/schedstat: the scheduler's nanoseconds, finer than
// the tick-sampled utime and stime of /proc/PID/stat.
func taskCPU(pid int) time.Duration {
	files, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	var sum time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if ns, err := strconv.ParseInt(strings.Fields(string(b) + " 0")[0], 10, 64); err == nil {
			sum += time.Duration(ns)
		}
	}
	return sum
}

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so cut at the last ")".
		i := strings.LastIndexByte(string(b), ')')
		fields := strings.Fields(string(b[i+1:]))
		if i > 0 && len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			if c, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
