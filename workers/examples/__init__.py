"""Example workloads a gpugrant job can run as its command: a resumable training job and batch inference.

Run them with ``python -m workers.examples.train`` and ``python -m workers.examples.infer``; README.md
shows how to submit them. They need numpy, and use PyTorch on a GPU when it is installed and sees one.
"""
