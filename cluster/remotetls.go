package cluster

import (
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/ucgrid/ucgrid/cluster/pki"
)

// remoteTLSOptions make protoactor-go's remoting (gRPC) mutual TLS: the
// server requires a node certificate of the cluster CA from every peer,
// and the node dials peers with its own and verifies theirs. A grain
// message therefore only ever comes from an authenticated node, so grains
// may trust the Viewer and Actor fields it carries.
func remoteTLSOptions(b *pki.Bundle, log *slog.Logger, refused *atomic.Uint64) []remote.ConfigOption {
	server := loggedCreds{TransportCredentials: credentials.NewTLS(b.Server()), log: log, refused: refused}
	return []remote.ConfigOption{
		remote.WithServerOptions(grpc.Creds(server)),
		remote.WithDialOptions(grpc.WithTransportCredentials(credentials.NewTLS(b.Client("")))),
	}
}

// loggedCreds logs every peer the actor remote refuses (one line naming
// the peer); gRPC itself only closes the connection.
type loggedCreds struct {
	credentials.TransportCredentials
	log     *slog.Logger
	refused *atomic.Uint64
}

func (c loggedCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.refused.Add(1)
		c.log.Warn("cluster: refused an actor peer", "peer", conn.RemoteAddr().String(), "err", err)
	}
	return out, info, err
}

func (c loggedCreds) Clone() credentials.TransportCredentials {
	return loggedCreds{TransportCredentials: c.TransportCredentials.Clone(), log: c.log, refused: c.refused}
}
