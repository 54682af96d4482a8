PYTHON ?= .venv/bin/python

.PHONY: bench bench-replay bench-burst

# The trace replay and the burst side by side; JSON in bench-results/, tables in docs/benchmarks.md.
bench:
	$(PYTHON) -m bench.report

bench-replay:
	$(PYTHON) -m bench.report --only replay

bench-burst:
	$(PYTHON) -m bench.report --only burst
