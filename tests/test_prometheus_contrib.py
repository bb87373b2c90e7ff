"""contrib/prometheus and contrib/grafana against promtool and a real /metrics scrape.

promtool comes with Debian's `prometheus` package; `.ci/run` installs it, so under CI a
missing promtool fails these tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from balancebot.config import Config
from balancebot.testing.deepseek import DeepSeekSimulator

from .test_ops import pages_of_a_running_daemon

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "contrib" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "contrib" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "dashboard.json"
METRIC = re.compile(r"\bbalancebot_[a-z_]+\b")
# Grafana's variables, as Grafana would expand them, so promtool can parse the queries.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$instance": ".*", "$account": ".*"}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is missing: apt-get install prometheus"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [promtool(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def dashboard_queries() -> list[str]:
    queries = [t["expr"] for p in panels(dashboard()) for t in p.get("targets", [])]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["query"]["query"])
    return queries


def alert_queries() -> list[str]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [str(rule["expr"]) for group in groups for rule in group["rules"]]


def test_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    assert "SUCCESS: 7 rules found" in run("check", "rules", str(RULES))
    assert "SUCCESS" in run("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)


def test_the_rule_unit_tests_can_fail(tmp_path: Path) -> None:
    """A limit moved in alerts.yml breaks alerts_test.yml: the tests look at the values."""
    (tmp_path / RULES.name).write_text(
        RULES.read_text(encoding="utf-8").replace("< 50", "< 30"), encoding="utf-8"
    )
    shutil.copy(RULE_TESTS, tmp_path)
    done = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "BalancebotBalanceLow" in done.stdout + done.stderr


def test_dashboard_is_importable_json_with_a_prometheus_datasource_variable() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    titles = " ".join(p["title"].lower() for p in panels(board))
    for topic in ("balance", "runway", "check failures", "notifications"):
        assert topic in titles
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids))
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule's expression."""
    rules = []
    for i, query in enumerate(dashboard_queries()):
        if query.startswith("label_values("):  # Grafana's own function, not PromQL
            query = query.removeprefix("label_values(").rsplit(",", 1)[0]
        for variable, value in GRAFANA_VARIABLES.items():
            query = query.replace(variable, value)
        assert "$" not in query, query
        rules.append({"record": f"dashboard:query_{i}", "expr": query})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in run("check", "rules", str(path))


def test_the_runway_panel_says_days_left_at_the_recent_spend(tmp_path: Path) -> None:
    """1 CNY a minute from 1,000: six hours on, 640 CNY last 640 minutes (0.444 days);
    an account not spending has no runway line."""
    [query] = [
        t["expr"]
        for p in panels(dashboard())
        if p["title"].startswith("Runway")
        for t in p["targets"]
    ]
    for variable, value in GRAFANA_VARIABLES.items():
        query = query.replace(variable, value)
    rules = {"groups": [{"name": "d", "rules": [{"record": "runway_days", "expr": query}]}]}
    (tmp_path / "runway.yml").write_text(yaml.safe_dump(rules))
    series = 'balancebot_balance{{account="{}", currency="CNY", kind="total", job="balancebot"}}'
    test = {
        "rule_files": ["runway.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": series.format("burning"), "values": "1000-1x400"},
                    {"series": series.format("idle"), "values": "500x400"},
                ],
                "promql_expr_test": [
                    {
                        "expr": "runway_days",
                        "eval_time": "6h",
                        "exp_samples": [
                            {
                                "labels": "runway_days" + series.format("burning")[18:],
                                "value": 640 / 1440,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "runway_test.yml").write_text(yaml.safe_dump(test))
    assert "SUCCESS" in run("test", "rules", "runway_test.yml", cwd=tmp_path)


async def test_a_real_scrape_passes_promtool_and_has_every_metric_the_contrib_files_use(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator
) -> None:
    promtool()  # before starting a daemon for nothing
    [(status, text)] = await pages_of_a_running_daemon(make_config, simulator, "/metrics")
    assert status == 200
    assert run("check", "metrics", stdin=text).strip() == ""  # no lint at all
    exposed = {s.name for family in text_string_to_metric_families(text) for s in family.samples}
    used = {name for query in dashboard_queries() for name in METRIC.findall(query)}
    assert used - exposed == set(), "the dashboard queries series /metrics does not have"
    in_rules = {name for query in alert_queries() for name in METRIC.findall(query)}
    assert in_rules - exposed == set(), "alerts.yml queries series /metrics does not have"
    assert len(used) >= 8 and len(in_rules) >= 5  # the regex found the names at all
