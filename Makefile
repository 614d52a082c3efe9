# mtl_keras — every target that needs the environment installs it first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: install test smoke train-cifar100 train-cifar100-notebook train-fashion-mnist \
	benchmark-fashion-mnist benchmark-throughput benchmark-settings tensorboard clean \
	study-fashion-mnist-ovr study-omniglot study-omniglot-methods compare evaluate benchmark-task-sampling

install: $(STAMP)

# Re-installs only when the package description or the pins change.
$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# The tests' files shared out over two processes (pytest-xdist): the machine's two cores;
# the longest files first (tests/conftest.py).
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests

smoke: $(STAMP)
	$(PY) -m mtl_keras.run --flagfile=experiments/smoke.flags $(ARGS)

train-cifar100: $(STAMP)
	$(PY) -m mtl_keras.run --flagfile=experiments/cifar100_mtl.flags $(ARGS)

train-cifar100-notebook: $(STAMP)
	$(PY) -m mtl_keras.run --flagfile=experiments/cifar100_notebook.flags $(ARGS)

train-fashion-mnist: $(STAMP)
	$(PY) -m mtl_keras.run --flagfile=experiments/fashion_mnist_mtl.flags $(ARGS)

# Three seeds of the three-head recipe and of its fine-only baseline; writes a table.
benchmark-fashion-mnist: $(STAMP)
	$(PY) benchmarks/fashion_mnist_seeds.py $(ARGS)

# Training images/s of simple_cnn at batch 256 on the path mtl_keras.run takes (one JSON line).
benchmark-throughput: $(STAMP)
	$(PY) benchmarks/throughput.py --trunk=simple_cnn --batch_size=256 $(ARGS)

# Precision, XLA and thread settings per trunk, alternated over rounds; prints a table.
benchmark-settings: $(STAMP)
	$(PY) benchmarks/compare.py --suite=settings $(ARGS)

# Studies: settings x seeds into runs/study-NAME (finished runs skipped, stopped ones resumed),
# then comparison.md and comparison.png there. Rerun to continue.
study-fashion-mnist-ovr: $(STAMP)
	$(PY) -m mtl_keras.study --flagfile=experiments/studies/fashion_mnist_ovr.flags $(ARGS)

study-omniglot: $(STAMP)
	$(PY) -m mtl_keras.study --flagfile=experiments/studies/omniglot.flags $(ARGS)

# Every method on the eight alphabets (the gradient-level ones, the others, the gradient-level
# ones again with --rep_grad), two runs at a time, into runs/study-omniglot-methods.
study-omniglot-methods: $(STAMP)
	$(PY) -m mtl_keras.study --flagfile=experiments/studies/omniglot_methods.flags $(ARGS)
	$(PY) -m mtl_keras.study --flagfile=experiments/studies/omniglot_methods_losses.flags $(ARGS)
	$(PY) -m mtl_keras.study --flagfile=experiments/studies/omniglot_methods_rep_grad.flags $(ARGS)

# make compare ARGS="runs/study-omniglot [RUN_DIR ...]": settings, per-task metrics, Δm.
compare: $(STAMP)
	$(PY) -m mtl_keras.compare $(ARGS)

# make evaluate ARGS="--workdir=RUN [--split=validation]": a saved run's metrics, no training.
evaluate: $(STAMP)
	$(PY) -m mtl_keras.evaluate $(ARGS)

# The task sampler's cost: batches/s of its tf.data pipeline against the plain one.
benchmark-task-sampling: $(STAMP)
	$(PY) benchmarks/task_sampling.py $(ARGS)

tensorboard: $(STAMP)
	$(PY) -m mtl_keras.cli.serve_tensorboard --logdir runs --bind_all

clean:
	rm -rf $(VENV) build *.egg-info
