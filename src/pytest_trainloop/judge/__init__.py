"""An LLM judge: a claim and its negation, asked of a panel of models k times each, majority vote.

    from pytest_trainloop import judge

    verdict = judge.assert_true(f"The reply {event.response!r} apologises to the customer")
    if verdict: ...                      # truthy when the claim holds
    verdict.reason, verdict.votes, verdict.agreement, verdict.usage

Inside a running event loop use `await judge.assert_true_async(...)`. In a metric, prefer the
`trainloop_judge` fixture: it is configured from trainloop.config.yaml and the command line,
and its usage is reported per metric and suite.
"""

from pytest_trainloop.config_file import ConfigFileError
from pytest_trainloop.judge.cache import JudgeCacheMissError
from pytest_trainloop.judge.config import JudgeConfig, JudgeConfigError
from pytest_trainloop.judge.engine import Judge, assert_true, assert_true_async, from_config_file
from pytest_trainloop.judge.env_file import load_env_file
from pytest_trainloop.judge.panel import (
    DEFAULT_TEMPLATE,
    JudgeAbstainedError,
    JudgeVerdict,
    ModelUsage,
    negate,
    parse_answer,
)
from pytest_trainloop.judge.providers import JudgeCallError, JudgeUnavailableError

__all__ = [
    "DEFAULT_TEMPLATE",
    "ConfigFileError",
    "Judge",
    "JudgeAbstainedError",
    "JudgeCacheMissError",
    "JudgeCallError",
    "JudgeConfig",
    "JudgeConfigError",
    "JudgeUnavailableError",
    "JudgeVerdict",
    "ModelUsage",
    "assert_true",
    "assert_true_async",
    "from_config_file",
    "load_env_file",
    "negate",
    "parse_answer",
]
