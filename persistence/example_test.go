package persistence_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "ucgrid-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	node, err := persistence.Open(ctx, persistence.Config{Dir: dir, ClusterID: "example"})
	if err != nil {
		panic(err)
	}
	defer node.Close()
	if err := node.WaitReady(ctx); err != nil {
		panic(err)
	}

	put := &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{
		User: &dirpb.User{Id: "alice", DisplayName: "Alice Example"},
	}}}
	index, err := node.Apply(ctx, put)
	if err != nil {
		panic(err)
	}
	// Any node can wait for the index before reading its own copy.
	if err := node.WaitApplied(ctx, index); err != nil {
		panic(err)
	}
	u, err := node.Store().User("alice")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.DisplayName)
	// Output: Alice Example
}
