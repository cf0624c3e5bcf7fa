"""Cheap hand-made features of the last user turn, beside the embedding.

The embedding sees a bounded head and tail of the prompt (text.py); these see all of it for microseconds: how
long it is, whether it carries code or mathematics, whether it asks for steps, whether it is a multiple-choice
question. They give the linear models signals the sentence embedding blurs (a number-heavy word problem and a
chatty question about numbers embed alike).
"""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt

FEATURE_VERSION = "features-v2"
FEATURE_HEAD = 3000
FEATURE_TAIL = 1000

_DIGIT = re.compile(r"\d")
_UPPER = re.compile(r"[A-Z]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_MATH = re.compile(r"[=+\-*/^<>]|\\frac|\\sqrt|\\sum|\\int|sqrt|\bmod\b|\blog\b|\bsin\b|\bcos\b|%|\$")
_CODE = re.compile(
    r"```|\bdef |\bclass |\breturn\b|\bimport |#include|\bfunction\b|=>|\bconst |\bvar |\bSELECT\b|"
    r"\bfor \(|\bwhile\b|[{};]\s*$|\bprint\(|</?\w+>",
    re.MULTILINE,
)
_STEPS = re.compile(
    r"\b(how many|how much|calculate|compute|solve|prove|derive|find|estimate|step|why|explain|plan|design|"
    r"optimi[sz]e|debug|implement|algorithm|compare|trade-?offs?|if .* then|probability)\b",
    re.IGNORECASE,
)
_SIMPLE = re.compile(
    r"\b(hi|hello|hey|thanks|thank you|translate|summari[sz]e|rewrite|rephrase|fix the grammar|extract|list|"
    r"what is the capital|define|synonym|format|convert)\b",
    re.IGNORECASE,
)
_CHOICES = re.compile(r"^\s*[A-D][.)]\s", re.MULTILINE)

NAMES: tuple[str, ...] = (
    "log_chars",
    "log_words",
    "log_lines",
    "digit_share",
    "log_numbers",
    "log_math_marks",
    "log_code_marks",
    "log_step_words",
    "log_simple_words",
    "choices",
    "questions",
    "upper_share",
)


def features(text: str) -> npt.NDArray[np.float32]:
    """The feature vector (order: NAMES) of one prompt. Lengths count the whole prompt; the pattern counts look
    at its first FEATURE_HEAD and last FEATURE_TAIL characters only, which keeps a pasted book from costing
    milliseconds of regex time (on 12k characters the patterns took ~6 ms)."""
    body = (
        text if len(text) <= FEATURE_HEAD + FEATURE_TAIL else f"{text[:FEATURE_HEAD]}\n{text[-FEATURE_TAIL:]}"
    )
    chars = max(len(body), 1)
    values = (
        math.log1p(len(text)),
        math.log1p(text.count(" ") + text.count("\n") + (1 if text.strip() else 0)),
        math.log1p(text.count("\n")),
        len(_DIGIT.findall(body)) / chars,
        math.log1p(len(_NUMBER.findall(body))),
        math.log1p(len(_MATH.findall(body))),
        math.log1p(len(_CODE.findall(body))),
        math.log1p(len(_STEPS.findall(body))),
        math.log1p(len(_SIMPLE.findall(body))),
        min(len(_CHOICES.findall(body)), 4) / 4,
        math.log1p(body.count("?")),
        len(_UPPER.findall(body)) / chars,
    )
    return np.asarray(values, dtype=np.float32)


def feature_matrix(texts: list[str]) -> npt.NDArray[np.float32]:
    if not texts:
        return np.zeros((0, len(NAMES)), dtype=np.float32)
    return np.stack([features(t) for t in texts])
