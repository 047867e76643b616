# Thin front end over CMake. See README.md.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
CTEST_FLAGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps build test test-unit test-asan test-tsan run run-tour bench fuzz install clean

all: build

deps:
	@bash scripts/deps.sh

# Configure once, then let CMake decide what to rebuild.
$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMT_WERROR=ON $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test-unit: build
	ctest --test-dir $(BUILD) $(CTEST_FLAGS)

test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DMT_WERROR=ON -DMT_SANITIZE=address $(CMAKE_FLAGS)
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	ctest --test-dir $(BUILD_ASAN) $(CTEST_FLAGS)

test-tsan: deps
	cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DMT_WERROR=ON -DMT_SANITIZE=thread $(CMAKE_FLAGS)
	cmake --build $(BUILD_TSAN) -j $(JOBS)
	ctest --test-dir $(BUILD_TSAN) $(CTEST_FLAGS)

# The whole suite: plain build, then ASan+UBSan, then TSan.
test: test-unit test-asan test-tsan
	@echo "make test: plain, ASan+UBSan and TSan suites all passed"

# The main job: mtftpd on 127.0.0.1:2121 over ./ftp-root (see README.md).
run: build
	@bash scripts/run-ftpd.sh $(BUILD)

# The libmt tour (what `make run` did before the server existed).
run-tour: build
	./$(BUILD)/examples/mt_tour

# Longer fuzzing of the server's untrusted edge: FUZZ_SECONDS per harness.
FUZZ_SECONDS ?= 300
fuzz: build
	bash fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)

bench: build
	@for b in $(BUILD)/bench/bench_*; do [ -x "$$b" ] && { echo "== $$b"; "$$b" || exit 1; }; done
	@echo "== bench/py_bench.py"; python3 bench/py_bench.py $(BUILD)
	@echo "== bench/py_proc_bench.py"; python3 bench/py_proc_bench.py $(BUILD)
	@echo "== bench/bench_ftpd.py"; /usr/bin/python3 bench/bench_ftpd.py $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN)
