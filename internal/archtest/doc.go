// Package archtest holds a test of the import graph: the packages come in
// rows (docs/architecture.md), and a package imports only from rows below
// its own, so that the graph reads top to bottom.
package archtest
