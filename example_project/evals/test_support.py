"""Support replies: short, sourced, kind to unhappy customers, and never promising refunds."""

import pytest

from pytest_trainloop import Verdict

HELP_CENTER = "https://help.acme.example/articles/"


@pytest.mark.trainloop_suite("support", tags=["support"])
def replies_are_concise(event):
    words = len(event.response.split())
    assert words <= 60, f"{words} words; support replies should stay under 60"


@pytest.mark.trainloop_suite("support", tags=["support"], min_score=0.8)
def cites_the_help_center(event):
    return HELP_CENTER in event.response, "no help-center link in the reply"


@pytest.mark.trainloop_suite("support", tags=["complaint"], min_score=0.7)
def apologises_to_unhappy_customers(event):
    reply = event.response.lower()
    if "sorry" in reply or "apologi" in reply:
        return Verdict(True)
    return Verdict(False, reason="an unhappy customer got no apology")


@pytest.mark.trainloop_suite("support", tags=["support"])
def never_promises_refunds(event):
    return "refund" not in event.response.lower()


@pytest.mark.trainloop_suite("support", tags=["complaint"], min_score=0.7)
def judge_finds_the_reply_empathetic(event, trainloop_judge):
    return trainloop_judge.assert_true(
        "This customer-support reply acknowledges the customer's frustration.\n"
        f"Customer: {event.prompt}\nReply: {event.response}"
    )
