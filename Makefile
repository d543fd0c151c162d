# sn9 — the two commands a new user runs are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
CARGO ?= cargo
BIN := $(or $(CARGO_TARGET_DIR),target)/release/sn9
DEBUG_BIN := $(or $(CARGO_TARGET_DIR),target)/debug/sn9
# burn-cuda compiles offline with this set (no CUDA toolkit needed; libcuda loads at run time).
export CUDARC_CUDA_VERSION ?= 12080

.PHONY: build test test-torchtitan test-golden test-hfref test-ttsref test-wgpu demo completions bench bench-gpu check-gpu fmt lint clean

build:
	$(CARGO) build --release

## Unit, golden and end-to-end tests, the wgpu backend run on a Vulkan device (lavapipe on a
## machine without a GPU: Debian's mesa-vulkan-drivers), and the CUDA compile-check (what CI runs).
test:
	$(CARGO) test --all-targets --features wgpu
	$(CARGO) check --features cuda,wgpu
	@bash scripts/test-torchtitan.sh $(DEBUG_BIN)

## torchtitan 0.3.0 on CPU against sn9's job directories (installs the job's pinned torch once).
test-torchtitan:
	$(CARGO) build --features wgpu
	@bash scripts/test-torchtitan.sh $(DEBUG_BIN)

## Only the wgpu device tests (`wgpu <case>: ok` per case; SN9_TEST_WGPU_DEVICE=wgpu:N for another).
test-wgpu:
	$(CARGO) test --features wgpu --test wgpu

## Only the golden vectors of the reference (SN9_GOLDEN=<file> to check another file).
test-golden:
	$(CARGO) test --test golden

## The whole subnet offline: local chain + hub, 3 miners train/push/commit, 2 validator rounds.
demo: build
	@bash scripts/demo.sh $(BIN)

## Only the transformers parity cases (SN9_HFREF=<dir> to check other cases).
test-hfref:
	$(CARGO) test --test hfref

## Only the TTS parity cases (SN9_TTSREF=<dir> to check another split of the same shape).
test-ttsref:
	$(CARGO) test --test ttsref

completions:
	$(CARGO) run --quiet --features wgpu -- completions bash > completions/sn9.bash
	$(CARGO) run --quiet --features wgpu -- completions zsh > completions/_sn9
	$(CARGO) run --quiet --features wgpu -- completions fish > completions/sn9.fish

## Benchmarks (not tests): sn9 vs the reference stack on this machine, results in bench/results/.
bench:
	@bash bench/model.sh
	@bash bench/model.sh 1024 5 gemma2
	@bash bench/model.sh 1024 5 phi
	@bash bench/eval.sh
	@bash bench/pack.sh
	@bash bench/train.sh
	@bash bench/tts.sh
	@bash bench/wer.sh

## The prepared GPU run (on a machine with an NVIDIA GPU): SN9_BIN=<a cuda build of sn9>.
bench-gpu:
	@bash bench/gpu.sh

## Compile-check the GPU backends (cuda, wgpu); no GPU or CUDA toolkit needed.
check-gpu:
	$(CARGO) check --features cuda
	$(CARGO) check --features wgpu

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
