"""Reading gettext catalogues for the tests: the committed Korean .po, and a fresh extraction of the source.

The extraction is ``manage.py makemessages`` run on a copy of the source, so the committed catalogue is
never touched; docs/i18n.md gives the same command for regenerating it.
"""

import ast
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

ROOT = Path(settings.BASE_DIR)
KO_PO = ROOT / "portal" / "locale" / "ko" / "LC_MESSAGES" / "django.po"
KO_MO = KO_PO.with_suffix(".mo")
# Never user-facing, or not ours: the same folders docs/i18n.md tells makemessages to ignore.
IGNORED = {".venv", "tests", "bench", "var", "staticfiles", "build", "locale", "docs", "deploy"}
SOURCE_SUFFIXES = {".py", ".html", ".txt"}
MAKEMESSAGES_IGNORE = [".venv", "tests", "bench", "var", "staticfiles", "build", "*.egg-info"]


@dataclass
class Entry:
    msgid: str
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def translated(self) -> bool:
        return "fuzzy" not in self.flags and bool(self.msgstr) and all(self.msgstr.values())


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def read_po(path: Path) -> list[Entry]:
    """Every entry but the header; enough of the PO format for catalogues that xgettext and msgmerge write."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int | None] | None = None
    flags: set[str] = set()
    obsolete = False

    def finish() -> None:
        nonlocal current, flags, obsolete, target
        if current is not None and current.msgid != "":
            current.flags, current.obsolete = flags, obsolete
            entries.append(current)
        current, flags, obsolete, target = None, set(), False, None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#~"):
            obsolete, line = True, line[2:].strip()
        if not line:
            finish()
            continue
        if line.startswith("#,"):
            flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, value = match.group(1), match.group(2), ast.literal_eval(match.group(3))
            if keyword in ("msgctxt", "msgid") and current is not None and current.msgstr:
                finish()
            if current is None:
                current = Entry(msgid="")
            if keyword.startswith("msgstr"):
                target = ("msgstr", int(index or 0))
                current.msgstr[target[1]] = value
            else:
                target = (keyword, None)
                setattr(current, keyword, value)
        elif line.startswith('"') and current is not None and target is not None:
            value = ast.literal_eval(line)
            if target[0] == "msgstr":
                current.msgstr[target[1]] += value
            else:
                setattr(current, target[0], getattr(current, target[0]) + value)
    finish()
    return entries


def _copy_source(destination: Path) -> None:
    for path in ROOT.iterdir():
        if path.name.startswith(".") or path.name in IGNORED or path.name.endswith(".egg-info"):
            continue
        if path.is_file():
            if path.suffix in SOURCE_SUFFIXES:
                shutil.copy2(path, destination / path.name)
            continue
        for source in path.rglob("*"):
            if source.is_file() and source.suffix in SOURCE_SUFFIXES and "__pycache__" not in source.parts:
                copy = destination / source.relative_to(ROOT)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, copy)


def extract_messages(workdir: Path, monkeypatch) -> list[Entry]:
    """What ``makemessages -l ko`` finds in the source today, as a fresh catalogue under ``workdir``."""
    _copy_source(workdir)
    (workdir / "locale").mkdir()
    monkeypatch.chdir(workdir)
    # No LOCALE_PATHS: the only catalogue makemessages may write is the copy's.
    with override_settings(LOCALE_PATHS=[]):
        call_command(
            "makemessages", locale=["ko"], ignore_patterns=MAKEMESSAGES_IGNORE, no_location=True, verbosity=0
        )
    return read_po(workdir / "locale" / "ko" / "LC_MESSAGES" / "django.po")
