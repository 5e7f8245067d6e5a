"""book.yaml keeps the original study repository's plan: critical topics, checklist and paths, item for item,
and the site, the EPUB and the focused builds show it."""
from __future__ import annotations

import re
import shutil
import zipfile

import pytest

from conftest import CONTENT, real_book, run

BOOK = real_book()


def critical(role_id: str) -> list:
    """A role's critical list as ids, a group as (title, topics)."""
    return [c if isinstance(c, str) else (c.title, c.topics) for c in BOOK.role(role_id).critical_topics]


def test_the_three_original_critical_lists_in_order():
    assert critical("ai-engineer") == ["rag_fundamentals", "transformer_architecture", "llm_finetuning",
                                       "prompt_engineering", "customer_support_chatbot_rag"]
    assert critical("ml-engineer") == ["gradient_boosting", "model_interpretability", "monitoring_and_drift_detection",
                                       "feature_engineering_fundamentals", "demand_forecasting_logistics"]
    ds = critical("data-scientist")
    assert [c if isinstance(c, str) else c[0] for c in ds] == [
        "evaluation_metrics_taxonomy", "A/B testing and experimentation", "bias_variance_tradeoff",
        "time_series_basics", "Business case studies"]
    assert ds[1][1][0] == "probability_and_statistics"  # where the experimentation material lives
    assert ds[4][1] == ["ai_strategy_roi", "ml_product_prioritization", "ai_ethics_governance"]
    assert {r.id for r in BOOK.roles if r.original} == {"ai-engineer", "ml-engineer", "data-scientist"}
    assert {r.id for r in BOOK.roles} >= {"mlops-engineer", "research-engineer", "ai-product-manager"}


ORIGINAL_CHECKLIST = {
    "explain-bias-variance": "bias_variance_tradeoff", "gradient-boosting-from-scratch": "gradient_boosting",
    "design-rag-end-to-end": "rag_fundamentals", "explain-transformer": "transformer_architecture",
    "finetuning-tradeoffs": "llm_finetuning", "debug-model-performance": "debugging_neural_networks",
    "design-monitoring": "monitoring_and_drift_detection", "calculate-roi": "ai_strategy_roi",
    "fairness-and-bias": "ai_ethics_governance", "whiteboard-ml-system": "end_to_end_ml_system_design",
}


def test_the_ten_original_checklist_items_come_first_and_the_richer_groups_stay():
    first = BOOK.checklist[0]
    assert first.original and [i.id for i in first.items] == list(ORIGINAL_CHECKLIST)
    for item in first.items:
        assert ORIGINAL_CHECKLIST[item.id] in item.topics, item.id
    assert [g.group for g in BOOK.checklist[1:]] == ["Technical depth", "Coding", "System design",
                                                     "Case studies and behavioural", "The day before and on the day"]


def span(label: str) -> tuple[int, str]:
    """'Weeks 3–5' -> (3, 'week'); 'Week 14' -> (1, 'week'); 'Days 5–7' -> (3, 'day'); '3 days' -> (3, 'day')."""
    if m := re.fullmatch(r"(Weeks|Days) (\d+)–(\d+)", label):
        return int(m.group(3)) - int(m.group(2)) + 1, m.group(1)[:-1].lower()
    if m := re.fullmatch(r"(Week|Day) (\d+)", label):
        return 1, m.group(1).lower()
    m = re.fullmatch(r"(\d+) (week|day)s?", label)
    assert m, label
    return int(m.group(1)), m.group(2)


def steps(path_id: str) -> list[tuple[tuple[int, str], list[str]]]:
    return [(span(w.label), w.sections) for w in BOOK.path(path_id).weeks]


def order(section_id: str) -> list[str]:
    return next(s.order for s in BOOK.sections if s.id == section_id)


def test_comprehensive_plan_is_six_two_week_blocks():
    assert steps("eight-to-twelve-weeks") == [
        ((2, "week"), ["foundations"]), ((2, "week"), ["machine_learning"]),
        ((2, "week"), ["deep_learning", "modern_nlp_and_transformers"]),
        ((2, "week"), ["large_language_models", "rag_and_agent_systems"]),
        ((2, "week"), ["mlops_and_production_ai", "system_design_for_ai"]), ((2, "week"), ["case_studies", "cheat_sheets"])]


def test_path_1_new_to_ml_is_seventeen_weeks_section_by_section():
    assert steps("new-to-ml") == [
        ((2, "week"), ["foundations"]), ((3, "week"), ["machine_learning"]), ((2, "week"), ["deep_learning"]),
        ((2, "week"), ["modern_nlp_and_transformers"]), ((2, "week"), ["large_language_models"]),
        ((2, "week"), ["rag_and_agent_systems"]), ((1, "week"), ["mlops_and_production_ai"]),
        ((1, "week"), ["system_design_for_ai"]), ((2, "week"), ["case_studies"])]
    for w in BOOK.path("new-to-ml").weeks:  # each step reads its whole section
        assert w.topics == order(w.sections[0]), w.label


def test_path_2_ml_to_llms_keeps_the_review_and_the_llm_ops_days():
    assert steps("ml-to-llms") == [
        ((3, "day"), ["foundations", "machine_learning"]), ((1, "week"), ["modern_nlp_and_transformers"]),
        ((2, "week"), ["large_language_models"]), ((2, "week"), ["rag_and_agent_systems"]),
        ((3, "day"), ["mlops_and_production_ai"]), ((1, "week"), ["system_design_for_ai"]),
        ((1, "week"), ["case_studies"])]
    llm_cases = BOOK.path("ml-to-llms").weeks[-1].topics
    assert set(llm_cases) == {"customer_support_chatbot_rag", "document_processing_llms", "knowledge_assistant",
                              "agent_workflow_automation", "llm_cost_optimization"}


def test_quick_review_and_two_week_sprint_follow_the_original_days():
    quick = BOOK.path("quick-review").weeks
    assert [w.label for w in quick] == ["Days 1–2", "Days 3–4", "Days 5–7", "Days 8–10", "Days 11–14"]
    sheets = order("cheat_sheets")
    assert quick[0].topics == sheets
    assert quick[1].sections == [s.id for s in BOOK.sections if s.id not in ("case_studies", "cheat_sheets")]
    assert {t.label: t.topics for t in quick[2].tracks} == {
        "LLM / AI engineer": ["customer_support_chatbot_rag", "knowledge_assistant", "llm_cost_optimization"],
        "ML engineer": ["demand_forecasting_logistics", "supply_chain_anomaly_detection", "route_optimization_ml"],
        "Business / product": ["ai_strategy_roi", "ml_product_prioritization"]}
    assert quick[3].topics == order("system_design_for_ai")
    sprint = BOOK.path("two-week-sprint").weeks
    assert [w.label for w in sprint] == ["Days 1–2", "Days 3–4", "Days 5–7", "Days 8–10", "Days 11–12", "Days 13–14"]
    assert sprint[0].topics == sheets and sprint[3].topics == order("system_design_for_ai")
    assert sprint[4].roles == ["ai-engineer"] and sprint[4].topics == order("rag_and_agent_systems")
    # "weak areas" and "mock interviews" are actionable: self-check, question books, the role's Anki deck
    for w in (quick[1], quick[4], sprint[1], sprint[5]):
        assert w.practice, w.label
    assert all(p.original for p in BOOK.study_paths)


def test_home_page_shows_the_original_plan(real_site):
    home = (real_site / "index.html").read_text(encoding="utf-8")
    ai = home[home.index('id="role-ai-engineer"'):home.index('id="role-ml-engineer"')]
    titles = re.findall(r'topics/([a-z_]+)\.html|<span class="planned"[^>]*>([^<]+)<', ai)
    assert "original plan" in ai and "added by this book" in ai
    assert 'href="sections/cheat_sheets.html"' in home and "Days 5–7: Case studies for your role" in home
    assert 'data-key="calculate-roi"' in home and "Prepare:" in home
    assert len(titles) >= 5


@pytest.mark.parametrize("focus", [("--path", "quick-review"), ("--role", "data-scientist")])
def test_focused_books_carry_the_plan(focus, tmp_path, real_build):
    out = tmp_path / "out"
    # a second build reuses the formula images the full build drew, as it would in the user's build/
    shutil.copytree(real_build / ".cache" / "math-png", out / ".cache" / "math-png")
    run("--content", str(CONTENT), "--out", str(out), "-q", "build", "epub", *focus, check=True)
    epub = next((out / "epub").glob("*.epub"))
    with zipfile.ZipFile(epub) as z:
        text = " ".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xhtml"))
    assert "From the original plan" in text or "follow the original study plan" in text
    if focus[0] == "--path":  # the path's section overviews are chapters of the focused book
        for s in BOOK.sections:
            if s.id in {x for w in BOOK.path("quick-review").weeks for x in w.sections}:
                assert f'id="section-{s.id}"' in text, s.id
    else:
        assert "A/B testing and experimentation" in text
