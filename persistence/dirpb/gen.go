// Package dirpb holds the protobuf messages of ucgrid's durable directory:
// records, Raft commands and store metadata (directory.proto). rules.go
// holds the rules about one record alone, written once for every reader:
// the lists of call modes, hunt strategies, line kinds, member and system
// roles and override modes, whether a group takes SIP calls, which line
// is primary, which bindings are live.
package dirpb

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --go_out=. --go_opt=paths=source_relative directory.proto"
