# Poor Man's Transformers: every target creates what it needs (.venv) on a fresh machine.
PY       ?= python3
VENV     ?= .venv
PYTHON   := $(VENV)/bin/python
PIP      := $(PYTHON) -m pip
PYTEST   := $(PYTHON) -m pytest -q -rs
PKGS     := core mlp word2vec graph transformer
# Where loaders look first for datasets.  The default is this repository's CI data mirror beside
# the checkout (.ci/run sets the same); a user sets PMT_DATA_DIR to their own folder, or leaves
# loaders to the cache and downloads (a folder that does not exist is simply skipped).
export PMT_DATA_DIR ?= $(abspath ../shared/data)

# What each package needs, in install order (core first: it brings numpy, tqdm, matplotlib).
DEPS_core        := core
DEPS_mlp         := core mlp
DEPS_word2vec    := core mlp word2vec
DEPS_graph       := core graph
DEPS_transformer := core graph transformer

.PHONY: help install install-onnx install-mpi demo test-all bench bench-distributed bench-pretrain lint clean $(addprefix install-,$(PKGS)) $(addprefix test-,$(PKGS)) $(addprefix bench-,$(PKGS))

help:
	@echo "make demo          train the headline example and say where its plot landed"
	@echo "make test-all      run every package's tests, then the bad-input sweep (python -m tools.badinput)"
	@echo "make install       all packages, editable, plus pytest"
	@echo "make install-PKG   one milestone and what it needs ($(PKGS))"
	@echo "make install-onnx  the optional ONNX extra (onnx, onnxruntime): export tests then run instead of skipping"
	@echo "make test-PKG      one package's tests"
	@echo "make bench         all benchmarks (slow); bench-PKG for one, bench-pretrain for pretraining"
	@echo "make install-mpi   mpi4py + MPICH for data-parallel training (mpiexec -n N python -m ...)"
	@echo "make bench-distributed  steps/s on 1 and 2 ranks, scaling efficiency, allreduce cost"

$(PYTHON):
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=23" "setuptools>=64"

# Sibling packages are installed with --no-deps: pip cannot mix an editable install with the
# file:// direct references in setup.py; core already brings the external dependencies.
# Static pattern rules (targets: pattern: prereqs): make skips implicit-rule search for
# .PHONY targets, so a plain `test-%:` rule would never run for `make test-core`.
$(addprefix install-,$(PKGS)): install-%: $(PYTHON)
	$(PIP) install -q -e packages/core "pytest>=8.1"
	$(if $(filter-out core,$(DEPS_$*)),$(PIP) install -q --no-deps $(addprefix -e packages/,$(filter-out core,$(DEPS_$*))))

$(VENV)/.installed: $(PYTHON) $(wildcard packages/*/pyproject.toml packages/*/setup.py)
	$(PIP) install -q -e packages/core "pytest>=8.1"
	$(PIP) install -q --no-deps $(addprefix -e packages/,$(filter-out core,$(PKGS)))
	touch $@

install: $(VENV)/.installed

# The transformer package's optional extra `onnx` (its pyproject.toml lists the same packages).
# Installed by name: pip cannot add an extra to the --no-deps editable install above.
ONNX_EXTRA := "onnx>=1.15" "onnxruntime>=1.17"
install-onnx: $(VENV)/.installed
	$(PIP) install -q $(ONNX_EXTRA)

# The optional MPI extra of pmt-core (mpi4py + the mpich wheel, whose mpiexec lands in $(VENV)/bin).
install-mpi: $(VENV)/.installed
	$(PIP) install -q -e "packages/core[mpi]"

# Tests use small matrices: one BLAS thread is as fast and never oversubscribes a shared machine.
TEST_ENV := OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1}

$(addprefix test-,$(PKGS)): test-%: $(VENV)/.installed
	cd packages/$* && $(TEST_ENV) $(CURDIR)/$(PYTEST)

# test-all ends with the bad-input sweep over the five CLIs and the public APIs (tools/badinput).
test-all: $(VENV)/.installed
	@fail=0; for p in $(PKGS); do echo "=== pmt.$$p"; (cd packages/$$p && $(TEST_ENV) $(CURDIR)/$(PYTEST)) || fail=1; done; \
	echo "=== bad input"; $(TEST_ENV) $(PYTHON) -m tools.badinput || fail=1; exit $$fail

demo: $(VENV)/.installed
	$(PYTHON) -m pmt.mlp.examples.mnist --demo --overwrite

bench: $(VENV)/.installed
	$(PYTHON) -m tools.bench all

$(addprefix bench-,$(PKGS)): bench-%: $(VENV)/.installed
	$(PYTHON) -m tools.bench $*

# Benchmarks that are not a package's: pretrain (masked-LM step, tools/bench/bench_pretrain.py).
bench-pretrain: $(VENV)/.installed
	$(PYTHON) -m tools.bench pretrain

bench-distributed: install-mpi
	$(PYTHON) -m tools.bench.bench_distributed

lint: $(VENV)/.installed
	@$(PYTHON) -m ruff --version >/dev/null 2>&1 || $(PIP) install -q ruff
	$(PYTHON) -m ruff check packages tools

clean:
	rm -rf $(VENV) build dist packages/*/build packages/*/src/*.egg-info
