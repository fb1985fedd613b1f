# imgup — the two commands: `make run` and `make test`. Everything they need is installed by
# scripts/install-deps.sh (Debian packages and a Python venv for the HTTP tests).
SHELL := /bin/bash
.DEFAULT_GOAL := run
JOBS ?= $(shell nproc)
PYTEST := .venv/bin/pytest
SOURCES = $(shell git ls-files '*.cpp' '*.hpp' 2>/dev/null || find src apps tests bench -name '*.[ch]pp')

.PHONY: run deps aws-peers build build-asan test checks aws dynamo dynamo-checks unit unit-asan http http-asan sigv4 sigv4-asan s3-differential s3-differential-asan dynamo-items dynamo-items-asan lambda lambda-asan lambda-tools e2e format format-check tidy bench clean

deps:
	@./scripts/install-deps.sh

## The S3 and DynamoDB peers of the AWS tests: versitygw (built once into
## ~/.cache/imgup/tools/bin, ~3 min) and moto (in .venv).
aws-peers: deps
	@./scripts/install-aws-peers.sh

build: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

build-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

## Serve http://127.0.0.1:8080 with the web page and API, data in ./data
## (`make run PORT=9090 HOST=... DATA=...` to change them; PORT also from the environment).
PORT ?= 8080
HOST = 127.0.0.1
DATA = ./data
run: build
	./build/dev/imgup serve --data $(DATA) --host $(HOST) --port $(PORT)

## Every check the project has: format, unit + contract tests (AWS's SigV4 suite among them),
## HTTP tests, the SigV4 differential test against botocore, S3BlobStore against boto3, the API
## function under AWS's Lambda emulator, the page in a real browser and the Postman collection,
## and the unit, HTTP, differential and Lambda tests again under AddressSanitizer +
## UndefinedBehaviorSanitizer.
##
## The peers (versitygw, moto) start once, after the builds, and every check runs inside
## scripts/with-aws-peers.sh, which stops them when the checks end; IMGUP_REQUIRE_AWS_PEERS=1 makes
## a test that finds no peer fail instead of skipping.
test: format-check build build-asan aws-peers lambda-tools
	@IMGUP_REQUIRE_AWS_PEERS=1 ./scripts/with-aws-peers.sh $(MAKE) --no-print-directory checks
	@echo "make test: all checks passed"

checks: format-check unit http sigv4 s3-differential dynamo-items lambda e2e unit-asan http-asan \
  sigv4-asan s3-differential-asan dynamo-items-asan lambda-asan

## Only the tests that need the AWS peers, with the peers (for working on the AWS adapters).
aws: build aws-peers
	IMGUP_REQUIRE_AWS_PEERS=1 ./scripts/with-aws-peers.sh ctest --preset dev -j $(JOBS) -L aws-peers
	IMGUP_REQUIRE_AWS_PEERS=1 ./scripts/with-aws-peers.sh $(MAKE) --no-print-directory s3-differential

## The DynamoDB adapter's tests with the peers: the client, the contract suites on moto and the
## read-back of its items with boto3 (docs/dynamodb.md).
dynamo: build aws-peers
	IMGUP_REQUIRE_AWS_PEERS=1 ./scripts/with-aws-peers.sh $(MAKE) --no-print-directory dynamo-checks

dynamo-checks: dynamo-items
	ctest --preset dev -j $(JOBS) -R '^Dynamo'

unit: build
	ctest --preset dev -j $(JOBS)

http: build
	IMGUP_BIN=$(CURDIR)/build/dev/imgup $(PYTEST) -q tests/http

## imgup's SigV4 signer against botocore's on a few thousand random requests (tests/aws).
sigv4: build
	IMGUP_SIGV4_TOOL=$(CURDIR)/build/dev/tests/aws/sigv4_tool $(PYTEST) -q tests/aws/test_sigv4_differential.py

sigv4-asan: build-asan
	IMGUP_SIGV4_TOOL=$(CURDIR)/build/asan/tests/aws/sigv4_tool $(PYTEST) -q tests/aws/test_sigv4_differential.py

## S3BlobStore against boto3 on the S3 peer (versitygw; scripts/with-aws-peers.sh says where).
s3-differential: build
	IMGUP_S3_TOOL=$(CURDIR)/build/dev/tests/aws/s3_tool $(PYTEST) -q tests/aws/test_s3_differential.py

s3-differential-asan: build-asan
	IMGUP_S3_TOOL=$(CURDIR)/build/asan/tests/aws/s3_tool $(PYTEST) -q tests/aws/test_s3_differential.py

## AWS's Lambda Runtime Interface Emulator, built with Go the first time (scripts/).
lambda-tools:
	@./scripts/install-lambda-tools.sh

## imgup-lambda-api under the emulator, invoked with API Gateway events (tests/lambda).
lambda: build lambda-tools
	IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/dev/imgup-lambda-api IMGUP_BIN=$(CURDIR)/build/dev/imgup \
	  $(PYTEST) -q tests/lambda

lambda-asan: build-asan lambda-tools
	IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/asan/imgup-lambda-api IMGUP_BIN=$(CURDIR)/build/asan/imgup \
	  $(PYTEST) -q tests/lambda

## What DynamoMetadataStore writes, read back with boto3 in the shapes docs/dynamodb.md gives
## (needs the DynamoDB peer: run inside scripts/with-aws-peers.sh, as make test and make dynamo do).
dynamo-items: build
	IMGUP_DYNAMO_TOOL=$(CURDIR)/build/dev/tests/aws/dynamo_tool $(PYTEST) -q tests/aws/test_dynamo_items.py

dynamo-items-asan: build-asan
	IMGUP_DYNAMO_TOOL=$(CURDIR)/build/asan/tests/aws/dynamo_tool $(PYTEST) -q tests/aws/test_dynamo_items.py

e2e: build
	IMGUP_BIN=$(CURDIR)/build/dev/imgup tests/e2e/run.sh

unit-asan: build-asan
	ctest --preset asan -j $(JOBS)

http-asan: build-asan
	IMGUP_BIN=$(CURDIR)/build/asan/imgup IMGUP_SANITIZED=1 $(PYTEST) -q tests/http

format:
	clang-format-16 -i $(SOURCES)

format-check: deps
	@clang-format-16 --dry-run -Werror $(SOURCES)
	@echo "clang-format: clean"
	@python3 scripts/check_rooms.py

tidy: build
	run-clang-tidy-16 -p build/dev -quiet -extra-arg=-Wno-unknown-warning-option $(filter src/% apps/%,$(filter %.cpp,$(SOURCES)))

## Benchmarks (numbers go to bench/README.md).
bench: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)
	./bench/run.sh

clean:
	rm -rf build
