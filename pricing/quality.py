"""Quality figures for the savings report, from whatever outcome tables the database has.

The report asks each `QualitySource` in turn for one score in [0, 1] per request id and averages them per
group; the first source with any score for the requests in the report is used and named in the output.
The sources are the `feedback` table (client ratings, `POST /v1/feedback`) and the `outcomes` table
(evaluation verdicts linked to a request id): any table with a `request_id` column and a numeric score
column (the first of `QUALITY_COLUMNS`) fits; several rows for one request are averaged. When neither table
exists or none of the requests has a score, the report says so and shows no quality column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, MetaData, Table, func, inspect, select

QUALITY_COLUMNS: tuple[str, ...] = ("score", "rating", "good", "correct", "value")


@dataclass(frozen=True, slots=True)
class QualityScores:
    source: str  # e.g. "feedback.score": shown next to the figures
    by_request: dict[str, float]


class QualitySource(Protocol):
    def load(self, engine: Engine, request_ids: Iterable[str]) -> QualityScores | None:
        """Scores for the given requests, or None when this source has none of them."""
        ...


class ScoreTable:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def load(self, engine: Engine, request_ids: Iterable[str]) -> QualityScores | None:
        inspector = inspect(engine)
        if not inspector.has_table(self.table_name):
            return None
        table = Table(self.table_name, MetaData(), autoload_with=engine)
        names = set(table.c.keys())
        column = next((name for name in QUALITY_COLUMNS if name in names), None)
        if "request_id" not in names or column is None:
            return None
        wanted = set(request_ids)
        score = table.c[column]
        query = (
            select(table.c.request_id, func.avg(score * 1.0))
            .where(table.c.request_id.is_not(None))
            .group_by(table.c.request_id)
        )
        with engine.connect() as connection:
            found = {
                str(request_id): float(mean)
                for request_id, mean in connection.execute(query)
                if mean is not None and str(request_id) in wanted
            }
        if not found:
            return None
        return QualityScores(source=f"{self.table_name}.{column}", by_request=found)


DEFAULT_SOURCES: tuple[QualitySource, ...] = (ScoreTable("feedback"), ScoreTable("outcomes"))


def load_quality(
    engine: Engine, request_ids: Iterable[str], sources: Iterable[QualitySource] = DEFAULT_SOURCES
) -> QualityScores | None:
    ids = list(request_ids)
    for source in sources:
        scores = source.load(engine, ids)
        if scores is not None:
            return scores
    return None
