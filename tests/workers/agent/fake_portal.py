"""A small stand-in for the portal's node API on 127.0.0.1, deduplicating usage records by id as the real one does."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakePortal:
    """``POST /api/v1/usage`` and ``GET /api/v1/node/jobs`` with ``Authorization: Node <key>``.

    ``down`` answers 503 to everything; ``reject(predicate, reason)`` rejects matching records for good;
    ``malformed(predicate)`` answers 400 naming matching records' fields, like the portal's envelope.
    ``lose_answers`` applies that many posts and then drops the connection unanswered (a lost ack).
    ``records`` holds every accepted record by id; ``posts`` counts requests; ``deliveries`` every
    record id received, duplicates included.
    """

    def __init__(self, key: str = "ggnode_test_key"):
        self.key = key
        self.down = False
        self.records: dict[str, dict] = {}
        self.deliveries: list[str] = []
        self.posts = 0
        self.batch_sizes: list[int] = []
        self.jobs: list[dict] = []
        self.job_requests = 0
        self._reject: list[tuple] = []
        self._malformed = None
        self.lose_answers = 0  # this many usage posts are applied, then the connection drops unanswered
        self.lock = threading.Lock()
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                portal._handle(self, "GET")

            def do_POST(self):
                portal._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def reject(self, predicate, reason: str) -> None:
        self._reject.append((predicate, reason))

    def malformed(self, predicate) -> None:
        self._malformed = predicate

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if self.down:
            return self._answer(request, 503, {"message": "down for maintenance", "code": "unavailable"})
        if request.headers.get("Authorization") != f"Node {self.key}":
            return self._answer(request, 401, {"message": "Invalid or revoked node key.", "code": "auth"})
        if method == "GET" and request.path == "/api/v1/node/jobs":
            with self.lock:
                self.job_requests += 1
            return self._answer(request, 200, {"jobs": self.jobs})
        if method == "POST" and request.path == "/api/v1/usage":
            return self._usage(request, json.loads(body))
        return self._answer(request, 404, {"message": "not found", "code": "not_found"})

    def _usage(self, request, payload: dict) -> None:
        records = payload.get("records")
        if not isinstance(records, list) or not 1 <= len(records) <= 1000:
            fields = {"records": ["Give 1 to 1000 records."]}
            return self._answer(
                request, 400, {"message": "bad", "code": "invalid", "extra": {"fields": fields}}
            )
        if self._malformed is not None:
            fields = {
                f"records.{index}.gpu_seconds": ["Ensure this value is less than or equal to 10000000."]
                for index, record in enumerate(records)
                if self._malformed(record)
            }
            if fields:
                return self._answer(
                    request,
                    400,
                    {"message": "Some fields are not valid.", "code": "invalid", "extra": {"fields": fields}},
                )
        accepted, duplicates, rejected = 0, 0, []
        with self.lock:
            self.posts += 1
            self.batch_sizes.append(len(records))
            for record in records:
                self.deliveries.append(record["id"])
                reason = next((reason for predicate, reason in self._reject if predicate(record)), None)
                if reason:
                    rejected.append({"id": record["id"], "reason": reason})
                elif record["id"] in self.records:
                    duplicates += 1
                else:
                    self.records[record["id"]] = record
                    accepted += 1
            lose = self.lose_answers > 0
            self.lose_answers -= lose
        if lose:
            request.close_connection = True
            request.connection.shutdown(2)  # applied, but the agent never hears so
            return
        self._answer(request, 200, {"accepted": accepted, "duplicates": duplicates, "rejected": rejected})

    @staticmethod
    def _answer(request, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
