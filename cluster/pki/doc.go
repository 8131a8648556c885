// Package pki is the cluster's small public-key infrastructure: it creates
// a certificate authority and node certificates (ECDSA P-256, crypto/x509),
// loads a node's CA, certificate and key from files, and builds the
// mutual-TLS configurations every node-to-node link uses (Raft, internal
// HTTP, actor remoting).
//
// A node certificate names its node with the URI SAN "ucgrid://node/NAME"
// (see NodeURI) and carries both the serverAuth and clientAuth extended key
// usages, so one certificate serves a node as server and as client. A peer
// is accepted when its certificate chains to the cluster CA, is valid now,
// and names a node; Bundle.Server and Bundle.Client build the tls.Config
// that checks this (Go's hostname check is replaced by the node-name
// check, since peers are dialled by address, not by name).
package pki
