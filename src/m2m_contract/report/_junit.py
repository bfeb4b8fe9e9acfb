"""JUnit XML: one test suite per scenario, one test case per check.

A failure is what fails the run; a skipped check, or a failure the baseline expects, is
`<skipped>`; a warning passes, with its message in `<system-out>`. Text is made visible first,
since XML 1.0 cannot carry most control characters at all.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from ._text import visible


def render_junit(model: Mapping[str, Any]) -> str:
    root = ET.Element("testsuites", name=f"m2m-contract {model.get('suite', 'conformance')}")
    checks: list[Mapping[str, Any]] = list(model.get("checks", []))
    failures = 0
    for sc in model.get("scenarios", []):
        own = [c for c in checks if c["scenario"] == sc["name"]]
        suite = ET.SubElement(
            root, "testsuite", name=visible(sc["name"]), tests=str(len(own)),
            time=f"{float(sc.get('duration', 0)):.3f}",
        )
        bad = 0
        for check in own:
            case = ET.SubElement(
                suite, "testcase", classname=f"m2m-contract.{visible(sc['name'])}",
                name=visible(check["id"]),
            )
            message = visible(
                f"{check['id']} ({check['severity']}, {check['clause']}): {check['message']}"
            )
            if check.get("baseline") == "stale":
                bad += 1
                ET.SubElement(case, "failure", message="stale baseline entry: the check passes "
                              "now; remove it from the baseline")
            elif check["status"] == "failed" and check.get("baseline") != "expected":
                bad += 1
                failure = ET.SubElement(case, "failure", message=message)
                failure.text = visible(check.get("evidence", ""), keep_newlines=True)
            elif check.get("baseline") == "expected":
                ET.SubElement(case, "skipped", message=f"expected by the baseline: {message}")
            elif check["status"] == "skipped":
                ET.SubElement(case, "skipped", message=message)
            elif check["status"] == "warning":
                ET.SubElement(case, "system-out").text = f"warning: {message}"
        suite.set("failures", str(bad))
        failures += bad
    root.set("failures", str(failures))
    root.set("tests", str(len(checks)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"
