"""The content contract: pydantic models for book.yaml, section.yaml and topic front matter."""
from schemas.models import (
    Book, BookMeta, ChecklistGroup, Difficulty, Kind, Level, Minimums, Question, Reference,
    Role, Section, SectionMeta, StudyPath, Topic, TopicMeta, Track, Week,
)

__all__ = [
    "Book", "BookMeta", "ChecklistGroup", "Difficulty", "Kind", "Level", "Minimums", "Question",
    "Reference", "Role", "Section", "SectionMeta", "StudyPath", "Topic", "TopicMeta", "Track", "Week",
]
