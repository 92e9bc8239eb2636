"""The console's words: every text a template or a page module shows through ``_()`` (or
as a flash or refusal message) is in the Chinese catalog, the language follows the browser,
and the filters write times, ages and money as the pages show them."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.console import i18n
from api.console.web import HTMX, age, money, span, when

CONSOLE = Path(__file__).resolve().parents[2] / "api" / "console"
# _("text") or _('text') in a template.
_TEMPLATE_TEXT = re.compile(r"""_\(\s*(["'])(.+?)\1\s*\)""")
# Calls in the page modules whose first text argument is shown to the user, translated.
_SHOWN = {"flash", "ConsoleRefusal", "refusal_page", "translate"}


def template_texts() -> dict[str, str]:
    found = {}
    for path in sorted((CONSOLE / "templates").rglob("*.html")):
        for match in _TEMPLATE_TEXT.finditer(path.read_text()):
            found[match.group(2)] = path.name
    return found


def code_texts() -> dict[str, str]:
    found = {}
    for path in sorted(CONSOLE.rglob("*.py")):
        if "lang" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in _SHOWN:
                continue
            for arg in node.args:
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and " " in arg.value
                ):
                    found[arg.value] = path.name
    return found


def test_every_text_the_pages_show_has_its_chinese() -> None:
    texts = {**template_texts(), **code_texts()}
    assert len(texts) > 20
    missing = sorted(
        f"{where}: {text!r}" for text, where in texts.items() if text not in i18n.ZH_CN
    )
    assert not missing, "add these to api/console/lang/zh_cn_*.py:\n" + "\n".join(missing)


def test_the_catalog_translates_and_leaves_unknown_text_in_english() -> None:
    chinese = i18n.translator("zh-CN")
    assert chinese("Sign in") == "登录"
    assert chinese("a text nobody wrote") == "a text nobody wrote"
    assert i18n.translator("en")("Sign in") == "Sign in"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("en-GB,en;q=0.9,zh-CN;q=0.8", "en"),
        ("de-DE,de;q=0.9,zh;q=0.8,en;q=0.5", "zh-CN"),
        ("de-DE,en;q=0.3,zh;q=0.2", "en"),
        ("en;q=0.1,zh;q=0.9", "zh-CN"),
        ("fr", "en"),
        ("", "en"),
        ("zh;q=bogus,en", "en"),
    ],
)
def test_the_language_is_the_browsers_first_choice_we_have(header: str, language: str) -> None:
    assert i18n.from_accept_language(header) == language


def test_times_ages_and_money_as_the_pages_write_them() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert when("2026-12-03T10:05:09+01:00") == "2026-12-03 09:05"
    assert when(None) == "" and when("not a time") == ""
    assert age(now - timedelta(seconds=42), now) == "42 s"
    assert age(now - timedelta(minutes=12, seconds=5), now) == "12 min"
    assert age(now - timedelta(hours=3), now) == "3 h"
    assert age(now - timedelta(hours=3, minutes=10), now) == "3 h 10 min"
    assert age(now - timedelta(days=4, hours=2), now) == "4 d 2 h"
    assert age(now + timedelta(minutes=5), now) == "0 s"
    assert money("1234.5", "EUR") == "1,234.50 EUR"
    assert money("0.125") == "0.125"
    assert money(None) == ""
    assert (span(42), span(750), span(9000), span(None)) == ("42 s", "12.5 min", "2.50 h", "\u2013")


def test_htmx_is_the_pinned_file_kept_here() -> None:
    import hashlib

    data = (CONSOLE / "static" / HTMX).read_bytes()
    assert hashlib.sha256(data).hexdigest() == (
        "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    )
    assert b"cdn" not in (CONSOLE / "templates" / "base.html").read_bytes().lower()
