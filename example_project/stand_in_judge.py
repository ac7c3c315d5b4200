"""A stand-in judge model on 127.0.0.1, used once to record the example's judge cache.

The example must run offline, and this machine reaches no model provider, so the committed
answers in data/judge_cache/ were recorded from this server, not from GPT or Claude: it speaks
the OpenAI and Anthropic protocols and judges "acknowledges the customer's frustration" with a
keyword rule. To judge for real, see "Running the judge live" in the README.

    python stand_in_judge.py        # records data/judge_cache/ (about 280 answers)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EMPATHY = ("sorry", "apologi", "understand how frustrating")


def judgement(prompt: str) -> bool:
    claim = prompt.split("<claim>", 1)[-1].split("</claim>", 1)[0]
    reply = claim.split("Reply:", 1)[-1].lower()
    holds = any(word in reply for word in EMPATHY)
    return not holds if "It is not the case that:" in claim else holds


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        prompt = body["messages"][-1]["content"]
        verdict = "true" if judgement(prompt) else "false"
        text = (
            "<reasoning>Looked for an apology in the reply.</reasoning>\n"
            f"<result>{verdict}</result>"
        )
        tokens = {"prompt": len(prompt) // 4, "completion": len(text) // 4}
        if self.path.endswith("/v1/messages"):
            payload = {"content": [{"type": "text", "text": text}],
                       "usage": {"input_tokens": tokens["prompt"],
                                 "output_tokens": tokens["completion"]}}
        else:
            payload = {"choices": [{"message": {"role": "assistant", "content": text}}],
                       "usage": {"prompt_tokens": tokens["prompt"],
                                 "completion_tokens": tokens["completion"]}}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = {**os.environ, "OPENAI_BASE_URL": f"{url}/v1", "ANTHROPIC_BASE_URL": url,
           "OPENAI_API_KEY": "stand-in", "ANTHROPIC_API_KEY": "stand-in"}
    here = Path(__file__).parent
    subprocess.run([sys.executable, "-m", "pytest", "--trainloop", "-q", "-k", "judge",
                    "--trainloop-judge-cache", "refresh"], cwd=here, env=env, check=False)
    server.shutdown()


if __name__ == "__main__":
    main()
