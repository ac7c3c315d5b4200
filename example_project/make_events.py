"""Writes the example app's recorded events into data/events/ (deterministic; already committed).

The app, "Acme Helper", is a customer-support assistant for Acme Cloud that also tutors
geography, writes small Python snippets and translates into French. Its LLM client recorded
every call: six days in the documented shape, one file from the TrainLoop SDK's flat shape,
a few failed calls, and a few damaged lines (a crash mid-write, a stray debug print).

    python make_events.py
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).parent / "data" / "events"
rng = random.Random(20240115)

SUPPORT_SYSTEM = (
    "You are Acme Cloud's support assistant. Be polite, apologise when the customer is unhappy, "
    "and cite the relevant help-center article."
)
ARTICLES = {
    "billing": "https://help.acme.example/articles/billing-cycles",
    "password": "https://help.acme.example/articles/reset-password",
    "storage": "https://help.acme.example/articles/storage-limits",
    "export": "https://help.acme.example/articles/export-data",
}
QUESTIONS = {
    "billing": ["When is my card charged each month?", "Why does my invoice show two charges?"],
    "password": ["How do I reset my password?", "I never got the password reset email."],
    "storage": [
        "How much storage does the Team plan include?",
        "What happens when I hit my quota?",
    ],
    "export": [
        "Can I export all my projects as a zip?",
        "How do I download my data before I leave?",
    ],
}
COMPLAINTS = [
    "This is the third time the export failed and I'm really frustrated.",
    "I was charged twice and nobody answered my email. Unacceptable!",
    "Your app lost my files, I'm very unhappy.",
]
ANSWERS = {
    "billing": "Your card is charged on the first day of each billing cycle.",
    "password": "Open the sign-in page, choose 'Forgot password' and follow the emailed link.",
    "storage": "The Team plan includes 1 TB shared across the workspace.",
    "export": "Go to Settings > Data > Export and choose 'All projects'.",
}
CAPITALS = {
    "France": "Paris",
    "Japan": "Tokyo",
    "Kenya": "Nairobi",
    "Peru": "Lima",
    "Canada": "Ottawa",
    "Australia": "Canberra",
    "Norway": "Oslo",
    "Egypt": "Cairo",
    "Brazil": "Brasília",
    "Vietnam": "Hanoi",
}
CODE_TASKS = [
    ("reverse a string", "def reverse(text: str) -> str:\n    return text[::-1]"),
    ("sum a list of numbers", "def total(values: list[float]) -> float:\n    return sum(values)"),
    ("check if a number is even", "def is_even(n: int) -> bool:\n    return n % 2 == 0"),
    ("count words in a sentence", "def count_words(s: str) -> int:\n    return len(s.split())"),
]
TRANSLATIONS = [
    ("Good morning, how are you?", "Bonjour, comment allez-vous ?"),
    ("The meeting is moved to Friday.", "La réunion est déplacée à vendredi."),
    ("Thank you for your patience.", "Merci pour votre patience."),
    ("Your order has been shipped.", "Votre commande a été expédiée."),
]


def support_call() -> tuple[list[str], str, str]:
    topic = rng.choice(list(QUESTIONS))
    complaint = rng.random() < 0.3
    question = rng.choice(COMPLAINTS) if complaint else rng.choice(QUESTIONS[topic])
    parts = []
    if complaint and rng.random() < 0.8:
        parts.append("I'm sorry for the trouble this has caused.")
    parts.append(ANSWERS[topic])
    if rng.random() < 0.85:
        parts.append(f"More details: {ARTICLES[topic]}")
    tags = ["support", "complaint"] if complaint else ["support"]
    return tags, question, " ".join(parts)


def geography_call() -> tuple[list[str], str, str]:
    country, capital = rng.choice(list(CAPITALS.items()))
    question = f"What is the capital of {country}?"
    if rng.random() < 0.9:
        answer = f"The capital of {country} is {capital}."
    else:  # the tutor sometimes names the largest city instead
        answer = f"The capital of {country} is its largest city, which many people confuse."
    tags = ["geography", "qa"] if rng.random() < 0.5 else ["geography"]
    return tags, question, answer


def code_call() -> tuple[list[str], str, str]:
    task, body = rng.choice(CODE_TASKS)
    if rng.random() < 0.9:
        answer = f"Here you go:\n\n```python\n{body}\n```\n\nIt runs in O(n)."
    else:  # an answer cut short by max_tokens
        answer = f"Here you go:\n\n```python\n{body.split(':')[0]}(\n```"
    return ["code"], f"Write a Python function to {task}.", answer


def translation_call() -> tuple[list[str], str, str]:
    english, french = rng.choice(TRANSLATIONS)
    return ["translation"], f"Translate into French: {english}", french


CALLS = [(support_call, 0.45), (geography_call, 0.25), (code_call, 0.15), (translation_call, 0.15)]


def documented(ts: datetime, n: int) -> dict[str, Any]:
    make = rng.choices([c for c, _ in CALLS], [w for _, w in CALLS])[0]
    tags, prompt, answer = make()
    anthropic = rng.random() < 0.3
    model = "claude-3-5-haiku-20241022" if anthropic else "gpt-4o-mini"
    prompt_tokens, completion_tokens = len(prompt) // 4 + 20, len(answer) // 4 + 1
    event: dict[str, Any] = {
        "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
        "input": {
            "model": model,
            "messages": [
                {"role": "system", "content": SUPPORT_SYSTEM},
                {"role": "user", "content": prompt},
            ],
            "temperature": 0.3,
            "max_tokens": 512,
        },
        "metadata": {
            "provider": "anthropic" if anthropic else "openai",
            "model": model,
            "tags": tags,
            "duration_ms": int(rng.lognormvariate(6.8, 0.4)),
            "request_id": f"req_{n:05d}",
        },
    }
    if rng.random() < 0.02:  # a failed call: the SDK records the error and no output
        event["output"] = None
        event["metadata"]["error"] = "Rate limit exceeded"
    elif anthropic:
        event["output"] = {
            "content": answer,
            "role": "assistant",
            "stop_reason": "end_turn",
            "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
        }
    else:
        event["output"] = {
            "content": answer,
            "role": "assistant",
            "finish_reason": "stop",
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    return event


def flat(ts: datetime) -> dict[str, Any]:
    """The TrainLoop SDK's own shape: one tag, no usage, times in milliseconds."""
    tags, prompt, answer = support_call()
    start = int(ts.timestamp() * 1000)
    duration = int(rng.lognormvariate(6.8, 0.4))
    return {
        "tag": tags[-1],
        "durationMs": duration,
        "input": [
            {"role": "system", "content": SUPPORT_SYSTEM},
            {"role": "user", "content": prompt},
        ],
        "output": {"content": answer},
        "model": "gpt-4o-mini",
        "modelParams": {"temperature": 0.3, "max_tokens": 512},
        "startTimeMs": start,
        "endTimeMs": start + duration,
        "url": "https://api.openai.com/v1/chat/completions",
        "location": {"tag": "acme_helper/llm.py", "lineNumber": "58"},
    }


def main() -> None:
    EVENTS.mkdir(parents=True, exist_ok=True)
    for old in EVENTS.glob("*.jsonl"):
        old.unlink()
    day0 = datetime(2024, 11, 4, tzinfo=timezone.utc)
    n = 0
    for d in range(6):
        day = day0 + timedelta(days=d)
        seconds = sorted(rng.uniform(8 * 3600, 20 * 3600) for _ in range(rng.randint(55, 70)))
        lines = []
        for s in seconds:
            n += 1
            lines.append(json.dumps(documented(day + timedelta(seconds=s), n), ensure_ascii=False))
        if d == 2:  # the app crashed mid-write once, and a debug print leaked into the log once
            lines.insert(17, lines[17][: len(lines[17]) // 2])
            lines.insert(40, "DEBUG calling model...")
        if d == 4:  # somebody hand-edited a line and wrote the tags as one string
            broken = json.loads(lines[5])
            broken["metadata"]["tags"] = "support"
            broken["metadata"]["request_id"] = "req_hand_edited"
            lines.insert(6, json.dumps(broken))
        (EVENTS / f"{day:%Y-%m-%d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sdk_day = day0 + timedelta(days=6)
    sdk = [
        json.dumps(flat(sdk_day + timedelta(minutes=9 * i + 480)), ensure_ascii=False)
        for i in range(40)
    ]
    (EVENTS / "sdk").mkdir(exist_ok=True)
    (EVENTS / "sdk" / f"{sdk_day:%Y-%m-%d}.jsonl").write_text(
        "\n".join(sdk) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
