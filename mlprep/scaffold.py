"""`mlprep new topic`: a scaffold that shows every field and validates once it is filled in."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from schemas.models import SNAKE

SCAFFOLD = """\
---
title: {title}
summary: >-
  Write one or two sentences for indexes and flashcards.
difficulty: intermediate            # foundational | intermediate | advanced
roles: []                           # role ids from book.yaml, e.g. [ai-engineer, ml-engineer]
prerequisites: []                   # topic ids (file stems) a learner should read first
tags: []                            # lower-case kebab-case
questions: []                       # at least 8: {{id: kebab-id, q: ..., short: one sentence (max 30 words), a: |, level: junior|mid|senior}}
pitfalls: []                        # at least 4 Markdown strings: the mistake, why it bites, how to avoid it
further_reading: []                 # at least 3: {{title: ..., authors: ..., year: ..., url: https://...}}
---
## Intuition

## The precise statement

## In practice

```python
# A runnable, seeded example that prints or asserts a meaningful result.
```

## What interviewers listen for
"""


def new_topic(content: Path, section: str, name: str) -> Path:
    if not re.fullmatch(SNAKE.strip("^$"), name):
        raise ValueError(f"NAME must be a snake_case topic id, got {name!r}")
    folders = [p for p in sorted(content.iterdir()) if p.is_dir() and (p / "section.yaml").exists()]
    matches = [p for p in folders if section in (p.name, p.name[3:].lower(), p.name[3:])]
    if not matches:
        raise ValueError(f"unknown section {section!r}; choose from {', '.join(p.name for p in folders)}")
    folder = matches[0]
    path = folder / f"{name}.md"
    if path.exists():
        raise ValueError(f"{path} already exists")
    if any(p.stem == name for p in content.glob("*/*.md")):
        raise ValueError(f"topic id {name!r} is already used in another section")
    path.write_text(SCAFFOLD.format(title=name.replace("_", " ").title()), encoding="utf-8")
    section_yaml = folder / "section.yaml"
    text = section_yaml.read_text(encoding="utf-8")
    order = (yaml.safe_load(text) or {}).get("order") or []
    if name not in order:
        section_yaml.write_text(_append_to_order(text, name), encoding="utf-8")
    return path


def _append_to_order(text: str, name: str) -> str:
    """Add `- name` after the last item of the block list under `order:`, keeping formatting and comments."""
    m = re.search(r"^order:[ \t]*\n((?:[ \t]+-[^\n]*\n?|[ \t]*#[^\n]*\n?)*)", text, re.M)
    if not m:
        raise ValueError("section.yaml has no block list `order:` to add the topic to")
    items = re.findall(r"^([ \t]+)-", m.group(1), re.M)
    indent = items[0] if items else "  "
    block = m.group(1)
    if block and not block.endswith("\n"):
        block += "\n"
    return text[: m.start(1)] + block + f"{indent}- {name}\n" + text[m.end(1):]
