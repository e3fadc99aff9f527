"""The suite's own rule for a missing browser: skipped on a developer's machine, a failure
under CI, where .ci/run installs Chromium (a skipped suite there would pass unseen)."""

from __future__ import annotations

import pytest

from tests.browser import conftest


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_chromium_skips_except_under_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(conftest, "chromium_path", lambda: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium is not installed"):
        conftest.required_chromium()


def test_a_present_chromium_is_used_by_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "chromium_path", lambda: "/opt/test/chromium")
    monkeypatch.setattr(conftest, "playwright_api", object())
    monkeypatch.setenv("CI", "true")
    assert conftest.required_chromium() == "/opt/test/chromium"
