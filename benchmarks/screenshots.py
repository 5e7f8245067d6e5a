"""Screenshots for looking at the outputs as a learner would: `python -m benchmarks.screenshots [BUILD] [OUT]`.

Takes the built site (home, a topic's top, its math, its questions revealed, search) at 1280 and 375 px in
light and dark mode, and two Anki cards (question and answer) at phone size in day and night mode, with
Debian's Chromium. BUILD defaults to build/ (run `make` first), OUT to build/screenshots/.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

PAGES = [  # (name, page, fragment or query, action)
    ("home", "index.html", "", None),
    ("topic-top", "topics/transformer_architecture.html", "", None),
    ("topic-math", "topics/attention_mechanism.html", "", "math"),
    ("topic-questions", "topics/attention_mechanism.html", "", "reveal"),
    ("search", "search.html", "?q=kv%20cache", None),
]


def site_shots(page, site: Path, out: Path) -> None:
    for width in (1280, 375):
        for scheme in ("light", "dark"):
            page.set_viewport_size({"width": width, "height": 900})
            page.emulate_media(color_scheme=scheme)
            for name, path, query, action in PAGES:
                page.goto((site / path).as_uri() + query)
                page.wait_for_load_state("load")
                page.evaluate("document.fonts.ready")
                if action == "math":
                    page.locator("math").nth(3).scroll_into_view_if_needed()
                elif action == "reveal":
                    page.click("button.reveal-all[data-open=true]")
                    page.locator("#interview-questions").scroll_into_view_if_needed()
                page.screenshot(path=str(out / f"site-{name}-{width}-{scheme}.png"))


def card_shots(page, apkg: Path, out: Path) -> None:
    """Two cards as Anki renders them (its own question/answer HTML and the note type's CSS), at 390 px."""
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    with tempfile.TemporaryDirectory() as tmp:
        col = Collection(str(Path(tmp) / "c.anki2"))
        col.import_anki_package(ImportAnkiPackageRequest(
            package_path=str(apkg), options=ImportAnkiPackageOptions(with_scheduling=False)))
        picks = [col.find_notes('note:"mlprep interview question" Source:attention_mechanism*')[0],
                 col.find_notes('note:"mlprep formula cloze"')[0]]
        for i, nid in enumerate(picks):
            card = col.get_note(nid).cards()[0]
            css = card.note_type()["css"]
            for side, html in (("front", card.question()), ("back", card.answer())):
                for night in (False, True):
                    cls = "card nightMode night_mode" if night else "card"
                    doc = (f'<!doctype html><meta name="viewport" content="width=device-width"><style>{css}</style>'
                           f'<body class="{cls}"><div class="{cls}">{html}</div></body>')
                    page.set_viewport_size({"width": 390, "height": 844})
                    page.set_content(doc)
                    page.screenshot(path=str(out / f"card-{i + 1}-{side}-{'night' if night else 'day'}.png"), full_page=True)
        col.close()


def main() -> None:
    build = Path(sys.argv[1] if len(sys.argv) > 1 else "build")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else build / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        site_shots(page, build / "site", out)
        card_shots(page, build / "anki" / "ml-interview-prep.apkg", out)
        browser.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
