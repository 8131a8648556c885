// Package actorspb holds the protobuf messages the grains exchange
// (actors.proto). Regenerate with `make proto`.
package actorspb

//go:generate sh -c "protoc --plugin=protoc-gen-go=$(go tool -n protoc-gen-go) --go_out=. --go_opt=paths=source_relative actors.proto"
