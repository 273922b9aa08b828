"""HR termination reasons -> Genesys's attrition reason codes. Pure.

Genesys records why someone left as one of six codes (``stateChangeReason``,
see the reference §13). HR systems have their own words ("Resignation",
"End of Contract", "Dismissal"). A small YAML file maps one to the other:

    reason_codes:
      Resignation: Voluntary
      End of contract: Seasonal
      Gross misconduct: Conduct
    default: Unknown        # optional: for any value not listed

Keys match case-insensitively and ignoring surrounding spaces. A value that
already is a Genesys code needs no mapping. Parsed with the same safe loader
as the desired state; every problem is reported with its line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.core.desired.yamlload import YamlProblem, line_at, load_yaml
from reconciler.errors import Finding

__all__ = ["REASON_CODES", "ReasonMap", "parse_reason_map"]

REASON_CODES = ("Voluntary", "Seasonal", "Leave", "Performance", "Conduct", "Unknown")
_BY_KEY = {c.lower(): c for c in REASON_CODES}


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class ReasonMap:
    """HR value (normalised) -> Genesys code; ``default`` for values not listed (None: no code)."""

    codes: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    def code_for(self, hr_value: str) -> str | None:
        """The Genesys code for an HR value, or None when neither the map nor the value gives one."""
        key = _key(hr_value)
        if not key:
            return None
        if key in self.codes:
            return self.codes[key]
        if key in _BY_KEY:
            return _BY_KEY[key]
        return self.default


def _code(value: object, where: str, line: int | None, path: str, findings: list[Finding]) -> str | None:
    if isinstance(value, str) and value in REASON_CODES:
        return value
    findings.append(
        Finding(path, line, f"{where}: {value!r} is not a Genesys reason code (one of {', '.join(REASON_CODES)})")
    )
    return None


def parse_reason_map(text: str, path: str) -> tuple[ReasonMap, list[Finding]]:
    """The mapping file's text -> (map, problems located by line). Use the map only without problems."""
    findings: list[Finding] = []
    try:
        loaded = load_yaml(text)
    except YamlProblem as exc:
        return ReasonMap(), [exc.finding(path)]
    data, root = loaded.data, loaded.root
    if not isinstance(data, dict) or not isinstance(data.get("reason_codes"), dict):
        return ReasonMap(), [Finding(path, 1, "expected a mapping with a `reason_codes:` mapping inside")]
    for key in data:
        if key not in ("reason_codes", "default"):
            findings.append(Finding(path, line_at(root, [key]), f"unknown key {key!r} (reason_codes, default)"))
    codes: dict[str, str] = {}
    first: dict[str, str] = {}
    for hr_value, code in data["reason_codes"].items():
        line = line_at(root, ["reason_codes", hr_value])
        key = _key(hr_value)
        if not key:
            findings.append(Finding(path, line, "an empty HR reason cannot be mapped"))
            continue
        if key in first:
            findings.append(Finding(path, line, f"{hr_value!r} is the same reason as {first[key]!r}"))
            continue
        first[key] = hr_value
        checked = _code(code, repr(hr_value), line, path, findings)
        if checked:
            codes[key] = checked
    default = None
    if "default" in data:
        default = _code(data["default"], "default", line_at(root, ["default"]), path, findings)
    return ReasonMap(codes, default), findings
