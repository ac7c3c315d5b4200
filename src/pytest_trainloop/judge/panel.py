"""The judge's pure part: prompts, exact parsing of answers, and the panel's vote."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pytest_trainloop.outcomes import Verdict

DEFAULT_TEMPLATE = """You are a careful, impartial judge.

Decide whether the following claim is true.

<claim>
{claim}
</claim>

First reason step by step inside <reasoning>...</reasoning>.
Then give your answer as exactly one of <result>true</result> or <result>false</result>.
"""

_RESULT = re.compile(r"<result>(.*?)</result>", re.DOTALL | re.IGNORECASE)
_REASONING = re.compile(r"<reasoning>(.*?)</reasoning>", re.DOTALL | re.IGNORECASE)
_YES = frozenset({"true", "yes"})
_NO = frozenset({"false", "no"})


def negate(claim: str) -> str:
    """The documented rule for a claim given without its negation."""
    return f"It is not the case that: {claim}"


def render(template: str, claim: str) -> str:
    if "{claim}" not in template:
        raise ValueError("a judge template must contain {claim}")
    return template.replace("{claim}", claim)


def parse_answer(reply: str) -> bool | None:
    """True/False from exactly one `<result>` element holding exactly true/yes or false/no.

    Anything else is None (no vote): no element, several, "incorrect", "not true", "untrue",
    "I don't know", an empty reply. Nothing is read by substring.
    """
    results = _RESULT.findall(reply)
    if len(results) != 1:
        return None
    token = results[0].strip().lower()
    if token in _YES:
        return True
    if token in _NO:
        return False
    return None


def reasoning(reply: str) -> str:
    found = _REASONING.search(reply)
    return (found.group(1) if found else reply).strip()


@dataclass(frozen=True)
class Vote:
    """One model's pair of answers, to the claim and to its negation, sample `index`."""

    model: str
    index: int
    claim_answer: bool | None
    negation_answer: bool | None
    reason: str = ""

    @property
    def value(self) -> bool | None:
        """The pair's vote on the claim: None when unparseable or self-contradictory."""
        a, b = self.claim_answer, self.negation_answer
        if a is None or b is None or a == b:
            return None
        return a


@dataclass(frozen=True)
class ModelUsage:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: ModelUsage) -> ModelUsage:
        return ModelUsage(
            self.calls + other.calls,
            self.cache_hits + other.cache_hits,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


def add_usage(total: dict[str, ModelUsage], more: dict[str, ModelUsage]) -> None:
    for model, usage in more.items():
        total[model] = total.get(model, ModelUsage()) + usage


@dataclass(frozen=True)
class JudgeVerdict(Verdict):
    """The panel's verdict: truthy when the claim holds, with the votes that decided it."""

    claim: str = ""
    votes: tuple[Vote, ...] = ()
    usage: dict[str, ModelUsage] = field(default_factory=dict)

    @property
    def agreement(self) -> float | None:
        """The share of counted votes that agree with the verdict (None if none counted)."""
        counted = [v.value for v in self.votes if v.value is not None]
        if not counted:
            return None
        return sum(1 for v in counted if v == self.passed) / len(counted)


class JudgeAbstainedError(Exception):
    """Every answer was unparseable or contradicted its own negation: no verdict."""


def decide(claim: str, votes: list[Vote], usage: dict[str, ModelUsage]) -> JudgeVerdict:
    """Majority of the consistent votes; a tie fails; no consistent vote at all is an error."""
    counted = [v.value for v in votes if v.value is not None]
    if not counted:
        raise JudgeAbstainedError(
            f"the judge abstained on {claim[:80]!r}: none of {len(votes)} answer pairs was "
            "parseable and consistent with its negation"
        )
    yes = sum(counted)
    no = len(counted) - yes
    passed = yes > no
    reasons = [v.reason for v in votes if v.value is passed and v.reason]
    summary = f"{yes} of {len(counted)} consistent votes say the claim holds"
    reason = f"{summary}; {reasons[0][:300]}" if reasons else summary
    return JudgeVerdict(
        passed=passed,
        reason=reason,
        score=yes / len(counted),
        claim=claim,
        votes=tuple(votes),
        usage=usage,
    )
