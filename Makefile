# anila — the two commands of the quick start, and a few more.
#
#   make demo    install what is missing, build, compare Langevin and AniLA on rings
#   make test    install what is missing, build, run the whole test suite
#   make bench   time training iterations and sampler steps (README table)
#
# BUILD_DIR, JOBS and CMAKE_FLAGS can be overridden: make test JOBS=1
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ANILA := $(BUILD_DIR)/anila

.PHONY: all deps build demo test bench clean format

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

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD_DIR)
