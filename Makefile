# OpenNDK — the two commands a fresh Debian 12 machine needs:
#   make run    installs dependencies, builds, runs the loopback demo/benchmark on the default adapter
#   make test   installs dependencies, builds (release, ASan/UBSan, TSan), runs every test, the siw
#               interop matrix and the fuzzers
# Other targets: build, tsan, soak, fuzz, fuzz-long, bench, install, package (.deb), clean, interop (siw VM, docs/interop.md).

JOBS      ?= $(shell nproc)
CMAKE_GEN := -G Ninja -DOPENNDK_WERROR=ON
BUILD     := build/release
ASAN      := build/asan
TSAN      := build/tsan
FUZZ      := build/fuzz
FUZZ_SECONDS ?= 20

.PHONY: deps build run test test-release test-asan tsan fuzz fuzz-long bench install package clean interop

deps:
	@bash scripts/install-deps

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(ASAN)/build.ninja: | deps
	cmake -S . -B $(ASAN) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DOPENNDK_SANITIZE=address,undefined -DOPENNDK_BENCH=OFF

$(TSAN)/build.ninja: | deps
	cmake -S . -B $(TSAN) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DOPENNDK_SANITIZE=thread -DOPENNDK_BENCH=OFF

$(FUZZ)/build.ninja: | deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DOPENNDK_FUZZ=ON -DOPENNDK_TESTS=OFF -DOPENNDK_BENCH=OFF -DOPENNDK_SANITIZE=address,undefined

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@scripts/run-demo $(BUILD)

test-release: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 300

test-asan: $(ASAN)/build.ninja
	cmake --build $(ASAN) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN) --output-on-failure -j $(JOBS) --timeout 600

test: test-release test-interop test-asan tsan fuzz
	@echo "make test: release, siw interop, ASan/UBSan and TSan suites passed, fuzzers ran $(FUZZ_SECONDS)s each without findings"

# TSAN_OPTIONS is inherited by every process a test starts (ndk perf's child, fault peers, soak
# modes), so tests/tsan.supp applies to all of them. history_size=7 (the largest): a suppression
# matches a frame of either stack, and a poller that spins for a long time between its access and
# the report (ndk perf's waitTag while the engine places the Write) otherwise loses its stack
# ("failed to restore the stack") and escapes its suppression. Prints how long the stage took.
TSAN_OPTIONS_ALL := halt_on_error=1:second_deadlock_stack=1:history_size=7:suppressions=$(CURDIR)/tests/tsan.supp
tsan: $(TSAN)/build.ninja
	@start=$$(date +%s); built=$$start; \
	cmake --build $(TSAN) -j $(JOBS) && built=$$(date +%s) && \
	TSAN_OPTIONS=$(TSAN_OPTIONS_ALL) ctest --test-dir $(TSAN) --output-on-failure -j $(JOBS) --timeout 900; rc=$$?; \
	end=$$(date +%s); echo "make tsan: build $$((built - start)) s, tests $$((end - built)) s"; exit $$rc

# Mixed soak (tests/soak, docs/security.md): SOAK_SECONDS over the three progress modes.
SOAK_SECONDS ?= 600
.PHONY: soak
soak: build
	$(BUILD)/tests/soak/soak --seconds $(SOAK_SECONDS) --pairs 16 --mode all

fuzz: $(FUZZ)/build.ninja
	cmake --build $(FUZZ) -j $(JOBS)
	@scripts/run-fuzzers $(FUZZ) $(FUZZ_SECONDS)

fuzz-long:
	$(MAKE) fuzz FUZZ_SECONDS=600

bench: build
	@scripts/run-bench $(BUILD)

install: build
	cmake --install $(BUILD)

# The Debian package (CPack, cmake/OpenNDKPackaging.cmake): $(BUILD)/package/openndk_<version>_<arch>.deb
package: build
	cd $(BUILD) && cpack -G DEB

# Interop with Linux Soft-iWARP in a QEMU VM (docs/interop.md): deps (+ the harness's own
# packages, kernel and siw.ko via `interop/siw-vm.sh prepare`), then the label-"interop" tests.
# test-interop: the CI stage. It reuses the release build's binaries (build/interop-ci holds only
# the test registrations), so after `make test-release` it costs the harness prepare + the matrix.
# interop: the same in its own full build (build/interop), with the interop-loopback tests too.
INTEROP    := build/interop
INTEROP_CI := build/interop-ci
.PHONY: test-interop
test-interop: build
	@bash scripts/install-deps --interop
	@start=$$(date +%s); \
	interop/siw-vm.sh prepare && prepared=$$(date +%s) && \
	cmake -S . -B $(INTEROP_CI) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPENNDK_INTEROP=ON \
	  -DOPENNDK_INTEROP_BIN_DIR=$(CURDIR)/$(BUILD) -DOPENNDK_BENCH=OFF >/dev/null && \
	rm -f $(INTEROP_CI)/tests/interop/out/retries.log && \
	ctest --test-dir $(INTEROP_CI) --output-on-failure -L '^interop$$' --timeout 900; rc=$$?; \
	end=$$(date +%s); echo "make test-interop: prepare $$(($${prepared:-$$end} - start)) s, matrix $$((end - $${prepared:-$$end})) s"; \
	if [ -s $(INTEROP_CI)/tests/interop/out/retries.log ]; then \
	  echo "make test-interop: retried cases (docs/interop.md \"CI\"; RETRY-FAIL = passed only on retry, not a listed peer flake, fails the stage):"; \
	  cat $(INTEROP_CI)/tests/interop/out/retries.log; fi; exit $$rc

interop:
	@bash scripts/install-deps --interop
	interop/siw-vm.sh prepare
	cmake -S . -B $(INTEROP) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPENNDK_INTEROP=ON -DOPENNDK_BENCH=OFF
	cmake --build $(INTEROP) -j $(JOBS)
	ctest --test-dir $(INTEROP) --output-on-failure -L '^interop' --timeout 900

clean:
	rm -rf build
