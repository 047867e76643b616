# Thin front end over CMake. See README.md.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# Most tests wait on servers and clients more than they compute: one job more
# than cores keeps both cores busy (the suites are checked stable at -j3).
CTEST_JOBS ?= $(shell echo $$(( $(JOBS) + 1 )))
CTEST_FLAGS ?= --output-on-failure -j $(CTEST_JOBS)

.PHONY: all deps deps-test build build-dev test test-unit test-asan test-tsan run run-tour bench fuzz examples install clean

all: build

# Two package sets (scripts/packages/): what building needs, and what testing adds.
deps:
	@bash scripts/deps.sh build
deps-test:
	@bash scripts/deps.sh test

# `make build` builds only what is installed (libmt, mtftpd) and needs only
# the build set; the test targets reconfigure the same tree with tests,
# benchmarks and examples on, and make every missing test tool a failing test.
PRODUCT_ONLY = -DMT_BUILD_TESTS=OFF -DMT_BUILD_BENCH=OFF -DMT_BUILD_EXAMPLES=OFF
EVERYTHING   = -DMT_BUILD_TESTS=ON -DMT_BUILD_BENCH=ON -DMT_BUILD_EXAMPLES=ON -DMT_REQUIRE_TEST_TOOLS=ON

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMT_WERROR=ON $(PRODUCT_ONLY) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

build-dev: deps-test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMT_WERROR=ON $(EVERYTHING) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

test-unit: build-dev
	ctest --test-dir $(BUILD) $(CTEST_FLAGS)

test-asan: deps-test
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DMT_WERROR=ON -DMT_SANITIZE=address $(EVERYTHING) $(CMAKE_FLAGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	ctest --test-dir $(BUILD_ASAN) $(CTEST_FLAGS)

test-tsan: deps-test
	cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DMT_WERROR=ON -DMT_SANITIZE=thread $(EVERYTHING) $(CMAKE_FLAGS)
	cmake --build $(BUILD_TSAN) -j $(JOBS)
	ctest --test-dir $(BUILD_TSAN) $(CTEST_FLAGS)

# The whole suite: plain build, then ASan+UBSan, then TSan.
test: test-unit test-asan test-tsan
	@echo "make test: plain, ASan+UBSan and TSan suites all passed"

# The main job: mtftpd on 127.0.0.1:2121 over ./ftp-root (see README.md).
run: build
	@bash scripts/run-ftpd.sh $(BUILD)

# The libmt tour (what `make run` did before the server existed).
run-tour: build-dev
	./$(BUILD)/examples/mt_tour

# Every example, with its output checked (the same ctest entries `make test` runs).
examples: build-dev
	ctest --test-dir $(BUILD) $(CTEST_FLAGS) -R '^example\.'

# Longer fuzzing of the server's untrusted edge: FUZZ_SECONDS per harness.
FUZZ_SECONDS ?= 300
fuzz: build-dev
	bash fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)

bench: build-dev
	@for b in $(BUILD)/bench/bench_*; do [ -x "$$b" ] && { echo "== $$b"; "$$b" || exit 1; }; done
	@echo "== bench/py_bench.py"; python3 bench/py_bench.py $(BUILD)
	@echo "== bench/py_proc_bench.py"; python3 bench/py_proc_bench.py $(BUILD)
	@echo "== bench/bench_ftpd.py"; /usr/bin/python3 bench/bench_ftpd.py $(BUILD)
	@echo "== bench/bench_http.py"; /usr/bin/python3 bench/bench_http.py $(BUILD)
	@echo "== bench/bench_client.py"; /usr/bin/python3 bench/bench_client.py $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN)
