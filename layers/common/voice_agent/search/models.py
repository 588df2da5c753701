"""Request and response models of ``POST /api/search``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class WebSearchRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: Annotated[str, Field(min_length=1, max_length=400, description="What to search for.")]
    max_results: Annotated[int, Field(ge=1, le=10, description="How many sources (1–10).")] = 5


class WebSearchResult(BaseModel):
    title: str
    url: str
    source: Annotated[str, Field(description="Site name to say aloud, e.g. 'bbc.co.uk'.")]
    content: Annotated[str, Field(description="A short snippet, trimmed for speech.")]
    score: float


class WebSearchResponse(BaseModel):
    query: str
    answer: Annotated[str | None, Field(description="A one-paragraph answer, if available.")]
    results: list[WebSearchResult]
