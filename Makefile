# Genie developer entry points.
#
#   make setup   install what is missing (Debian packages, .venv from the lock file),
#                build the workspace and the Python extension; cheap to rerun
#   make test    cargo tests, lit tests, pytest (runs setup first on a fresh clone)
#   make demo    GPT-2 greedy generation on a local genie-runtime server, checked against eager
#   make demo-ir genie-opt over examples/gpt2_block.mlir, phase by phase
#   make bench   criterion micro-benchmarks, the same-run comparison with mlir-opt-19,
#                Genie's compile time and runtime latency, and the network suite
#                (Genie against the alternatives on an emulated network; BENCH=full
#                for every network profile) -> docs/benchmarks.md, docs/figures/
#   make bench-compare  which network-suite figures got > 10% worse than the committed baseline
#   make soak    8 clients x 10 minutes against one server: 0 errors, flat RSS

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

JOBS     := -j2
VENV     := .venv
LOCK     := python/requirements.lock
# Holds the sha256 of the lock file last installed into $(VENV).
STAMP    := $(VENV)/.requirements.lock.sha256
APT_PKGS := python3-venv python3-dev pkg-config mlir-19-tools llvm-19-tools libopenblas-dev openssl
MIN_RUST := 1.87

# pyo3's build script and maturin must agree on the interpreter, otherwise cargo
# and maturin keep invalidating each other's pyo3 build.
export PYO3_PYTHON := $(abspath $(VENV))/bin/python

.PHONY: soak develop-release server-release bench-compare setup apt-deps rust-check venv build develop test lit pytest demo demo-ir bench clean

# ---- setup -----------------------------------------------------------------

setup: develop

# (a) Debian packages: apt runs only when one is missing and we can be root.
apt-deps:
	@if ! command -v dpkg >/dev/null; then \
	  echo "setup: no dpkg (not Debian); install by hand: $(APT_PKGS)"; exit 0; fi; \
	missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	missing=$$(echo $$missing); \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=sudo; \
	else echo "setup: warning: missing Debian packages ($$missing) and no root; skipping apt"; exit 0; fi; \
	echo "setup: installing Debian packages: $$missing"; \
	$$sudo apt-get update; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing

# (b) A Rust toolchain new enough for the workspace (rust-version in Cargo.toml).
rust-check:
	@command -v cargo >/dev/null || { \
	  echo "error: cargo not found. Install Rust >= $(MIN_RUST) with rustup (the Rust toolchain installer)" >&2; exit 1; }
	@v=$$(cargo --version | cut -d' ' -f2); \
	if [ "$$(printf '%s\n' "$(MIN_RUST)" "$$v" | sort -V | head -n1)" != "$(MIN_RUST)" ]; then \
	  echo "error: cargo $$v is too old; Genie needs >= $(MIN_RUST). Update with: rustup update stable" >&2; exit 1; fi

# (c) The venv, (re)installed from the lock file only when the lock changed.
venv: apt-deps
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@want=$$(sha256sum $(LOCK) | cut -d' ' -f1); \
	if [ "$$(cat $(STAMP) 2>/dev/null)" != "$$want" ]; then \
	  echo "setup: installing $(LOCK) into $(VENV)"; \
	  $(VENV)/bin/pip install -r $(LOCK); \
	  echo "$$want" > $(STAMP); \
	fi

# (d) The Rust workspace.
build: rust-check venv
	cargo build $(JOBS) --workspace

# (e) The Python package, editable, into the venv (rebuilds the extension).
develop: venv build
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop -m python/Cargo.toml

# The same with optimisations: what latency figures (demo, bench) need.
develop-release: venv
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop --release -m python/Cargo.toml

# ---- tests -----------------------------------------------------------------

test:
	@[ -f $(STAMP) ] || $(MAKE) --no-print-directory setup
	cargo test $(JOBS) --workspace
	@# The RDMA transport cannot run here (no device): keep it compiling.
	cargo build $(JOBS) -p genie-remote --lib --features rdma
	@$(MAKE) --no-print-directory lit
	@$(MAKE) --no-print-directory pytest

# lit drives the built binaries (genie-opt).
lit: build
	$(VENV)/bin/lit -v tests/lit

# pytest imports the extension, so rebuild it first.
pytest: develop
	$(VENV)/bin/pytest -q python/tests

# ---- demo and benchmarks ----------------------------------------------------

# GPT-2 greedy generation on a local genie-runtime server, checked against
# eager (optimised builds: the demo prints latencies).
demo: develop-release server-release
	$(VENV)/bin/python examples/gpt2_generate.py

# The soak of the reliability issue (bounded: 10 minutes); `make test` runs a
# 20-second one (python/tests/test_soak.py).
soak: develop-release server-release
	$(VENV)/bin/python benches/soak.py --clients 8 --minutes 10

# The runtime server, optimised (demo and benchmarks run against it).
server-release: rust-check
	cargo build --release $(JOBS) -p genie-remote

# The IR side: genie-opt over an example block, phase by phase.
demo-ir: rust-check
	cargo build $(JOBS) -p genie-opt
	@echo "== phase 'input': examples/gpt2_block.mlir parsed and verified"
	target/debug/genie-opt examples/gpt2_block.mlir --compile-to=input
	@echo "== phase 'sem': the IR after each pass (stderr), then the result"
	target/debug/genie-opt examples/gpt2_block.mlir --compile-to=sem --print-ir-after-all 2>&1
	@echo "== phase 'exec': placed on one device (transfers, resident state, a launched kernel), the host function"
	target/debug/genie-opt examples/gpt2_block.mlir --compile-to=exec | sed -n '/func.func @forward/,$$p'
	@echo "== the plan bytecode, compiled from the exec form, disassembled"
	target/debug/genie-opt examples/gpt2_block.mlir --compile-to=exec --dump-plan | head -20
	@echo "== upstream MLIR verifies the generic form against ir/dialects/*.irdl.mlir"
	@if command -v mlir-opt-19 >/dev/null; then \
	  cat ir/dialects/sem.irdl.mlir ir/dialects/exec.irdl.mlir > target/genie.irdl.mlir; \
	  target/debug/genie-opt examples/gpt2_block.mlir --compile-to=sem --mlir-print-op-generic \
	    | mlir-opt-19 --irdl-file=target/genie.irdl.mlir -o /dev/null && echo "mlir-opt-19: ok"; \
	else echo "mlir-opt-19 not installed (make setup installs it)"; fi

bench: rust-check venv server-release
	cargo bench $(JOBS) -p genie-benches
	python3 benches/compare_mlir.py
	@# Compile-time and latency figures need the extension built with optimisations.
	@$(MAKE) --no-print-directory develop-release
	$(VENV)/bin/python benches/compile_time.py
	$(VENV)/bin/python benches/runtime_latency.py
	$(VENV)/bin/python benches/remote_runtime.py
	cargo run --release $(JOBS) -p genie-benches --example upload_probe
	$(VENV)/bin/python benches/analysis_zoo.py --timing
	@# The network suite (root makes the emulated network; without, loopback only).
	cargo build --release $(JOBS) -p genie-benches --bin genie-netem
	$(VENV)/bin/python benches/network/suite.py

# The network suite's last results against benches/network/baseline.json.
bench-compare:
	$(VENV)/bin/python benches/network/report.py compare

# Build outputs only; the venv (large) stays. Remove it with `rm -rf .venv`.
clean:
	cargo clean
	rm -rf python/genie/*.so .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find tests/lit -name Output -type d -prune -exec rm -rf {} + 2>/dev/null || true
