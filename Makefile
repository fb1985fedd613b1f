# imgup — the two commands: `make run` and `make test`. Everything they need is installed by
# scripts/install-deps.sh (Debian packages and a Python venv for the HTTP tests).
SHELL := /bin/bash
.DEFAULT_GOAL := run
JOBS ?= $(shell nproc)
PYTEST := .venv/bin/pytest
# The HTTP tiers (http, http-aws, http-lambda and their asan twins) spread their modules over JOBS
# pytest-xdist workers, each with servers (or Lambda stacks) of its own; a module stays on one
# worker. Measured inside make test on 2 cores: http-lambda 451 s -> 232 s, http-asan 185 s ->
# 136 s; http-aws, bound by moto, gains nothing there (bench/README.md, "make test").
# `make http HTTP_WORKERS=` runs them in one process.
HTTP_WORKERS ?= -n $(JOBS) --dist loadfile
SOURCES = $(shell git ls-files '*.cpp' '*.hpp' 2>/dev/null || find src apps tests bench -name '*.[ch]pp')

.PHONY: run run-aws run-lambda http-lambda http-lambda-asan run-lambda-test run-lambda-test-asan http-aws http-aws-asan run-aws-test run-aws-test-asan deps aws-peers build build-asan test checks aws dynamo dynamo-checks unit unit-asan http http-asan sigv4 sigv4-asan s3-differential s3-differential-asan dynamo-items dynamo-items-asan aws-proofs aws-proofs-asan lambda lambda-asan lambda-tools package package-check infra-tools infra-check infra-iam infra-iam-asan deploy destroy e2e format format-check tidy bench bench-aws bench-lambda clean

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

## The same API on S3 + DynamoDB, on this machine with no AWS account: versitygw and moto on free
## loopback ports (their data under ./data/aws), `imgup init-aws`, then `imgup serve --storage aws`
## on http://127.0.0.1:8080 (PORT= to change it); data/aws-local.env says where they are for the
## AWS CLI. Ctrl-C stops everything (scripts/run-aws.sh).
run-aws: build aws-peers
	./scripts/run-aws.sh

## The serverless stack on this machine, no Docker, no AWS account: both Lambda functions under
## AWS's Runtime Interface Emulator (the API function from build/lambda/api.zip), S3 + DynamoDB on
## versitygw and moto, versitygw's S3 events relayed to the processor, and `imgup gateway` as API
## Gateway on http://127.0.0.1:8080 (PORT=; GATEWAY=rest for a REST API, STAGE=prod for /prod/).
## data/aws-local.env says where everything is; Ctrl-C stops it all (scripts/run-lambda.sh).
## Until make package makes processor.zip, the processor is the release build's, with its pixel
## worker beside it.
run-lambda: build package aws-peers lambda-tools
	@test -f build/lambda/processor.zip || cmake --build --preset release -j $(JOBS) --target imgup-lambda-processor imgup-pixel-worker
	./scripts/run-lambda.sh

## Every check the project has: format, unit + contract tests (AWS's SigV4 suite among them),
## HTTP tests, the SigV4 differential test against botocore, S3BlobStore against boto3, the
## Lambda functions under AWS's emulator, both Lambda zips with the host's libraries hidden (make
## package builds them, package preset), the page in a real browser and the Postman collection,
## and the unit, HTTP, differential and Lambda tests again under AddressSanitizer +
## UndefinedBehaviorSanitizer.
##
## The peers (versitygw, moto) start once, after the builds, and every check runs inside
## scripts/with-aws-peers.sh, which stops them when the checks end; IMGUP_REQUIRE_AWS_PEERS=1 makes
## a test that finds no peer fail instead of skipping.
test: format-check build build-asan package aws-peers lambda-tools infra-tools
	@IMGUP_REQUIRE_AWS_PEERS=1 ./scripts/with-aws-peers.sh $(MAKE) --no-print-directory checks
	@echo "make test: all checks passed"

checks: format-check unit http http-aws run-aws-test sigv4 s3-differential dynamo-items aws-proofs \
  lambda package-check infra-check infra-iam http-lambda run-lambda-test e2e unit-asan http-asan \
  http-aws-asan run-aws-test-asan sigv4-asan s3-differential-asan dynamo-items-asan aws-proofs-asan \
  lambda-asan infra-iam-asan http-lambda-asan run-lambda-test-asan

## Only the tests that need the AWS peers, with the peers (for working on the AWS adapters).
aws: build aws-peers
	IMGUP_REQUIRE_AWS_PEERS=1 ./scripts/with-aws-peers.sh ctest --preset dev -j $(JOBS) -L aws-peers
	IMGUP_REQUIRE_AWS_PEERS=1 ./scripts/with-aws-peers.sh $(MAKE) --no-print-directory s3-differential \
	  aws-proofs http-aws run-aws-test

## The DynamoDB adapter's tests with the peers: the client, the contract suites on moto and the
## read-back of its items with boto3 (docs/dynamodb.md).
dynamo: build aws-peers
	IMGUP_REQUIRE_AWS_PEERS=1 ./scripts/with-aws-peers.sh $(MAKE) --no-print-directory dynamo-checks

dynamo-checks: dynamo-items
	ctest --preset dev -j $(JOBS) -R '^Dynamo'

unit: build
	ctest --preset dev -j $(JOBS)

http: build
	IMGUP_BIN=$(CURDIR)/build/dev/imgup $(PYTEST) -q $(HTTP_WORKERS) tests/http

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

## The AWS adapters proven on the peers (tests/aws; run inside scripts/with-aws-peers.sh): faults
## through a fault-injecting proxy (throttling, 500s, uploads cut off, answers lost), refusals
## (a wrong secret on versitygw and on moto in its auth mode, a skewed clock), and the AWS CLI
## reading back what S3BlobStore wrote.
AWS_PROOFS = tests/aws/test_moto_server.py tests/aws/test_faults.py tests/aws/test_refusals.py tests/aws/test_s3_readback_cli.py
aws-proofs: build
	IMGUP_S3_TOOL=$(CURDIR)/build/dev/tests/aws/s3_tool IMGUP_DYNAMO_TOOL=$(CURDIR)/build/dev/tests/aws/dynamo_tool \
	  $(PYTEST) -q $(AWS_PROOFS)

aws-proofs-asan: build-asan
	IMGUP_S3_TOOL=$(CURDIR)/build/asan/tests/aws/s3_tool IMGUP_DYNAMO_TOOL=$(CURDIR)/build/asan/tests/aws/dynamo_tool \
	  $(PYTEST) -q $(AWS_PROOFS)

## AWS's Lambda Runtime Interface Emulator, built with Go the first time (scripts/).
lambda-tools:
	@./scripts/install-lambda-tools.sh

## The Lambda zips for provided.al2023 (docs/adr/0012-packaging.md), each the function stripped
## with every library it loads and the glibc loader (scripts/package-lambda.sh), built with the
## `package` preset (release, and sharp's libvips for the pixel worker: installed into
## ~/.cache/imgup/tools/sharp-libvips by scripts/install-sharp-libvips.sh, once; with a libheif
## built from Debian's source with libde265 only, for HEIC, which sharp's libvips cannot decode:
## ~/.cache/imgup/tools/libheif-de265, scripts/install-libheif.sh, once, ~2.5 min cold):
## build/lambda/api.zip (imgup-lambda-api) and build/lambda/processor.zip (imgup-lambda-processor,
## with imgup-pixel-worker beside it). Only the functions' targets are built.
package: deps
	@vips=$$(./scripts/install-sharp-libvips.sh) && heif=$$(./scripts/install-libheif.sh) && \
	  cmake --preset package -DIMGUP_SHARP_LIBVIPS="$$vips" -DIMGUP_LIBHEIF="$$heif" >/dev/null
	@cmake --build --preset package -j $(JOBS) --target imgup-lambda-api imgup-lambda-processor imgup-pixel-worker
	@./scripts/package-lambda.sh build/package/imgup-lambda-api build/lambda/api.zip
	@./scripts/package-lambda.sh --helper build/package/imgup-pixel-worker:IMGUP_PIXEL_WORKER \
	  --notice scripts/sharp-libvips/NOTICE.md build/package/imgup-lambda-processor build/lambda/processor.zip

## The zips as Lambda meets them (tests/package): both within their budgets, every library and
## symbol version they need in them, each packaged bootstrap run under the emulator with the
## host's library folders hidden (the processor on a real S3 event against the AWS peers: run
## inside scripts/with-aws-peers.sh, as make test does), and the processor's variants compared
## with the Debian-libvips build's. Then the Lambda tests (tests/lambda) again on the unzipped
## packages' bootstraps: the processor's all (uploads through the dev API function, local
## storage), the API function's on S3 + DynamoDB (its package has no local storage).
package-check: package build lambda-tools
	$(PYTEST) -q tests/package
	rm -rf build/lambda/api build/lambda/processor
	unzip -q build/lambda/api.zip -d build/lambda/api && unzip -q build/lambda/processor.zip -d build/lambda/processor
	IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/lambda/api/bootstrap IMGUP_BIN=$(CURDIR)/build/dev/imgup \
	  $(PYTEST) -q tests/lambda/test_api_function.py -k aws_storage
	IMGUP_LAMBDA_PROCESSOR_BIN=$(CURDIR)/build/lambda/processor/bootstrap IMGUP_BIN=$(CURDIR)/build/dev/imgup \
	  $(PYTEST) -q tests/lambda/test_processor_function.py

## imgup-lambda-api and imgup-lambda-processor under the emulator, invoked with API Gateway and
## S3 events, and what they log: JSON lines with the invocation's ids, CloudWatch EMF metrics
## (tests/lambda).
lambda: build lambda-tools
	IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/dev/imgup-lambda-api IMGUP_BIN=$(CURDIR)/build/dev/imgup \
	  IMGUP_LAMBDA_PROCESSOR_BIN=$(CURDIR)/build/dev/imgup-lambda-processor $(PYTEST) -q tests/lambda

lambda-asan: build-asan lambda-tools
	IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/asan/imgup-lambda-api IMGUP_BIN=$(CURDIR)/build/asan/imgup \
	  IMGUP_LAMBDA_PROCESSOR_BIN=$(CURDIR)/build/asan/imgup-lambda-processor $(PYTEST) -q tests/lambda

## The SAM template's checkers and the SAM CLI of make deploy, each in a venv of its own under
## ~/.cache/imgup/tools (scripts/install-infra-tools.sh; PyPI, pinned).
infra-tools:
	@./scripts/install-infra-tools.sh

## infra/template.yaml through cfn-lint, `sam validate [--lint]` and `checkov --skip-download`, all
## offline, no finding that the template does not skip with its reason (scripts/infra-check.sh);
## that is tests/infra/test_infra_check.py's first test; the others break the template in ways
## each tool must catch, so that this check can fail. And make deploy / make destroy refuse
## without AWS credentials, off the network (tests/infra/test_deploy.py).
infra-check: infra-tools
	$(PYTEST) -q tests/infra/test_infra_check.py tests/infra/test_deploy.py

## IAM, tested (tests/infra/test_iam.py): the template's policies for each function, resolved,
## given to an IAM user in a moto of the test's own (auth mode); both functions under AWS's Lambda
## emulator with those users' keys: every API route and the processor work, and other buckets,
## other prefixes, DeleteTable, Scan, ... are refused. DynamoDB's resource scoping is checked
## statically (moto 5 matches DynamoDB statements only with Resource "*": the test says so).
infra-iam: build lambda-tools
	IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/dev/imgup-lambda-api \
	  IMGUP_LAMBDA_PROCESSOR_BIN=$(CURDIR)/build/dev/imgup-lambda-processor $(PYTEST) -q tests/infra/test_iam.py

infra-iam-asan: build-asan lambda-tools
	IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/asan/imgup-lambda-api \
	  IMGUP_LAMBDA_PROCESSOR_BIN=$(CURDIR)/build/asan/imgup-lambda-processor $(PYTEST) -q tests/infra/test_iam.py

## Deploying to AWS (README): `make deploy` checks for AWS credentials first (and stops, building
## nothing, without them), runs make package, then `sam deploy` of infra/template.yaml with the
## zips as they are (`--guided` the first time, which writes infra/samconfig.toml, not committed).
## `make destroy` empties the stack's bucket once you type the stack's name, then `sam delete`.
## Nothing in make test reaches AWS (tests/infra/test_deploy.py: both refuse without credentials).
deploy: infra-tools
	@./scripts/deploy.sh deploy

destroy: infra-tools
	@./scripts/deploy.sh destroy

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
	IMGUP_BIN=$(CURDIR)/build/asan/imgup IMGUP_SANITIZED=1 $(PYTEST) -q $(HTTP_WORKERS) tests/http

## The HTTP suite against `imgup serve --storage aws`, each server on a fresh bucket and table of
## the peers (run inside scripts/with-aws-peers.sh, as make test and make aws do); the tests about
## the local storage itself skip, saying why (tests/http/conftest.py).
http-aws: build
	IMGUP_TEST_STORAGE=aws IMGUP_BIN=$(CURDIR)/build/dev/imgup $(PYTEST) -q $(HTTP_WORKERS) tests/http

## Under the sanitizers, the API's own modules (the rest of the suite runs the same code as
## http-asan does on local storage, and would double the time of make test).
HTTP_AWS_ASAN_TESTS = tests/http/test_upload.py tests/http/test_images.py tests/http/test_list.py \
  tests/http/test_auth.py tests/http/test_content_redirect.py tests/http/test_presigned_uploads.py
http-aws-asan: build-asan
	IMGUP_TEST_STORAGE=aws IMGUP_BIN=$(CURDIR)/build/asan/imgup IMGUP_SANITIZED=1 \
	  $(PYTEST) -q $(HTTP_WORKERS) $(HTTP_AWS_ASAN_TESTS)

## init-aws, the start-up check of serve --storage aws, and scripts/run-aws.sh (tests/run_aws;
## inside scripts/with-aws-peers.sh).
run-aws-test: build aws-peers
	IMGUP_BIN=$(CURDIR)/build/dev/imgup $(PYTEST) -q tests/run_aws

run-aws-test-asan: build-asan aws-peers
	IMGUP_BIN=$(CURDIR)/build/asan/imgup $(PYTEST) -q tests/run_aws

## The HTTP suite over make run-lambda's stack (tests/http with IMGUP_TEST_STORAGE=lambda: each
## server is scripts/run-lambda.sh on its own data dir, with the dev build's functions under the
## emulator): through the gateway, the API function and the processor, every module with a test
## that runs there (upload, bad input, images, list, content, auth, keyless mode, the pipeline's
## results, the service's routes and logs, the CLI, CORS, HTTP framing). What differs on Lambda
## skips, saying why (tests/http/conftest.py); the modules left out skip whole there (imgup
## serve's flags, the local process and stores). The peers are the stack's own: no
## with-aws-peers.sh needed. `make http-lambda HTTP_LAMBDA_TESTS=tests/http` runs every module.
## Quiet, these modules take 4 min on two workers (7.5 min in one process; README).
HTTP_LAMBDA_ENV = IMGUP_TEST_STORAGE=lambda IMGUP_PROCESSING_TIMEOUT=120
HTTP_LAMBDA_TESTS = tests/http/test_upload.py tests/http/test_upload_bad_input.py tests/http/test_images.py \
  tests/http/test_list.py tests/http/test_content_range.py tests/http/test_content_redirect.py \
  tests/http/test_auth.py tests/http/test_keyless.py tests/http/test_pipeline.py tests/http/test_service.py \
  tests/http/test_cli.py tests/http/test_cors.py tests/http/test_http_framing.py tests/http/test_contract_checker.py
http-lambda: build aws-peers lambda-tools
	$(HTTP_LAMBDA_ENV) IMGUP_BIN=$(CURDIR)/build/dev/imgup IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/dev/imgup-lambda-api \
	  IMGUP_LAMBDA_PROCESSOR_BIN=$(CURDIR)/build/dev/imgup-lambda-processor $(PYTEST) -q $(HTTP_WORKERS) $(HTTP_LAMBDA_TESTS)

## Under the sanitizers: the asan build's gateway and functions, on the upload and auth modules
## (the rest runs the same code as http-lambda and http-asan do).
http-lambda-asan: build-asan aws-peers lambda-tools
	$(HTTP_LAMBDA_ENV) IMGUP_BIN=$(CURDIR)/build/asan/imgup IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/asan/imgup-lambda-api \
	  IMGUP_LAMBDA_PROCESSOR_BIN=$(CURDIR)/build/asan/imgup-lambda-processor IMGUP_SANITIZED=1 \
	  $(PYTEST) -q $(HTTP_WORKERS) tests/http/test_upload.py tests/http/test_auth.py

## scripts/run-lambda.sh itself and its S3 event relay (tests/run_lambda), on the dev build's
## functions.
run-lambda-test: build aws-peers lambda-tools
	IMGUP_BIN=$(CURDIR)/build/dev/imgup IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/dev/imgup-lambda-api \
	  IMGUP_LAMBDA_PROCESSOR_BIN=$(CURDIR)/build/dev/imgup-lambda-processor $(PYTEST) -q tests/run_lambda

run-lambda-test-asan: build-asan aws-peers lambda-tools
	IMGUP_BIN=$(CURDIR)/build/asan/imgup IMGUP_LAMBDA_API_BIN=$(CURDIR)/build/asan/imgup-lambda-api \
	  IMGUP_LAMBDA_PROCESSOR_BIN=$(CURDIR)/build/asan/imgup-lambda-processor $(PYTEST) -q tests/run_lambda

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

## The AWS client's numbers (bench/aws/run.sh: signing beside botocore, PutObjects to versitygw
## beside boto3, in the same run; results in bench/README.md).
bench-aws: deps aws-peers
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target imgup_aws_bench imgup_s3_put_bench
	./bench/aws/run.sh

## The Lambda functions beside the seed's Python peer (bench/lambda_seed_peer.py; bench/seed_python
## installs awslambdaric, boto3 and Pillow into their own cached venv): cold starts, warm uploads,
## peak RSS, 12 MP processing, all under aws-lambda-rie on versitygw + moto, in one run. The API
## function from api.zip; the processor from processor.zip once `make package` makes it, else
## the release build's (its pixel worker beside it). Numbers in bench/README.md.
bench-lambda: package aws-peers lambda-tools
	@cmake --build --preset release -j $(JOBS) --target imgup imgup-lambda-processor imgup-pixel-worker
	./scripts/with-aws-peers.sh .venv/bin/python bench/lambda_seed_peer.py $(BENCH_LAMBDA_ARGS)

clean:
	rm -rf build
