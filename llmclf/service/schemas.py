"""Request and response models of the HTTP service; the OpenAPI document is generated from them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, model_validator

# Bounds that the validators enforce; the app may be built with other values (see create_app).
MAX_TEXTS = 256
MAX_TEXT_CHARS = 10_000

Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS, strip_whitespace=True)]


class ErrorBody(BaseModel):
    error: str
    detail: list[dict[str, Any]] | None = None


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS, description="Texts to classify.")
    model: str | None = Field(None, description="Which loaded model; optional when only one is loaded.")
    threshold: float | None = Field(None, ge=0, le=1, description="Below this top probability, predict null.")
    top_n: int | None = Field(None, ge=1, description="Keep only the N most likely classes.")
    cascade_below: float | None = Field(
        None, ge=0, le=1, description="Send texts whose top probability is below this to the server's LLM."
    )


class ClassifyItem(BaseModel):
    text: str
    prediction: str | None = Field(description="null when below the threshold.")
    probabilities: dict[str, float] = Field(description="The classes' probabilities, highest first.")
    run_id: str | None = None
    source: str | None = Field(None, description="With cascade_below: 'head' or 'llm'.")
    llm_error: str | None = Field(None, description="With cascade_below: why the LLM gave no answer for this text.")


class ClassifyResponse(BaseModel):
    model: str
    results: list[ClassifyItem]


TagId = (
    Annotated[int, Field(ge=-(2**53), le=2**53)]
    | Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
)


class TagSpec(BaseModel):
    """A tag given inline: the tutorial's ``id`` (a number or a string) or llmclf's ``tag_id``."""

    model_config = ConfigDict(extra="forbid")
    tag_id: TagId = Field(validation_alias=AliasChoices("tag_id", "id"))
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    instructions: Annotated[str, StringConstraints(max_length=2000)] = ""


class TagRequest(BaseModel):
    """Tag texts with the tags given inline, or with a tag set stored in the database."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS)
    tags: list[TagSpec] | None = Field(None, min_length=1, max_length=500)
    tag_set: str | None = Field(None, alias="set", min_length=1, max_length=200)
    multi: bool = False
    confidence: bool = False
    cascade_below: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Tag with the local embedder and send only texts whose best tag is below this to the LLM.",
    )

    @model_validator(mode="after")
    def _one_source_of_tags(self) -> TagRequest:
        if (self.tags is None) == (self.tag_set is None):
            raise ValueError("give exactly one of 'tags' or 'set'")
        if self.tags is not None:
            ids = [str(t.tag_id) for t in self.tags]
            names = [t.name for t in self.tags]
            if len(set(ids)) != len(ids) or len(set(names)) != len(names):
                raise ValueError("tag ids and names must be unique")
        return self


class TagChoiceOut(BaseModel):
    id: int | str
    name: str
    confidence: float | None = None


class TagPrediction(BaseModel):
    """The tutorial's ``{"id", "name"}``, with llmclf's fields added."""

    id: int | str | None = Field(description="The best tag's id, in the type it was given; null on error.")
    name: str | None = Field(description="The best tag's name; null on error.")
    confidence: float | None = None
    tags: list[TagChoiceOut] | None = Field(None, description="Every tag chosen, best first (one unless multi).")
    source: str | None = Field(None, description="Which tagger answered: 'embedding' or 'llm'.")
    error: str | None = Field(None, description="Why this text got no tag.")
    llm_error: str | None = Field(
        None, description="With cascade_below: why the LLM gave no answer; the embedding tag stands."
    )
    run_id: str | None = None
    feedback_pending: bool | None = Field(
        None,
        description="True when the set's previous head answered while one with the newest feedback is built.",
    )


class TagResponse(BaseModel):
    texts: list[str]
    predictions: list[TagPrediction]


Label = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    score: int | None = Field(None, ge=0, le=1, description="1: the prediction was right; 0: it was wrong.")
    correction: Label | Annotated[list[Label], Field(min_length=1, max_length=500)] | None = Field(
        None, description="The right label; for a multi-label tag run, the list of every tag that applies."
    )

    @model_validator(mode="after")
    def _score_or_correction(self) -> FeedbackRequest:
        if self.score is None and self.correction is None:
            raise ValueError("give a score or a correction")
        return self


class FeedbackResponse(BaseModel):
    run_id: str
    stored: bool
    replaced: list[str] = Field(description="Earlier values this feedback replaced: score, correction.")
    label: Any = Field(None, description="The label this run now adds to the dataset, if any.")


class ModelInfo(BaseModel):
    name: str
    classes: list[str]
    embedder: str
    model_id: str | None = None  # changes when a retrained bundle is served in its place


class Health(BaseModel):
    status: str
    models: int
