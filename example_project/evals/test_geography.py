"""The geography tutor names capitals correctly, in one sentence."""

import re

import pytest

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


@pytest.mark.trainloop_suite("geography", tags=["geography"], min_score=0.85)
def names_the_capital(event):
    asked = re.search(r"capital of (\w+)", event.prompt)
    if asked is None:
        pytest.skip("not a question about a capital")
    capital = CAPITALS[asked.group(1)]
    return capital in event.response, f"expected {capital}"


@pytest.mark.trainloop_suite("geography", tags=["geography"])
def answers_in_one_sentence(event):
    return event.response.count(". ") == 0
