"""The code assistant answers with one valid Python block and a short explanation."""

import re

import pytest

BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.mark.trainloop_suite("code", tags=["code"])
class CodeAnswers:
    @pytest.mark.trainloop_suite("code", tags=["code"], min_score=0.8)
    def has_a_valid_python_block(self, event):
        block = BLOCK.search(event.response)
        assert block, "no ```python block in the answer"
        try:
            compile(block.group(1), "<answer>", "exec")
        except SyntaxError as exc:
            raise AssertionError(f"the code block does not compile: {exc.msg}") from None

    def explains_briefly(self, event):
        prose = BLOCK.sub("", event.response)
        return len(prose.split()) <= 40
