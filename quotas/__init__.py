"""Allocations, call pools and the GPU-hour accounting behind them."""
