"""The Korean catalogue is complete and its compiled form is current.

A user-facing string marked for translation but missing from portal/locale/ko (or left empty or fuzzy) fails
here; docs/i18n.md says how to add it.
"""

import gettext
import shutil

import pytest

from tests.i18n.catalogue import KO_MO, KO_PO, extract_messages, read_po

needs_gettext = pytest.mark.skipif(
    not (shutil.which("xgettext") and shutil.which("msgmerge")),
    reason="needs GNU gettext (xgettext, msgmerge) to extract messages: apt-get install gettext",
)


def _describe(entries) -> str:
    return "\n".join(f"  {entry.msgid!r}" for entry in entries[:40]) + (
        f"\n  … and {len(entries) - 40} more" if len(entries) > 40 else ""
    )


@needs_gettext
def test_it_has_a_korean_translation_for_every_message_in_the_source(tmp_path, monkeypatch):
    extracted = extract_messages(tmp_path, monkeypatch)
    committed = {entry.key: entry for entry in read_po(KO_PO) if not entry.obsolete}
    assert extracted, "makemessages found no messages at all: the extraction itself is broken"

    missing = [entry for entry in extracted if entry.key not in committed]
    untranslated = [
        entry for entry in extracted if entry.key in committed and not committed[entry.key].translated
    ]
    assert not missing, (
        "messages in the source that portal/locale/ko/LC_MESSAGES/django.po lacks (run makemessages and translate "
        "them, docs/i18n.md):\n" + _describe(missing)
    )
    assert not untranslated, "messages with an empty or fuzzy Korean translation:\n" + _describe(untranslated)


def test_it_has_no_fuzzy_or_empty_entries_in_the_committed_catalogue():
    bad = [entry for entry in read_po(KO_PO) if not entry.obsolete and not entry.translated]
    assert not bad, "fix these entries of portal/locale/ko/LC_MESSAGES/django.po:\n" + _describe(bad)


def test_it_ships_a_compiled_catalogue_that_matches_the_po():
    """Compared entry by entry (not byte by byte), so any msgfmt version's output passes."""
    with KO_MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog  # noqa: SLF001 - the parsed catalogue itself
    expected = {}
    for entry in read_po(KO_PO):
        if entry.obsolete or not entry.translated:
            continue
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            expected[msgid] = entry.msgstr[0]
        else:
            expected.update({(msgid, index): text for index, text in entry.msgstr.items()})
    compiled = {key: value for key, value in compiled.items() if key != ""}
    assert compiled == expected, (
        "portal/locale/ko/LC_MESSAGES/django.mo is stale: run compilemessages (docs/i18n.md)"
    )
