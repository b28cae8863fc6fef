"""axe-core (WCAG 2.1 A and AA rules) in the browser tests, loaded from node_modules — never a CDN.

`make browser-deps` installs the version pinned in package.json/package-lock.json with `npm ci`;
`audit(page)` injects it into the page with Playwright's `add_script_tag(path=…)` and returns the
violations a person would be hurt by (impact serious or critical).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# WCAG 2.0 and 2.1, levels A and AA (axe's own tag names).
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:4]) + (" …" if len(self.targets) > 4 else "")
        return f"[{self.impact}] {self.rule}: {self.help} — {shown}"


def require_axe() -> Path:
    if not AXE_JS.exists():
        pytest.fail(
            f"{AXE_JS} is missing: run `make browser-deps` (npm ci installs the axe-core pinned "
            "in package.json)"
        )
    return AXE_JS


def audit(page: Any) -> list[Violation]:
    """The serious and critical WCAG 2.1 AA violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(require_axe()))
    result = page.evaluate(
        """(tags) => axe.run(document, {
             runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
           })""",
        WCAG21_AA,
    )
    return [
        Violation(
            rule=v["id"],
            impact=v["impact"],
            help=v["help"],
            targets=tuple(" ".join(map(str, n["target"])) for n in v["nodes"]),
        )
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]
