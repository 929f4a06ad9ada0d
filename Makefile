# The commands a newcomer uses. Two of them matter on a fresh machine:
#   make run    start a local three-node cluster with embedded defaults
#   make test   install what is missing, build twice, run every test
# Everything else is for people working on consist.

JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE       ?= cmake
CTEST       ?= ctest
GENERATOR   := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
RELEASE_DIR := build/release
ASAN_DIR    := build/asan

.PHONY: all build run test test-release test-asan deps bench fuzz format soak clean

all: build

deps:
	@scripts/deps

build: deps
	@$(CMAKE) -S . -B $(RELEASE_DIR) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release \
		-DCS_LAYOUT=ON -DCS_ASSERT_MODE=release >/dev/null
	@$(CMAKE) --build $(RELEASE_DIR) -j $(JOBS)

build-asan: deps
	@$(CMAKE) -S . -B $(ASAN_DIR) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug \
		-DCS_SANITIZE=ON -DCS_ASSERT_MODE=test >/dev/null
	@$(CMAKE) --build $(ASAN_DIR) -j $(JOBS)

# A local three-node cluster with embedded defaults: RESP on 7001-7003, HTTP
# on 8001-8003, data under ./data. Ctrl-C stops every node.
run: build
	@build/bin/consist cluster up -n 3 --dir ./data

test-release: build
	@cd $(RELEASE_DIR) && $(CTEST) --output-on-failure -j $(JOBS)

test-asan: build-asan
	@cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(CTEST) --output-on-failure -j $(JOBS)

# Both builds run every test; the second runs even if the first fails, and the
# target fails if either did.
test:
	@rc=0; \
	echo "== release build (-O2) =="; $(MAKE) --no-print-directory test-release || rc=1; \
	echo "== debug build with ASan + UBSan =="; $(MAKE) --no-print-directory test-asan || rc=1; \
	exit $$rc

bench: build
	@scripts/bench

fuzz: deps
	@$(MAKE) --no-print-directory -C fuzz

soak: build
	@scripts/soak

format:
	@find src include tests bench fuzz examples -name '*.[ch]' -print0 | \
		xargs -0 clang-format -i

clean:
	rm -rf build
