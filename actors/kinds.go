package actors

import "github.com/asynkron/protoactor-go/cluster"

// The grain kinds besides KindUser: a line grain's identity is the line
// number, a group grain's the group id.
const (
	KindLine  = "line"
	KindGroup = "group"
)

// Kinds are the cluster kinds of every grain; every node hosts all of them.
func Kinds() []*cluster.Kind {
	return []*cluster.Kind{NewUserKind(), NewLineKind(), NewGroupKind()}
}
