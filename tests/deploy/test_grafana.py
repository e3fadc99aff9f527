"""deploy/grafana: the dashboard's queries select series a gateway exports, and its
Compliance row shows every compliance signal the alerts watch."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.deploy.support import DEPLOY, exported_series, load_yaml, series_in

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "gateway.json"


def _panels() -> list[dict[str, Any]]:
    return list(json.loads(DASHBOARD.read_text())["panels"])


def _compliance_row() -> list[dict[str, Any]]:
    """The panels after the row titled Compliance, up to the next row."""
    panels, inside = [], False
    for panel in _panels():
        if panel["type"] == "row":
            inside = panel["title"] == "Compliance"
        elif inside:
            panels.append(panel)
    return panels


def _series(panels: list[dict[str, Any]]) -> set[str]:
    return set().union(set(), *(series_in(t["expr"]) for p in panels for t in p.get("targets", [])))


def test_every_query_selects_exported_series() -> None:
    known = exported_series()
    unknown = {
        panel["title"]: series_in(target["expr"]) - known
        for panel in _panels()
        for target in panel.get("targets", [])
    }
    assert {title: names for title, names in unknown.items() if names} == {}
    dashboard = json.loads(DASHBOARD.read_text())
    for variable in dashboard["templating"]["list"]:
        assert set(re.findall(r"label_values\((\w+)", variable["definition"])) <= known


def test_panel_ids_are_unique_and_panels_do_not_overlap() -> None:
    panels = _panels()
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        area = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert pos["x"] + pos["w"] <= 24 and not area & cells, panel["title"]
        cells |= area


def test_the_compliance_row_shows_what_the_compliance_alerts_watch() -> None:
    groups = load_yaml(DEPLOY / "prometheus" / "alerts.yml")["groups"]
    watched = set().union(
        *(
            series_in(rule["expr"])
            for group in groups
            if group["name"] == "gateway-compliance-signals"
            for rule in group["rules"]
        )
    )
    shown = _series(_compliance_row())
    assert watched and watched - shown == set()
    assert "gateway_fail_closed_total" in shown
