"""A bare HTTP client for the portal under test: it must see a reset connection as such, not retry it."""

import http.client
import json


class Client:
    def __init__(self, url: str, key: str):
        self.host, self.port = url.removeprefix("http://").split(":")
        self.key = key

    def post_job(self, body: dict, idempotency_key: str) -> tuple[int, dict, dict] | None:
        """(status, headers, body), or None when the connection broke (the worker died under us)."""
        connection = http.client.HTTPConnection(self.host, int(self.port), timeout=60)
        try:
            connection.request(
                "POST",
                "/api/v1/jobs",
                body=json.dumps(body),
                headers={
                    "Authorization": f"Bearer {self.key}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": idempotency_key,
                },
            )
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), json.loads(response.read() or b"{}")
        except (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead):
            return None
        finally:
            connection.close()


def job_body(allocation, name: str) -> dict:
    return {
        "allocation": str(allocation.public_id),
        "name": name,
        "kind": "training",
        "image": "python:3.11",
        "command": ["python", "-c", "pass"],
        "gpu_type": "A100",
        "gpus_per_pod": 1,
        "max_runtime_minutes": 10,
    }
