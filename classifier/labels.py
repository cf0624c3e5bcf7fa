"""Default `reasoning` labels for rows that carry none, by source and domain.

The outcome data says whether models answered correctly, not what kind of thinking the question takes, so the
reasoning label of those rows comes from their subject: GSM8K word problems and the MMLU subjects whose questions
are mostly worked problems (calculation, proof, formal logic, code) count as multi-step reasoning; recall-heavy
subjects (history, law, medicine, ...) do not. This is a subject-level approximation: a history question can need
reasoning and an algebra question can be recall. Rows of other sources keep their explicit label or none.
"""

from __future__ import annotations

from classifier.data import Record

REASONING_SOURCES = frozenset({"gsm8k"})
REASONING_MMLU_SUBJECTS = frozenset(
    {
        "abstract_algebra",
        "college_chemistry",
        "college_computer_science",
        "college_mathematics",
        "college_physics",
        "econometrics",
        "electrical_engineering",
        "elementary_mathematics",
        "formal_logic",
        "high_school_chemistry",
        "high_school_computer_science",
        "high_school_mathematics",
        "high_school_physics",
        "high_school_statistics",
        "machine_learning",
        "professional_accounting",
    }
)


def reasoning_label(record: Record) -> int | None:
    if record.reasoning is not None:
        return record.reasoning
    if record.source in REASONING_SOURCES:
        return 1
    if record.source == "mmlu":
        return int(record.domain in REASONING_MMLU_SUBJECTS)
    return None
