"""The documents a newcomer reads name only what exists, and every setting there is."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["domain", "application", "infrastructure", "projections", "interfaces"]


def texts() -> dict[Path, str]:
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    files += [p for package in PRODUCT for p in (ROOT / package).rglob("*.py")]
    return {path: path.read_text() for path in files}


def test_every_document_it_refers_to_is_in_the_repository() -> None:
    for path, text in texts().items():
        for named in re.findall(r"\bdocs/[\w.-]+\.md\b", text):
            assert (ROOT / named).is_file(), f"{path.name} names {named}, which is missing"
        assert "DESIGN.md" not in text, f"{path.name} names a document the repository lacks"


def test_the_readme_documents_every_setting_the_service_reads() -> None:
    source = (ROOT / "infrastructure" / "settings.py").read_text()
    read = set(re.findall(r'self\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', source))
    read |= set(re.findall(r'self\.env\.get\("([A-Z][A-Z0-9_]+)"', source))
    readme = (ROOT / "README.md").read_text()
    assert len(read) > 30  # the patterns still find what settings.py reads

    missing = {name for name in read if not _documented(name, readme)}

    assert not missing, f"settings read but not in the README: {sorted(missing)}"


def _documented(name: str, readme: str) -> bool:
    """Named whole, or in a family's short form (``POSTGRES_HOST``, ``_PORT``)."""
    if f"`{name}`" in readme:
        return True
    return "_" in name and f"`_{name.split('_', 1)[1]}`" in readme
