"""The dashboard's JavaScript libraries are vendored, versioned and licensed, served locally."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "src" / "baton" / "web" / "static"
VENDOR = STATIC / "vendor"
TEMPLATES = STATIC.parent / "templates"


def test_each_vendored_library_has_its_version_recorded_and_its_licence() -> None:
    record = (VENDOR / "VENDORED.md").read_text(encoding="utf-8")
    script = (STATIC.parent.parent.parent.parent / "tools" / "vendor_js.sh").read_text()
    assert "/*! https://github.com/leeoniya/uPlot (v1.6.32) */" in \
        (VENDOR / "uPlot.iife.min.js").read_text(encoding="utf-8")[:80]
    assert "| 1.6.32 |" in record and "uplot@1.6.32" in script
    assert "| 3.1.3 |" in record and "@dagrejs/dagre@3.1.3" in script
    for licence in ("uPlot.LICENSE", "dagre.LICENSE"):
        text = (VENDOR / licence).read_text(encoding="utf-8")
        assert "MIT" in text or "Permission is hereby granted" in text


def test_no_page_loads_anything_from_another_host() -> None:
    for page in TEMPLATES.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        outside = re.findall(r'(?:src|href)="(?:https?:)?//[^"]+"', text)
        assert outside == [], f"{page.name} loads {outside}"
