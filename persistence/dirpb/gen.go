// Package dirpb holds the protobuf messages of ucgrid's durable directory:
// records, Raft commands and store metadata (directory.proto).
package dirpb

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --go_out=. --go_opt=paths=source_relative directory.proto"
