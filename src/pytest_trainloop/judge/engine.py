"""The judge at work: one event loop and HTTP client per process, the panel asked, the votes
counted; and the one-off judges configured from trainloop.config.yaml for use outside pytest.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_trainloop.config_file import (
    CONFIG_FILE,
    judge_section,
    load_config_file,
    local_data_folder,
    resolve_data_folder,
)
from pytest_trainloop.judge.cache import JudgeCache, JudgeCacheMissError
from pytest_trainloop.judge.config import JudgeConfig
from pytest_trainloop.judge.env_file import load_env_file
from pytest_trainloop.judge.panel import (
    JudgeVerdict,
    ModelUsage,
    Vote,
    add_usage,
    decide,
    negate,
    parse_answer,
    reasoning,
    render,
)
from pytest_trainloop.judge.providers import Model, ask, base_url, require_http_client

if TYPE_CHECKING:  # imported where a judge runs, not by `Settings.resolve` (~11 ms, with ssl)
    import asyncio
    import concurrent.futures


class _Engine:
    """An event loop on a daemon thread with one HTTP client and one bound on calls in flight.

    Every judge call of a process can go through one engine: connections and TLS set-up are
    reused across verdicts (a new client costs ~20-40 ms), the `concurrency` bound holds for the
    whole process, and sync callers need no event loop of their own.
    """

    def __init__(self, config: JudgeConfig) -> None:
        import asyncio

        if config.env_path is not None:  # once per engine, not once per judge that shares it
            load_env_file(config.env_path)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name="trainloop-judge"
        )
        self._thread.start()
        self.client: Any = None
        self.semaphore: asyncio.Semaphore | None = None
        if config.cache_mode != "replay":  # replay never touches the network
            self.submit(self._open(config)).result()

    async def _open(self, config: JudgeConfig) -> None:
        import asyncio

        import httpx

        self.client = httpx.AsyncClient(
            timeout=config.timeout, limits=httpx.Limits(max_connections=config.concurrency)
        )
        self.semaphore = asyncio.Semaphore(config.concurrency)

    def submit(self, coroutine: Any) -> concurrent.futures.Future[Any]:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def close(self) -> None:
        if self.client is not None:
            self.submit(self.client.aclose()).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Judge:
    """A configured judge; judges made with `share()` share its engine and cache."""

    def __init__(self, config: JudgeConfig | None = None, engine: _Engine | None = None) -> None:
        self.config = config or JudgeConfig()
        self.cache = JudgeCache(self.config.cache_folder, self.config.cache_mode)
        self.usage: dict[str, ModelUsage] = {}
        self._engine = engine
        self._owns_engine = engine is None
        if engine is None and self.config.cache_mode != "replay":
            # Here, when the run's judge is made (once: a session fixture), rather than at
            # each case's first call: a missing extra is named before any verdict is asked.
            require_http_client()

    def share(self) -> Judge:
        """A judge with the same settings, engine and cache, and a usage tally of its own."""
        shared = Judge(self.config, self._get_engine())
        shared.cache = self.cache  # one object: what it did once (a folder swept) stays done
        return shared

    def _get_engine(self) -> _Engine:
        if self._engine is None:
            self._engine = _Engine(self.config)
        return self._engine

    def close(self) -> None:
        """Stop the engine this judge started (judges from `share()` leave it to their origin)."""
        if self._owns_engine and self._engine is not None:
            self._engine.close()
            self._engine = None

    def assert_true(
        self,
        claim: str,
        negation: str | None = None,
        *,
        models: list[str] | None = None,
        k: int | None = None,
        temperature: float | None = None,
        template: str | None = None,
    ) -> JudgeVerdict:
        """The panel's verdict on `claim`; see `assert_true_async` inside an event loop."""
        __tracebackhide__ = True  # a failed verdict's traceback ends in the user's metric
        import asyncio

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "judge.assert_true() was called inside a running event loop: "
                "use `await judge.assert_true_async(...)` there"
            )
        verdict = self._verdict(claim, negation, models, k, temperature, template)
        return self._get_engine().submit(verdict).result()  # type: ignore[no-any-return]

    async def assert_true_async(
        self,
        claim: str,
        negation: str | None = None,
        *,
        models: list[str] | None = None,
        k: int | None = None,
        temperature: float | None = None,
        template: str | None = None,
    ) -> JudgeVerdict:
        """The panel's verdict on `claim`, awaitable from any running event loop."""
        __tracebackhide__ = True
        import asyncio

        verdict = self._verdict(claim, negation, models, k, temperature, template)
        return await asyncio.wrap_future(self._get_engine().submit(verdict))

    async def _verdict(
        self,
        claim: str,
        negation: str | None,
        models: list[str] | None,
        k: int | None,
        temperature: float | None,
        template: str | None,
    ) -> JudgeVerdict:
        """Runs on the engine's loop: ask every model k times about claim and negation, vote."""
        __tracebackhide__ = True
        import asyncio

        config = self.config
        panel = [Model.parse(m) for m in (models or config.models)]
        samples = k if k is not None else config.calls_per_model_per_claim
        temp = config.temperature if temperature is None else temperature
        prompts = (
            render(template or config.template, claim),
            render(template or config.template, negation or negate(claim)),
        )
        usage: dict[str, ModelUsage] = {}
        jobs = [
            self._answer(model, prompt, temp, i, claim, usage)
            for model in panel
            for i in range(samples)
            for prompt in prompts
        ]
        answers = await asyncio.gather(*jobs, return_exceptions=True)
        add_usage(self.usage, usage)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        votes = []
        texts = iter(answers)
        for model in panel:
            for i in range(samples):
                on_claim, on_negation = str(next(texts)), str(next(texts))
                votes.append(
                    Vote(
                        str(model),
                        i,
                        parse_answer(on_claim),
                        parse_answer(on_negation),
                        reasoning(on_claim),
                    )
                )
        return decide(claim, votes, usage)

    async def _answer(
        self,
        model: Model,
        prompt: str,
        temperature: float,
        sample: int,
        claim: str,
        usage: dict[str, ModelUsage],
    ) -> str:
        __tracebackhide__ = True
        name = str(model)
        key = JudgeCache.key(name, prompt, temperature, sample)
        cached = self.cache.get(key)
        if cached is not None:
            add_usage(usage, {name: ModelUsage(cache_hits=1)})
            return str(cached["answer"])
        engine = self._get_engine()
        if engine.client is None or engine.semaphore is None:
            raise JudgeCacheMissError(
                f"replay mode: no recorded answer from {name} (sample {sample}) for the claim "
                f"{claim[:120]!r}; record it once with the cache in 'use' mode"
            )
        url, login = base_url(model.provider, self.config.base_urls)  # no login in `url`
        async with engine.semaphore:
            reply = await ask(
                engine.client,
                model,
                prompt,
                temperature,
                url,
                login,
                self.config.max_retries,
                self.config.backoff,
            )
        add_usage(usage, {name: ModelUsage(1, 0, reply.prompt_tokens, reply.completion_tokens)})
        self.cache.put(
            key,
            {
                "model": name,
                "temperature": temperature,
                "sample": sample,
                "prompt": prompt,
                "answer": reply.text,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
            },
        )
        return reply.text


def from_config_file(folder: Path | None = None) -> Judge:
    """A judge configured from trainloop.config.yaml in `folder` (default: the working one).

    Its cache is in the data folder pytest would use, by the same rule less what only pytest
    has: $TRAINLOOP_DATA_FOLDER, else `data_folder` in the config file, else data/ beside it.
    A bad config file or data folder raises `ConfigFileError` naming it.
    """
    cwd = Path.cwd()
    config_path = (folder or cwd) / CONFIG_FILE
    file_options = load_config_file(config_path)
    data_folder, _ = resolve_data_folder(config_path, file_options, cwd=cwd)
    section = judge_section(file_options, config_path)
    cache_base = local_data_folder(data_folder, config_path)
    return Judge(JudgeConfig.from_mapping(section, config_path.parent, cache_base))


def assert_true(claim: str, negation: str | None = None, **options: Any) -> JudgeVerdict:
    """`Judge.assert_true` with a judge configured from trainloop.config.yaml here."""
    one_off = from_config_file()
    try:
        return one_off.assert_true(claim, negation, **options)
    finally:
        one_off.close()


async def assert_true_async(
    claim: str, negation: str | None = None, **options: Any
) -> JudgeVerdict:
    """`Judge.assert_true_async` with a judge configured from trainloop.config.yaml here."""
    one_off = from_config_file()
    try:
        return await one_off.assert_true_async(claim, negation, **options)
    finally:
        one_off.close()
