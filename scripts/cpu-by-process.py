#!/usr/bin/env python3
"""Where a box's CPU goes while a load test runs, one line a second.

usage: scripts/cpu-by-process.py [SECONDS]     (default: until Ctrl-C)

Every second it reads the CPU time (user + system, /proc/PID/stat) of
the processes of a ucgrid load test and prints the cores each group
used in that second:

  node    ucgrid serve
  edge    its SIP edge process (ucgrid-sip-edge)
  caller  SIPp running a caller scenario (uac in the scenario's name)
  phones  every other SIPp (the answering and ringing phones)
  other   everything else on the box, kernel threads included

docs/benchmarks.md, "Fifth sitting", used it beside
../shared/peers/kamailio/run_peer.sh to see what the load generator
takes from the node on a shared box. Linux only.
"""
import os
import sys
import time

GROUPS = ("node", "edge", "caller", "phones", "other")


def group(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return None
    if comm == "ucgrid-sip-edge":
        return "edge"
    if comm == "ucgrid" and b"serve" in args:
        return "node"
    if comm == "sipp":
        return "caller" if any(b"uac" in a for a in args) else "phones"
    return "other"


def ticks():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        g = group(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if g:
            out[pid] = (g, int(fields[11]) + int(fields[12]))  # utime, stime
    return out


def main():
    hz = os.sysconf("SC_CLK_TCK")
    end = time.time() + float(sys.argv[1]) if len(sys.argv) > 1 else None
    print("time      " + " ".join(f"{g:>7}" for g in GROUPS) + "   total")
    prev = ticks()
    while end is None or time.time() < end:
        time.sleep(1)
        cur = ticks()
        used = dict.fromkeys(GROUPS, 0)
        for pid, (g, t) in cur.items():
            # a process born in this second counts from 0
            used[g] += t - prev.get(pid, (g, 0))[1]
        prev = cur
        cores = [used[g] / hz for g in GROUPS]
        print(time.strftime("%H:%M:%S  ") + " ".join(f"{c:7.2f}" for c in cores) + f"  {sum(cores):6.2f}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
