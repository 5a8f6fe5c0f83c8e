"""The Judges page shows each judge version's measured quality card (as `haloscope
evaluators measure` stores it), and only on that version."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from haloscope.evaluators.custom_judge import builtin_templates
from haloscope.evaluators.quality import QualityCard, SliceCard, SliceFigures
from haloscope.platform.judges import save_judge, store_judge_card

from tests.web.conftest import LiveDashboard
from tests.web.seed import create_member


def test_judges_page_shows_the_measured_card_of_each_version(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["judge-card"])
    spec = dict(builtin_templates()["answer_correctness"])
    with dashboard.sessionmaker.begin() as db:
        first, _ = save_judge(db, project.project_id, spec)
        second, _ = save_judge(db, project.project_id, {**spec, "threshold": 0.7})
        figures = SliceFigures(
            pairwise=None, auroc=7 / 9, label_accuracy=4 / 6, best_accuracy=5 / 6,
            flag_rate=0.5, answers_per_s=3.0, brier=0.1875,
        )  # fmt: skip
        card = QualityCard(
            f"custom:{second.name}",
            str(second.version),
            {"capitals": SliceCard("capitals.jsonl", "0" * 64, 6, figures, failed=1)},
        )
        store_judge_card(second, card.as_dict())
    page = client_for(email).get(
        f"/projects/{project.project_id}/judges", params={"judge": second.name}
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert f'data-card-version="{second.version}"' in html
    assert f'data-card-version="{first.version}"' not in html
    row = re.search(r'<tr data-slice="capitals">(.*?)</tr>', html, re.S).group(1)
    cells = [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
    ]
    assert cells == ["capitals", "6", "0.778", "0.667", "0.833", "0.500", "0.188", "1"]
