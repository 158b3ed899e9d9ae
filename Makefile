# anila — the two commands of the quick start, and a few more.
#
#   make demo    install what is missing, build, compare Langevin and AniLA on rings
#   make test    install what is missing, build, run the whole test suite
#   make bench   time training iterations and sampler steps (README table)
#   make fuzz    build the libFuzzer targets (clang, ASan + UBSan) in build-fuzz and run
#                each for FUZZ_SECONDS (default 60) on generated seeds (docs/reliability.md);
#                the loaders' scratch files go to FUZZ_TMPDIR (default /dev/shm: 5x faster)
#   make test-sanitize  build library + tests with ASan + UBSan in build-sanitize and run
#                the tests matching SANITIZE_TESTS (a ctest -R regex, default all);
#                SANITIZE_TEST_FILES="test_io.cpp test_config.cpp" builds only those files;
#                SANITIZE_INSTRUMENT_TESTS=OFF instruments only the library and the CLI
#                (the test programs then come from ccache: much quicker on 2 cores);
#                SANITIZE_SOURCES='src/(io|data)/' instruments only the sources matching it
#
# BUILD_DIR, JOBS and CMAKE_FLAGS can be overridden: make test JOBS=1
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ANILA := $(BUILD_DIR)/anila

FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= config csv idx cifar image npy checkpoint
FUZZ_TMPDIR ?= /dev/shm
SANITIZE_DIR ?= build-sanitize
SANITIZE_TESTS ?= .
SANITIZE_TEST_FILES ?=
SANITIZE_INSTRUMENT_TESTS ?= ON
SANITIZE_SOURCES ?=

.PHONY: all deps build demo test bench clean format fuzz test-sanitize

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS) --target anila_cli
	$(ANILA) compare --config configs/demo.json --samplers langevin,anila --out runs/demo
	@echo "figure: runs/demo/compare.png   table: runs/demo/compare.md"

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

bench: build
	$(ANILA) bench --config configs/rings.json | tee $(BUILD_DIR)/bench-rings.json
	$(BUILD_DIR)/anila_bench --benchmark_min_time=0.2

fuzz: deps build
	cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
	  -DANILA_FUZZ=ON -DANILA_BUILD_TESTS=OFF -DANILA_BUILD_BENCH=OFF
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target anila_fuzz_all
	python3 fuzz/make_seeds.py $(FUZZ_DIR)/seeds --anila $(ANILA)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/crashes/$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  TMPDIR=$(FUZZ_TMPDIR) ASAN_OPTIONS=detect_leaks=0 $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 \
	    -max_len=65536 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crashes/$$t/ \
	    $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/seeds/$$t > $(FUZZ_DIR)/fuzz_$$t.log 2>&1; rc=$$?; \
	  grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|SUMMARY' $(FUZZ_DIR)/fuzz_$$t.log; \
	  [ $$rc -eq 0 ] || { echo "fuzz_$$t failed ($$rc): see $(FUZZ_DIR)/fuzz_$$t.log"; exit 1; }; \
	done

test-sanitize: deps
	cmake -S . -B $(SANITIZE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DANILA_SANITIZE=ON \
	  -DANILA_SANITIZE_TESTS=$(SANITIZE_INSTRUMENT_TESTS) "-DANILA_SANITIZE_SOURCES=$(SANITIZE_SOURCES)" \
	  -DANILA_BUILD_BENCH=OFF \
	  "-DANILA_TEST_FILES=$(SANITIZE_TEST_FILES)" $(CMAKE_FLAGS)
	cmake --build $(SANITIZE_DIR) -j $(JOBS)
	cd $(SANITIZE_DIR) && ANILA_TEST_BINARY=$(abspath $(SANITIZE_DIR))/anila \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 1800 -R '$(SANITIZE_TESTS)'

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD_DIR)
