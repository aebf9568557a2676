# Ferry: the two commands a newcomer needs are `make demo` and `make test`.
GO        ?= go
BIN       ?= bin
FUZZTIME  ?= 30s
TEST_TIMEOUT ?= 20m

.PHONY: all build demo demo-firewalled lint test test-short vet fuzz bench docs clean

all: build

build:
	$(GO) build -o $(BIN)/ferry ./cmd/ferry

## demo: real backup and restore through director, sd and two fds (one passive)
demo:
	bash deploy/demo.sh

## demo-firewalled: the passive client behind a firewall that drops every
## outbound connection (network namespaces, root): backup and restore, and
## its outbound-attempt counter, which must read 0
demo-firewalled:
	$(GO) test -count=1 -run 'TestNetwork/firewalled_passive_client' -v ./integration/ 2>&1 | \
	  grep -E 'outbound connection attempts|: job [0-9]+ |--- (PASS|FAIL|SKIP)|^(ok|FAIL)'

## test: every tier: unit, fuzz seeds, golden files, docs, integration (real processes)
test: vet
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-short: quick local loop (skips nothing silently: see -short in each test)
test-short:
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## lint: staticcheck (installed from the Go module proxy at a pinned version)
lint:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$$($(GO) env GOPATH)/bin/staticcheck ./...

## fuzz: run every fuzz target (each `func FuzzX` in a _test.go file) for FUZZTIME each;
##   a package that does not build fails the run instead of dropping its targets
fuzz:
	@for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(cat $$dir/*_test.go | sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p'); do \
	    echo "== $$dir $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$dir || exit 1; \
	  done; \
	done

## bench: end to end, one table: Ferry (real director, sd, passive and active fd) against tar + socat
##   BENCH_OUT=FILE writes the medians as JSON; BENCH_SCALE=0.25 shrinks the datasets; BENCH_ROUNDS (3); see bench/README.md
bench:
	@command -v socat >/dev/null 2>&1 || { echo "make bench needs socat: apt-get install -y socat"; exit 1; }
	BENCH_OUT='$(BENCH_OUT)' BENCH_SCALE='$(BENCH_SCALE)' BENCH_ROUNDS='$(BENCH_ROUNDS)' $(GO) run ./bench/cmd/ferrybench

## bench-go: Go benchmarks of the hot paths (benchstat-friendly, into bench.txt); the *VsTar ones compare
## a small-file send or restore with tar in the same rounds: go test -run='^$$' -bench=VsTar ./agents/fd/...
.PHONY: bench-go
bench-go:
	$(GO) test -run='^$$' -bench=. -skip=VsTar -benchmem -count=5 ./datapath/ ./agents/sd/volume/ ./agents/director/catalog/sqlite/ ./agents/fd/backup/ | tee bench.txt

## docs: regenerate docs/bus.md from schemas/
docs:
	$(GO) test ./schemas -run TestDocsUpToDate -update-docs

clean:
	rm -rf $(BIN) bench.txt
