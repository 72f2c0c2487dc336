# cutover's build, test and tooling entry points. `make test` is what CI runs.
GO        ?= go
BIN       := bin
GOTESTFLAGS ?= -count=1 -timeout 45m

.PHONY: all build tools test unit vet fuzz demo bench reference clean

all: build

build:
	$(GO) build -o $(BIN)/cutover ./cmd/cutover

## tools: install the Debian packages the tests run (sshd, chromium, iproute2) when missing, then
## build the real servers the tests run (MinIO, mc, KES, local-kms, Vault) into bin/,
## skipping any already built for its pinned version.
tools:
	bash scripts/system-packages.sh
	bash scripts/tools.sh

## test: the full suite, against real servers on loopback. Builds what is missing first.
test: tools vet
	$(GO) test $(GOTESTFLAGS) ./...

## unit: the suite without building servers (integration tests skip with a hint).
unit:
	$(GO) test $(GOTESTFLAGS) ./...

vet:
	$(GO) vet ./...

## fuzz: run the parser fuzzers for a while each.
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./plan/
	$(GO) test -run '^$$' -fuzz '^FuzzNesting$$' -fuzztime $(FUZZTIME) ./plan/
	$(GO) test -run '^$$' -fuzz '^FuzzParseRoundTrip$$' -fuzztime $(FUZZTIME) ./internal/envfile/

## demo: build cutover, the demo app and the AWS KMS emulator, then rehearse a
## failing cutover (automatic rollback) and run a real one. Needs only Go.
demo:
	bash scripts/demo.sh

bench:
	go run ./bench $(BENCHFLAGS)

## reference: regenerate docs/reference.md from the registered schemas (doc tags next to the code).
reference:
	$(GO) run ./cmd/genreference

clean:
	rm -rf $(BIN)/cutover
