// Package bench holds the load scenarios behind `ucgrid bench` (rights,
// presence, hunt, register, failover): each exports a Config and a Run
// function, and cmd/ucgrid only binds flags to them. Nothing is implemented
// here yet; it arrives with the benchmark issue.
package bench
