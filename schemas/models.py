"""Pydantic models of the content contract.

`*Meta` models are what authors write (YAML); `Topic`, `Section` and `Book` add what the loader
derives (ids from file names, the Markdown body, source paths). Unknown fields are forbidden so a
typo in front matter is an error, not a silently ignored key.
"""
from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, model_validator

KEBAB = r"^[a-z0-9]+(-[a-z0-9]+)*$"
SNAKE = r"^[a-z0-9]+(_[a-z0-9]+)*$"
# http(s) with a host, then URL characters only: no quotes, spaces, angle brackets or backslashes, so a URL
# can never leave the attribute or field it is written into.
SAFE_URL = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][A-Za-z0-9._~:/?#\[\]@!$&()*+,;=%-]*)?$"

KebabId = Annotated[str, StringConstraints(pattern=KEBAB)]
TopicId = Annotated[str, StringConstraints(pattern=SNAKE)]
Tag = Annotated[str, StringConstraints(pattern=KEBAB)]
NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Difficulty(str, Enum):
    foundational = "foundational"
    intermediate = "intermediate"
    advanced = "advanced"


class Level(str, Enum):
    junior = "junior"
    mid = "mid"
    senior = "senior"


class Kind(str, Enum):
    topic = "topic"
    case_study = "case_study"
    cheat_sheet = "cheat_sheet"


class Track(str, Enum):
    technical = "technical"
    business = "business"


class Question(Strict):
    id: KebabId = Field(description="Stable for life: it keys the Anki note. Rewording the question keeps the id.")
    q: NonEmpty = Field(description="The question, one line of Markdown.")
    short: NonEmpty = Field(description="The one sentence (at most 30 words) a candidate says first; a flashcard "
                                        "shows it in bold before the full answer.")
    a: NonEmpty = Field(description="The answer in Markdown, complete on its own (the back of a flashcard).")
    level: Level


class ClozeItem(Strict):
    id: KebabId = Field(description="Stable for life: it keys the Anki note.")
    text: NonEmpty = Field(description="One sentence with {{c1::…}} deletions (Anki cloze syntax); Markdown and $math$ allowed.")


class Reference(Strict):
    title: NonEmpty
    url: Annotated[str, StringConstraints(pattern=SAFE_URL)]
    authors: Optional[str] = None
    year: Optional[int] = Field(default=None, ge=1700, le=2100)
    note: Optional[str] = Field(default=None, description="Chapter, section or why it is worth reading.")


class TopicMeta(Strict):
    """The front matter of a topic, case study or cheat sheet."""
    title: NonEmpty
    summary: NonEmpty
    kind: Kind = Kind.topic
    difficulty: Difficulty
    roles: list[KebabId] = Field(default_factory=list)
    prerequisites: list[TopicId] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list)
    track: Optional[Track] = Field(default=None, description="Case studies only.")
    pages: Optional[int] = Field(default=None, ge=1, le=2, description="Cheat sheets only: printed page budget.")
    questions: list[Question] = Field(default_factory=list)
    pitfalls: list[NonEmpty] = Field(default_factory=list)
    further_reading: list[Reference] = Field(default_factory=list)
    cloze: list[ClozeItem] = Field(default_factory=list,
                                   description="Cheat sheets only: what to memorise, as Anki cloze cards (Formulas deck).")

    @model_validator(mode="after")
    def _kind_fields(self) -> "TopicMeta":
        if self.kind is not Kind.cheat_sheet and self.cloze:
            raise ValueError("cloze: only cheat sheets have cloze cards")
        if self.kind is Kind.case_study and self.track is None:
            raise ValueError("track: a case study needs a track (technical | business)")
        if self.kind is not Kind.case_study and self.track is not None:
            raise ValueError("track: only case studies have a track")
        if self.kind is Kind.cheat_sheet and self.pages is None:
            raise ValueError("pages: a cheat sheet needs a pages budget (1 or 2)")
        if self.kind is not Kind.cheat_sheet and self.pages is not None:
            raise ValueError("pages: only cheat sheets have a pages budget")
        return self


class Topic(TopicMeta):
    """A loaded topic: front matter plus what the loader derives."""
    model_config = ConfigDict(extra="forbid")
    id: TopicId
    section_id: str
    body: str
    source: Path
    body_line: int = Field(description="1-based line of the first body line in the source file.")
    lines: dict[str, int] = Field(default_factory=dict, description="Field path -> source line.")
    digest: str = Field(default="", description="Hash of the source file's text: the cache key of its outputs.")


class SectionMeta(Strict):
    title: NonEmpty
    overview: NonEmpty
    order: list[TopicId] = Field(min_length=1)


class Section(SectionMeta):
    model_config = ConfigDict(extra="forbid")
    id: str
    folder: str
    number: int
    topics: list[Topic] = Field(default_factory=list, description="Written topics in reading order.")
    source: Path
    digest: str = ""

    @property
    def planned(self) -> list[str]:
        written = {t.id for t in self.topics}
        return [tid for tid in self.order if tid not in written]


class CriticalGroup(Strict):
    """One entry of a critical-topic list that several topics cover together (e.g. "Business case studies")."""
    title: NonEmpty
    topics: list[TopicId] = Field(min_length=1)
    note: Optional[str] = Field(default=None, description="Markdown: why these topics, where the original differs.")


class Role(Strict):
    id: KebabId
    title: NonEmpty
    description: NonEmpty
    original: bool = Field(default=False, description="The critical list comes from the original study plan.")
    critical_topics: list[TopicId | CriticalGroup] = Field(
        default_factory=list, description="The most interview-critical topics, in order of priority.")
    also_critical: list[TopicId] = Field(default_factory=list,
                                         description="This book's additions to an original critical list.")

    def critical_ids(self) -> list[str]:
        """Every topic id the role's lists name, in order, once."""
        ids = [t for c in self.critical_topics for t in ([c] if isinstance(c, str) else c.topics)]
        return list(dict.fromkeys(ids + self.also_critical))


class Practice(str, Enum):
    self_check = "self-check"          # each topic's interview questions, answered aloud before revealing
    question_books = "question-books"  # the role's printed mock-interview question book
    anki = "anki"                      # the Anki deck, filtered to the role


class PathTrack(Strict):
    """A role-specific choice inside a study step (e.g. the case studies for an ML engineer)."""
    label: NonEmpty
    topics: list[TopicId] = Field(min_length=1)


class Week(Strict):
    label: NonEmpty = Field(description="When and how long: 'Weeks 1–2', 'Days 5–7', '3 days'.")
    title: NonEmpty
    focus: Optional[str] = None
    sections: list[str] = Field(default_factory=list, description="Section ids whose overviews this step reads.")
    topics: list[TopicId] = Field(default_factory=list)
    tracks: list[PathTrack] = Field(default_factory=list)
    roles: list[KebabId] = Field(default_factory=list, description="Only for these roles (empty: everyone).")
    practice: list[Practice] = Field(default_factory=list)

    def topic_ids(self) -> list[str]:
        return list(dict.fromkeys(self.topics + [t for tr in self.tracks for t in tr.topics]))


class StudyPath(Strict):
    id: KebabId
    title: NonEmpty
    audience: NonEmpty
    duration: NonEmpty
    original: bool = Field(default=False, description="The path follows the original study plan.")
    weeks: list[Week] = Field(min_length=1)


class ChecklistItem(Strict):
    id: KebabId
    text: NonEmpty
    topics: list[TopicId] = Field(default_factory=list, description="Where to prepare it.")


class ChecklistGroup(Strict):
    group: NonEmpty
    original: bool = Field(default=False, description="The original plan's interview success checklist.")
    items: list[ChecklistItem | NonEmpty] = Field(min_length=1)


class Minimums(Strict):
    """The guide's minimums, enforced for every written topic. A book may lower them (test fixtures do)."""
    words: int = 1000
    questions: int = 8
    pitfalls: int = 4
    references: int = 3
    examples: int = 1
    links: int = 1
    answer_words_min: int = 40
    answer_words_max: int = 250
    short_words_max: int = 30
    senior_questions: int = 2
    case_study_words: int = 2000
    cheat_sheet_words: int = 600
    cheat_sheet_questions: int = 6
    cheat_sheet_cloze: int = 10


class BookMeta(Strict):
    title: NonEmpty
    subtitle: Optional[str] = None
    authors: list[NonEmpty] = Field(min_length=1)
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")]
    identifier: NonEmpty
    version: NonEmpty
    date: Optional[str] = None
    description: NonEmpty
    subjects: list[NonEmpty] = Field(default_factory=list)
    site_url: Optional[Annotated[str, StringConstraints(pattern=SAFE_URL)]] = None
    rights: Optional[str] = Field(default=None, description="Copyright and licence of the content (EPUB dc:rights).")
    overview: NonEmpty
    how_to_use: NonEmpty
    roles: list[Role] = Field(min_length=1)
    study_paths: list[StudyPath] = Field(default_factory=list)
    checklist: list[ChecklistGroup] = Field(default_factory=list)
    minimums: Minimums = Field(default_factory=Minimums)


class Book(BookMeta):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    sections: list[Section] = Field(default_factory=list)
    root: Path
    digest: str = Field(default="", description="Hash of book.yaml's text.")
    files: dict[Path, tuple[int, str]] = Field(default_factory=dict, exclude=True,
                                               description="Every file read -> (mtime_ns taken before reading, git blob id).")
    _topic_index: Optional[dict] = PrivateAttr(default=None)
    _section_index: Optional[dict] = PrivateAttr(default=None)
    _backlinks: Optional[dict] = PrivateAttr(default=None)

    # --- derived look-ups, built once by the loader -------------------------------------
    def topics(self) -> list[Topic]:
        """Every written topic in reading order."""
        return [t for s in self.sections for t in s.topics]

    def topic(self, topic_id: str) -> Optional[Topic]:
        return self._index().get(topic_id)

    def section_of(self, topic_id: str) -> Optional[Section]:
        if self._section_index is None:
            self._section_index = {tid: s for s in reversed(self.sections) for tid in s.order}
        return self._section_index.get(topic_id)

    def role(self, role_id: str) -> Optional[Role]:
        return next((r for r in self.roles if r.id == role_id), None)

    def path(self, path_id: str) -> Optional[StudyPath]:
        return next((p for p in self.study_paths if p.id == path_id), None)

    def required_by(self, topic_id: str) -> list[Topic]:
        """Written topics that list `topic_id` as a prerequisite (backlinks), in reading order."""
        if self._backlinks is None:
            self._backlinks = {}
            for t in self.topics():
                for p in t.prerequisites:
                    self._backlinks.setdefault(p, []).append(t)
        return self._backlinks.get(topic_id, [])

    def number_of(self, topic_id: str) -> str:
        """The topic's number as every format prints it: section number, then place in the reading order
        ("3.2"); planned topics have theirs too, so numbers don't shift as topics get written."""
        s = self.section_of(topic_id)
        return f"{s.number}.{s.order.index(topic_id) + 1}" if s else ""

    def title_of(self, topic_id: str) -> str:
        """A written topic's title, or a readable title for a planned one ("RAG Fundamentals")."""
        t = self.topic(topic_id)
        return t.title if t else title_from_id(topic_id)

    def _index(self) -> dict[str, Topic]:
        if self._topic_index is None:
            self._topic_index = {t.id: t for t in self.topics()}
        return self._topic_index


_ACRONYMS = {"ml": "ML", "ai": "AI", "llm": "LLM", "llms": "LLMs", "rag": "RAG", "roi": "ROI", "nlp": "NLP",
             "cicd": "CI/CD", "cnn": "CNN", "rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "bert": "BERT", "gpt": "GPT",
             "svm": "SVM", "mlops": "MLOps", "pytorch": "PyTorch", "sklearn": "scikit-learn"}
_SMALL = {"and", "or", "vs", "of", "for", "to", "in", "the", "a", "an", "with", "on"}


def title_from_id(topic_id: str) -> str:
    """A planned topic's title from its id: words capitalised, acronyms kept ("cicd_for_ml" -> "CI/CD for ML")."""
    words = topic_id.split("_")
    return " ".join(_ACRONYMS.get(w) or (w if i and w in _SMALL else w.capitalize()) for i, w in enumerate(words))


def slugify(text: str) -> str:
    """GitHub-style heading slug: lower-case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return re.sub(r"[\s]+", "-", text).strip("-")
