"""A real HTTP server on 127.0.0.1 speaking the OpenAI and Anthropic protocols, with scripted
models, for the judge's tests and benchmark. Nothing of ours is mocked: the judge talks HTTP.

Models (the part after `openai/` or `anthropic/`):
- `truthful`: a claim is true when it contains "[true]"; answers the negation consistently;
- `contrarian`: always answers the opposite of `truthful` (consistent, but wrong);
- `yes-man`: answers true to everything (so true to a claim and to its negation);
- `say:<token>`: replies `<result><token></result>` whatever is asked ("say:" alone: empty);
- `raw:<text>`: replies exactly <text>;
- `status:<code>:<n>`: answers HTTP <code> (with Retry-After: 0 on 429) to its first n
  requests, then acts `truthful`; `n` = 0 means always;
- `malformed`: HTTP 200 with a body that is not JSON;
- `reject-key`: HTTP 401 whose error body echoes the API key it was sent, whole and as a
  prefix (as some providers do), in the provider's own error shape;
- `reject-login`: HTTP 401 whose error body echoes the login it was sent in the URL (`Basic`
  credentials, as a proxy in front of a model server may): the header, the decoded
  `user:password` and the URL with them, in the OpenAI error shape;
- `slow:<ms>`: `truthful` after a delay.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NEGATION_MARK = "It is not the case that: "


def truth(prompt: str) -> bool:
    claim = prompt.split("<claim>", 1)[-1]
    holds = "[true]" in claim
    return not holds if NEGATION_MARK in claim else holds


class JudgeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops concurrent connects (1 s SYN retries)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.seen: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, model: str, prompt: str) -> tuple[int, dict[str, str], str | None]:
        """(status, headers, reply text or None for an error/malformed body)."""
        with self.lock:
            self.seen[model] = count = self.seen.get(model, 0) + 1
        kind, _, arg = model.partition(":")
        if kind == "status":
            code, _, times = arg.partition(":")
            if int(times) == 0 or count <= int(times):
                headers = {"Retry-After": "0"} if code == "429" else {}
                return int(code), headers, None
        if kind == "slow":
            time.sleep(int(arg) / 1000)
        if kind == "malformed":
            return 200, {}, None
        if kind == "say":
            return 200, {}, f"<reasoning>scripted</reasoning><result>{arg}</result>"
        if kind == "raw":
            return 200, {}, arg
        answer = truth(prompt)
        if kind == "contrarian":
            answer = not answer
        if kind == "yes-man":
            answer = True
        word = "true" if answer else "false"
        return 200, {}, f"<reasoning>Checked the claim.</reasoning>\n<result>{word}</result>"


class _Handler(BaseHTTPRequestHandler):
    server: JudgeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        server = self.server
        with server.lock:
            server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            prompt = body["messages"][-1]["content"]
            status, headers, text = server.answer(body["model"], prompt)
            anthropic = self.path.endswith("/v1/messages")
            if body["model"] == "reject-key":
                status, payload = 401, _rejected_key(self.headers, anthropic)
            elif body["model"] == "reject-login":
                status, payload = 401, _rejected_login(self.headers, self.path)
            elif status != 200:
                payload = json.dumps({"error": {"message": f"scripted {status}"}}).encode()
            elif text is None:
                payload = b"<html>this is not json</html>"
            elif anthropic:
                payload = json.dumps(
                    {
                        "content": [{"type": "text", "text": text}],
                        "usage": {"input_tokens": len(prompt) // 4, "output_tokens": 12},
                    }
                ).encode()
            else:
                payload = json.dumps(
                    {
                        "choices": [{"message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 12},
                    }
                ).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            with server.lock:
                server.in_flight -= 1


def _rejected_key(headers: Any, anthropic: bool) -> bytes:
    """A 401 body that echoes the key it was sent, as some providers do."""
    key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
    message = f"Incorrect API key provided: {key}. Your key starts {key[:12]}..."
    if anthropic:
        error = {"type": "error", "error": {"type": "authentication_error", "message": message}}
    else:
        error = {
            "error": {"message": message, "type": "invalid_request_error", "code": key},
            "echo": headers.get("authorization"),
        }
    return json.dumps(error).encode()


def _rejected_login(headers: Any, path: str) -> bytes:
    """A 401 body that echoes the login a URL's `user:password@` sent, as some proxies do."""
    header = headers.get("authorization", "")
    login = base64.b64decode(header.removeprefix("Basic ")).decode() if header else ""
    message = (
        f"proxy login {login} refused for http://{login}@{headers.get('host')}{path} "
        f"(authorization: {header})"
    )
    return json.dumps({"error": {"message": message, "type": "proxy_error"}}).encode()


def serving() -> Iterator[JudgeServer]:
    """Start a server in a thread; stop it when the generator is closed."""
    server = JudgeServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
