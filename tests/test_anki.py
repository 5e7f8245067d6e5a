"""The Anki deck, imported into real collections with the official `anki` package."""
from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import pytest

from conftest import ROOTS, real_book, run

anki_collection = pytest.importorskip("anki.collection")
Collection = anki_collection.Collection
ImportAnkiPackageRequest = anki_collection.ImportAnkiPackageRequest
ImportAnkiPackageOptions = anki_collection.ImportAnkiPackageOptions


def build_deck(content: Path, out: Path, *extra: str) -> Path:
    run("--content", str(content), "--out", str(out), "-q", "build", "anki", *extra, check=True)
    return out / "anki"


def import_into(col, apkg: Path):
    opts = ImportAnkiPackageOptions(with_scheduling=True, merge_notetypes=True)
    return col.import_anki_package(ImportAnkiPackageRequest(package_path=str(apkg), options=opts))


def notes_by_source(col) -> dict[str, dict]:
    out = {}
    for nid in col.find_notes('note:"mlprep interview question"'):
        note = col.get_note(nid)
        out[note["Source"]] = {"id": nid, "guid": note.guid, "mod": note.mod, "tags": set(note.tags),
                               "fields": dict(note.items())}
    return out


@pytest.fixture
def col(tmp_path):
    c = Collection(str(tmp_path / "collection.anki2"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def real_deck(real_build):
    return real_build / "anki" / "ml-interview-prep.apkg"


def test_real_deck_imports_with_every_question(col, real_deck):
    book = real_book()
    import_into(col, real_deck)
    notes = notes_by_source(col)
    expected = {f"{t.id}#{q.id}" for t in book.topics() for q in t.questions}
    assert set(notes) == expected
    sheets = [t for t in book.topics() if t.cloze]
    assert len(sheets) == 5 and all(len(t.cloze) >= 10 for t in sheets)
    assert len(col.find_notes("")) == len(expected) + sum(len(t.cloze) for t in sheets)
    assert len(col.find_notes(f'"deck:{book.title}::Formulas" note:"mlprep formula cloze"')) == sum(len(t.cloze) for t in sheets)
    decks = {d.name for d in col.decks.all_names_and_ids()}
    for s in book.sections:
        if s.topics:
            assert f"ML Interview Prep::{s.number:02d} {s.title}" in decks
    # tags: hierarchical, searchable, no spaces
    assert col.find_notes("tag:mlprep::section::foundations")
    assert col.find_notes("tag:mlprep::level::senior") and col.find_notes("tag:mlprep::role::ai-engineer")
    assert all(" " not in tag for n in notes.values() for tag in n["tags"])
    # a rendered answer: code highlighted, math delimiters intact, no raw Markdown
    with_code = [n for n in notes.values() if "```" not in n["fields"]["Answer"] and 'class="highlight"' in n["fields"]["Answer"]]
    with_math = [n for n in notes.values() if "\\(" in n["fields"]["Answer"]]
    assert with_math and all("$" not in n["fields"]["Answer"].replace("\\$", "") or "\\(" in n["fields"]["Answer"] for n in with_math)
    for n in notes.values():
        a = n["fields"]["Answer"]
        prose = re.sub(r"<pre.*?</pre>|<code>.*?</code>", "", a, flags=re.S)  # Markdown syntax inside code is code
        assert "```" not in prose and "**" not in prose and a.startswith("<")
    assert with_code or any("<code>" in n["fields"]["Answer"] for n in notes.values())
    model = col.models.by_name("mlprep interview question")
    assert [f["name"] for f in model["flds"]] == ["Question", "Answer", "Topic", "Section", "Level", "Source", "Link"]
    assert ".highlight .k" in model["css"] and ".nightMode" in model["css"]


def _review_one(col, nid) -> int:
    """Answer the note's card once, as a learner would; return its card id."""
    from anki.scheduler.v3 import CardAnswer

    card = col.get_note(nid).cards()[0]
    col.decks.select(card.did)
    queued = col.sched.get_queued_cards(fetch_limit=1000)
    entry = next(q for q in queued.cards if q.card.id == card.id)
    shown = col.get_card(card.id)
    shown.start_timer()
    col.sched.answer_card(col.sched.build_answer(card=shown, states=entry.states, rating=CardAnswer.GOOD))
    return card.id


def test_edited_answer_updates_in_place_and_keeps_review_history(col, good, tmp_path):
    old = time.time() - 3600
    for p in good.rglob("*"):
        os.utime(p, (old, old))  # the copy's content last changed an hour ago
    deck = build_deck(good, tmp_path / "out1") / "ml-interview-prep.apkg"
    import_into(col, deck)
    before, total = notes_by_source(col), len(col.find_notes(""))
    target = before["attention_intro#why-scale"]
    cid = _review_one(col, target["id"])
    assert col.db.scalar("select count() from revlog where cid = ?", cid) == 1

    att = good / "01_Advanced" / "attention_intro.md"
    att.write_text(att.read_text(encoding="utf-8").replace(
        "Without it the logits grow with dimension", "Dot products of random unit-variance vectors grow like sqrt(d_k)"),
        encoding="utf-8")
    deck2 = build_deck(good, tmp_path / "out2") / "ml-interview-prep.apkg"
    import_into(col, deck2)
    after = notes_by_source(col)
    assert set(after) == set(before) and len(col.find_notes("")) == total  # zero new notes
    assert after["attention_intro#why-scale"]["id"] == target["id"]
    assert "grow like sqrt(d_k)" in after["attention_intro#why-scale"]["fields"]["Answer"]
    assert col.db.scalar("select count() from revlog where cid = ?", cid) == 1  # review history kept
    for source, note in before.items():
        if source != "attention_intro#why-scale":
            assert after[source]["fields"] == note["fields"], source


def test_focused_deck_has_same_guids_as_full_deck(col, good, tmp_path):
    out = tmp_path / "out"
    full = build_deck(good, out) / "ml-interview-prep.apkg"
    focused = build_deck(good, out, "--role", "data-scientist") / "ml-interview-prep--role-data-scientist.apkg"
    assert full.exists() and focused.exists()  # the focused build left the full deck alone
    import_into(col, focused)
    focused_notes = notes_by_source(col)
    assert set(focused_notes) == {"vectors_basics#what-is-dot-product", "vectors_basics#cosine-vs-dot"}
    import_into(col, full)
    full_notes = notes_by_source(col)
    for source, note in focused_notes.items():
        assert full_notes[source]["guid"] == note["guid"] and full_notes[source]["id"] == note["id"]
    path_deck = build_deck(good, out, "--path", "quick") / "ml-interview-prep--path-quick.apkg"
    assert path_deck.exists()


def test_unchanged_content_builds_identical_deck_and_reimport_changes_nothing(col, good, tmp_path):
    a = build_deck(good, tmp_path / "a") / "ml-interview-prep.apkg"
    b = build_deck(good, tmp_path / "b") / "ml-interview-prep.apkg"
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    import_into(col, a)
    first = notes_by_source(col)
    mod_before = col.db.scalar("select max(mod) from notes")
    import_into(col, b)
    assert notes_by_source(col) == first
    assert col.db.scalar("select max(mod) from notes") == mod_before


def test_raw_html_never_reaches_a_field_unescaped(col, good, tmp_path):
    att = good / "01_Advanced" / "attention_intro.md"
    att.write_text(att.read_text(encoding="utf-8").replace(
        "Quadratic, $O(n^2 d)$", "<script>alert(1)</script> <img src=x onerror=alert(2)> Quadratic, $O(n^2 d)$"),
        encoding="utf-8")
    import_into(col, build_deck(good, tmp_path) / "ml-interview-prep.apkg")
    for note in notes_by_source(col).values():
        for value in note["fields"].values():
            assert "<script" not in value and "<img" not in value
    answer = notes_by_source(col)["attention_intro#complexity"]["fields"]["Answer"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer and "\\(O(n^2 d)\\)" in answer


def test_validate_warns_when_a_question_id_disappears(good, tmp_path):
    out = tmp_path / "out"
    build_deck(good, out)
    att = good / "01_Advanced" / "attention_intro.md"
    att.write_text(att.read_text(encoding="utf-8").replace("id: why-scale", "id: why-scale-by-root-dk"), encoding="utf-8")
    proc = run("--content", ".", "--out", str(out), "validate", cwd=good)
    assert proc.returncode == 0
    assert "01_Advanced/attention_intro.md: warning: questions: question attention_intro#why-scale was in the last deck" in proc.stderr


def test_images_are_packed_as_media(col, good, tmp_path):
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
    (good / "00_Basics" / "dot.png").write_bytes(png)
    vec = good / "00_Basics" / "vectors_basics.md"
    vec.write_text(vec.read_text(encoding="utf-8").replace(
        "It measures alignment", "![two arrows](dot.png) It measures alignment"), encoding="utf-8")
    import_into(col, build_deck(good, tmp_path) / "ml-interview-prep.apkg")
    answer = notes_by_source(col)["vectors_basics#what-is-dot-product"]["fields"]["Answer"]
    name = re.search(r'<img src="([0-9a-f]{16}\.png)" alt="two arrows">', answer).group(1)  # named by content hash
    assert (Path(col.media.dir()) / name).read_bytes() == png


def test_link_field_points_to_the_site_when_a_base_url_is_set(col, good, tmp_path):
    book = good / "book.yaml"
    book.write_text(book.read_text(encoding="utf-8").replace("site_url: null", "site_url: https://prep.example.org/ml"),
                    encoding="utf-8")
    att = good / "01_Advanced" / "attention_intro.md"
    att.write_text(att.read_text(encoding="utf-8").replace(
        "Without it the logits grow", "Without it the [dot products](topic:vectors_basics) grow"), encoding="utf-8")
    import_into(col, build_deck(good, tmp_path) / "ml-interview-prep.apkg")
    notes = notes_by_source(col)
    assert notes["attention_intro#why-scale"]["fields"]["Link"] == "https://prep.example.org/ml/topics/attention_intro.html#why-scale"
    # topic: links inside answers point to the site too (without a base URL they stay plain text)
    answer = notes["attention_intro#why-scale"]["fields"]["Answer"]
    assert '<a href="https://prep.example.org/ml/topics/vectors_basics.html" class="xref">dot products</a>' in answer


def test_a_deck_from_mlprep_0_1_updates_in_place_with_short_answers_first(col, good, tmp_path):
    """A learner who imported the 0.1 deck (committed as built then) and reviewed a card imports today's:
    every note keeps its id and GUID, its history stays, and the card now leads with the short answer."""
    import_into(col, ROOTS / "decks" / "good-mlprep-0.1.apkg")
    before = notes_by_source(col)
    target = before["attention_intro#why-scale"]
    cid = _review_one(col, target["id"])
    import_into(col, build_deck(good, tmp_path) / "ml-interview-prep.apkg")
    after = notes_by_source(col)
    assert set(after) == set(before)
    assert all(after[s]["id"] == n["id"] and after[s]["guid"] == n["guid"] for s, n in before.items())
    assert col.db.scalar("select count() from revlog where cid = ?", cid) == 1
    answer = after["attention_intro#why-scale"]["fields"]["Answer"]
    assert answer.startswith('<div class="short">') and '<details class="extra" open><summary>Full answer' in answer
    shown = col.get_card(cid).answer()
    assert shown.index('class="short"') < shown.index("Full answer")  # the new template is in use
    assert "attention_intro" not in re.sub(r'href="[^"]*"', "", shown.split('id="answer"')[1])  # title, not slug


def test_cloze_notes_hide_each_deletion_and_validate(col, good, tmp_path):
    import_into(col, build_deck(good, tmp_path) / "ml-interview-prep.apkg")
    nids = col.find_notes('note:"mlprep formula cloze"')
    assert len(nids) == 2
    cards = [c for n in nids for c in col.get_note(n).cards()]
    assert len(cards) == 3  # c1 and c2 of one sentence, c1 of the other
    fronts = [re.sub(r"<[^>]+>", "", c.question()) for c in cards]
    assert all("[...]" in f for f in fronts)
    variance = [f for f in fronts if "variance" in f]
    assert len(variance) == 2 and sum("near one" in f for f in variance) == 1  # c1 and c2 hide different facts
    assert [f for f in fronts if "check for" in f and "leakage" not in f]
    assert {col.decks.name(c.did) for c in cards} == {"Fixture Book::Formulas"}

    sheet = good / "01_Advanced" / "traps_sheet.md"
    text = sheet.read_text(encoding="utf-8")
    sheet.write_text(text.replace("check for {{c1::leakage}} first.", "check for leakage first.")
                         .replace("{{c1::$\\\\sqrt{d_k}$}}", "{{c1::$\\\\sqrt{d_k}$}"), encoding="utf-8")
    proc = run("--content", str(good), "--out", str(tmp_path / "bad"), "validate")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert re.search(r"traps_sheet\.md:\d+: cloze\[0\]\.text: .*(unbalanced|braces)", proc.stderr), proc.stderr
    assert re.search(r"traps_sheet\.md:\d+: cloze\[1\]\.text: needs at least one", proc.stderr), proc.stderr
