# TinyBase build, test and benchmark entry points.
GO       ?= go
BIN      := bin
DEMO     ?= demo
PORT     ?= 8000
BUS_PORT ?= 4222
# Packages without SQLite run under the race detector; SQLite compiled with
# -race is too slow for a 2-core CI machine.
RACE_PKGS := ./pkg/bus/... ./pkg/runner/... ./pkg/supervisor/... ./pkg/auth/... \
             ./pkg/config/... ./pkg/scheduler/... ./pkg/worker/... ./pkg/ratelimit/... ./pkg/email/... \
             ./pkg/sdk/extension/... ./pkg/api/... ./pkg/activity/... ./pkg/calls/...

.PHONY: all build test test-unit test-race test-e2e test-browser browser-deps admin run bench proto fmt vet clean

all: build

build:
	$(GO) build -o $(BIN)/tinybase ./cmd/tinybase
	$(GO) build -o $(BIN)/tinybase-api ./cmd/api
	$(GO) build -o $(BIN)/tinybase-scheduler ./cmd/scheduler
	$(GO) build -o $(BIN)/tinybase-worker ./cmd/worker

# The whole suite: vet, unit tests, race tests, end-to-end tests.
test: vet
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -race -count=1 -timeout 20m $(RACE_PKGS)
	$(MAKE) test-browser

test-unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/e2e)

test-race:
	$(GO) test -race -count=1 $(RACE_PKGS)

test-e2e:
	$(GO) test -count=1 -v ./test/e2e/

vet:
	$(GO) vet ./...

# The admin UI in Debian's Chromium (installed when missing), driven by
# playwright-core against bin/tinybase; screenshots land in test/browser/out.
test-browser: build browser-deps
	cd test/browser && TB_BINARY=$(abspath $(BIN))/tinybase node --test --test-concurrency=1 admin.test.mjs

# Debian's chromium (with apt, through sudo when not root) and the test's npm
# packages.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y chromium || { $$SUDO apt-get update && $$SUDO apt-get install -y chromium; }; \
	fi
	cd test/browser && npm ci --no-audit --no-fund

# Rebuild the admin UI into admin/dist, which is committed so that a plain
# `go build` embeds it without Node.
admin:
	cd admin && npm ci --no-audit --no-fund && npm run build

# Build, create a demo project on first use, and serve it.
run: build
	@if [ ! -f $(DEMO)/tinybase.toml ]; then \
		$(BIN)/tinybase init --dir $(DEMO) --admin-email admin@example.com --admin-password admin12345; \
		echo "demo admin: admin@example.com / admin12345"; \
	fi
	TINYBASE_SERVER_HOST=127.0.0.1 TINYBASE_SERVER_PORT=$(PORT) TINYBASE_BUS_PORT=$(BUS_PORT) \
		$(BIN)/tinybase serve --dir $(DEMO)

# Go benchmarks plus the HTTP load script.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./pkg/...
	$(GO) run ./test/bench -bin $(BIN)/tinybase
	$(GO) run ./test/bench/records -bin $(BIN)/tinybase -concurrency 32
	$(GO) run ./test/authbench -bin $(BIN)/tinybase -concurrency 32
	$(GO) run ./test/bench/scheduler -bin $(BIN)/tinybase
	$(GO) run ./test/bench/extensions -bin $(BIN)/tinybase

# Regenerate protobuf code (needs protoc and protoc-gen-go; the generated
# files are committed so a normal build needs neither).
proto:
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	protoc --go_out=. --go_opt=paths=source_relative proto/tinybase/bus/v1/*.proto
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative \
		proto/tinybase/extension/v1/*.proto

fmt:
	gofmt -w cmd internal pkg proto test admin

clean:
	rm -rf $(BIN)
