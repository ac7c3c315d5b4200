"""Translations into French stay in French."""

import pytest

pytestmark = pytest.mark.trainloop_suite("translation", tags=["translation"], threshold=0.8)

ENGLISH_WORDS = {"the", "is", "your", "you", "has", "been", "for", "thank", "good", "how", "are"}


def stays_in_french(event):
    words = event.response.lower().replace(",", " ").split()
    english = sum(word in ENGLISH_WORDS for word in words)
    return 1 - english / max(len(words), 1)  # a score: passes at or above threshold=0.8
