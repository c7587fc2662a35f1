# Floe: the two commands are `make run` and `make test`; everything else is set-up.
BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
CTEST_ARGS ?=
# CI turns warnings into errors; developers get them as warnings.
WERROR     ?= $(if $(CI),ON,OFF)

.PHONY: deps configure build run test test-fast fuzz bench clean

deps:
	@scripts/deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DFLOE_WERROR=$(WERROR)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR)

run: build
	exec $(BUILD_DIR)/floe serve

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 1500 $(CTEST_ARGS)

# The fast suites only (no fuzzing, no end-to-end clients).
test-fast: build
	cd $(BUILD_DIR) && ctest --output-on-failure -LE slow $(CTEST_ARGS)

bench: build
	$(BUILD_DIR)/bench/floe_bench_record_batch

clean:
	rm -rf $(BUILD_DIR)
