PYTHON ?= .venv/bin/python

.PHONY: bench bench-replay bench-burst bench-placement services cluster cluster-up

# The trace replay and the burst side by side; JSON in bench-results/, tables in docs/benchmarks.md.
bench:
	$(PYTHON) -m bench.report

bench-replay:
	$(PYTHON) -m bench.report --only replay

bench-burst:
	$(PYTHON) -m bench.report --only burst

# gpugrant, kube-scheduler and Kueue placing the same jobs on one real control plane (needs `make cluster`).
bench-placement:
	$(PYTHON) -m bench.report --only placement

# PostgreSQL, RabbitMQ and Redis on loopback, installed from Debian's packages when missing (as root).
# Prints the settings to export; `eval "$$(.ci/services)"` sets them in your shell.
services:
	.ci/services

# The test control plane's binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kwok, and Kueue for the benchmark), built from the Go module proxy into var/cluster/.
cluster:
	tests/cluster/build kueue

# A local control plane with 4 kwok GPU nodes, until Ctrl-C; prints the KUBECONFIG to use.
cluster-up:
	$(PYTHON) -m tests.cluster.controlplane --nodes 4
