"""Scheduler test fixtures live in tests/conftest.py (backend, allocation), shared with the API tests."""
