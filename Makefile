# ucgrid — build, run and test. `make run` and `make test` are the quick
# start; both work on a fresh machine with Go (checked below) and install any
# Debian packages the tests need.

export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO      ?= go
BIN     := bin/ucgrid
DATA    ?= ./data
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Debian packages the test suite needs (SIPp, baresip, Chromium,
# iproute2, iptables and conntrack for the network-namespace lab of
# internal/netlab — partition, NAT and multi-host phone tests — and
# SIPVicious for the attacker's-tools tests of sip/, Kamailio as the
# carrier of the trunk tests; its package does not start it; slapd and
# ldap-utils for the LDAP sync tests, which start their own slapd on a
# temporary directory and free ports, internal/slapdtest). Installed
# by `make test-deps` when missing.
TEST_PKGS := chromium sip-tester baresip iproute2 iptables conntrack sipvicious curl kamailio slapd ldap-utils

.PHONY: all build run demo test test-deps vet fmt-check lint bench bench-go bench-compare bench-commits bench-smoke proto tidy clean check-go fuzz

all: build

check-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "make: Go 1.26 is needed: install it to /usr/local/go (https://go.dev/dl) and run make again" >&2; exit 1; }

build: check-go
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ucgrid

## run: build and start one node with its data under ./data (Ctrl-C stops it)
run: build
	./$(BIN) serve --data $(DATA)

## demo: build and start one node on a new temporary data directory filled
## with a small demo company; prints how to sign in as three of its people
## (docs/demo.md). Each run starts afresh; Ctrl-C stops it (the directory
## stays in $TMPDIR, named on the "serving" line).
demo: build
	./$(BIN) serve --demo --data "$$(mktemp -d "$${TMPDIR:-/tmp}/ucgrid-demo.XXXXXX")/data"

# Packages whose tests run protoactor-go cluster nodes inside the test
# process. The library races internally there (disthash reads its
# rendezvous table unlocked while a topology update replaces it; upstream
# #1108, PITFALLS.md), so those test files are built only without -race
# (//go:build !race) and run in the second pass below. The rest of these
# packages (hub, fan-out) still runs under -race in the first pass.
# cluster/ and cmd/ucgrid run their nodes as child processes instead, keep
# -race, and fail on any race report whose racing frame is our own code.
NORACE_PKGS := ./actors/ ./node/

## test: vet, gofmt check, the whole suite under the race detector, then
## the in-process cluster tests without it (see NORACE_PKGS)
# The issue's 2 s failover budget is checked on a machine the rest of the
# suite does not share at that moment: it runs after the parallel passes.
TIMED_TESTS := ^TestCluster_KilledGroupHostRecoversWithin2s$$

test: check-go test-deps vet fmt-check
	UCGRID_REQUIRE_PEERS=1 $(GO) test -race -count=1 -timeout 15m -skip '$(TIMED_TESTS)' ./...
	$(GO) test -count=1 -timeout 10m $(NORACE_PKGS)
	UCGRID_REQUIRE_PEERS=1 $(GO) test -race -count=1 -timeout 5m -run '$(TIMED_TESTS)' ./cmd/ucgrid/

test-deps:
	@missing=""; for p in $(TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing test packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

vet: check-go
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

lint: vet fmt-check tidy

## bench: the Go benchmarks of the hot paths into a benchstat file
## (bench-go), then a 30-second smoke of every `ucgrid bench` scenario
## (JSON and SVG in bin/bench-out/). docs/benchmarks.md has the
## full-size commands, the figures and how to catch a regression.
BENCH_OUT ?= bin/bench-out
SMOKE     ?= 30s
bench: bench-go bench-smoke

# The benchmarks `make bench-go` and `make bench-commits` run, as
# PACKAGE=-bench pattern: the SIP INVITE and REGISTER paths, the rights
# check and presence fan-out of the actors, the rights engine, and a Raft
# apply replicated over mutual TLS (the cluster's transport; the plain-TCP
# case leaves a Raft connection goroutine behind that fails the package's
# goleak check). About 2 minutes for BENCH_COUNT=6 on 2 cores. Any of these
# can be given to make, e.g. BENCHES=./sip/=RegisterDigest BENCHTIME=200x
# (a `$` in a pattern is written `$$`).
BENCHES     ?= ./sip/=^(BenchmarkGroupInviteTo180|BenchmarkRegisterDigest)$$ \
	./actors/=^(BenchmarkUserGrain_CachedRightsCheck|BenchmarkFanOut_(1k|10k)Watchers)$$ \
	./actors/rights/=^BenchmarkEffective_20SharedGroups$$ \
	./persistence/=^BenchmarkApplyReplicated$$/^mtls$$
BENCHTIME   ?= 1s
BENCH_COUNT ?= 6
BENCH_FILE  ?= $(BENCH_OUT)/go-$(VERSION).txt
BENCH_ENV    = GO='$(GO)' BENCHES='$(strip $(BENCHES))' BENCHTIME='$(BENCHTIME)' BENCH_COUNT='$(BENCH_COUNT)'

## bench-go: the hot-path Go benchmarks, BENCH_COUNT runs each with
## -benchmem, written in benchstat format to BENCH_FILE
## (bin/bench-out/go-<git describe>.txt)
bench-go: check-go
	$(BENCH_ENV) scripts/bench.sh run '$(BENCH_FILE)'

## bench-compare: benchstat of two bench-go files (OLD=file NEW=file)
bench-compare: check-go
	@test -n '$(OLD)' -a -n '$(NEW)' || { echo "usage: make bench-compare OLD=file NEW=file" >&2; exit 2; }
	$(GO) tool benchstat '$(OLD)' '$(NEW)'

## bench-commits: the bench-go benchmarks of two revisions in one sitting
## (OLD=rev, NEW=rev or NEW=. for this tree as it is; default the last
## commit against the one before), runs interleaved, then benchstat;
## files in bin/bench-out/commits/
bench-commits: check-go
	$(BENCH_ENV) scripts/bench.sh commits '$(or $(OLD),HEAD~1)' '$(or $(NEW),HEAD)' $(BENCH_OUT)/commits

bench-smoke: build
	@mkdir -p $(BENCH_OUT)
	./$(BIN) bench rights   --duration $(SMOKE) --json $(BENCH_OUT)/rights.json --plot $(BENCH_OUT)/rights.svg
	./$(BIN) bench presence --duration $(SMOKE) --nodes 3 --procs --watchers 2000 --rate 10 --json $(BENCH_OUT)/presence.json --plot $(BENCH_OUT)/presence.svg
	./$(BIN) bench hunt     --duration $(SMOKE) --rate 200 --json $(BENCH_OUT)/hunt.json --plot $(BENCH_OUT)/hunt.svg
	./$(BIN) bench register --duration $(SMOKE) --rate 1000 --json $(BENCH_OUT)/register.json --plot $(BENCH_OUT)/register.svg
	./$(BIN) bench failover --duration $(SMOKE) --call-timeout 2s --json $(BENCH_OUT)/failover.json --plot $(BENCH_OUT)/failover.svg
	./$(BIN) bench rolling  --users 30 --groups 10 --json $(BENCH_OUT)/rolling.json --plot $(BENCH_OUT)/rolling.svg
	./$(BIN) bench scale    --duration $(SMOKE) --users 10000 --groups 1000 --grants 100000 --json $(BENCH_OUT)/scale.json

## fuzz: each Go fuzz target of the SIP request path for FUZZTIME (60s);
## not part of make test. Seeds are in sip/testdata/fuzz-seeds/.
FUZZTIME ?= 60s
FUZZ_TARGETS := FuzzHandlers FuzzHandlersTCP FuzzStampDatagram FuzzParseFeatureCode FuzzStatelessRefusal
fuzz: check-go
	@for f in $(FUZZ_TARGETS); do \
		echo "fuzzing $$f for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./sip/ || exit 1; \
	done

## proto: regenerate the committed protobuf code (needs protoc: installed if missing)
proto: check-go
	@command -v protoc >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler; }
	$(GO) generate ./...

## tidy: fail when go.mod/go.sum are not tidy
tidy: check-go
	$(GO) mod tidy -diff

clean:
	rm -rf bin
