"""Operating gpugrant: metrics, health checks, request ids in logs, and warnings for staff."""
