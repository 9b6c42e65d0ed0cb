"""Plain output (no terminal, --no-color, NO_COLOR) is written without rich, and must be the very text
rich prints there: plan output is read by scripts and diffed by people."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from quayform.render import Printer

LINES = ["", "  + containers.web", "      ~ env.GREETING = \"hello\" -> \"bye\"", "tab\there", "bell\x07 back\x08 cr\r!",
         "vt\x0b ff\x0c end", "ünïcødé ✓ 日本", "[bold]not markup[/bold] :smile: http://x.y/z 12.5"]


def _rich(print_to: callable) -> str:
    stream = io.StringIO()
    print_to(Console(file=stream, no_color=True, force_terminal=False, highlight=False, markup=False, emoji=False,
                     soft_wrap=True))
    return stream.getvalue()


@pytest.mark.parametrize("text", LINES)
def test_a_plain_line_is_what_rich_prints(text: str) -> None:
    stream = io.StringIO()
    Printer(stream, color=False).line(text, style="green")
    assert stream.getvalue() == _rich(lambda console: console.print(text, style="green"))


def test_styled_parts_print_as_their_text_and_are_masked() -> None:
    stream = io.StringIO()
    Printer(stream, color=False, mask=lambda text: text.replace("s3cret", "(sensitive)")).parts(
        ("      ~ ", "yellow"), ("password = s3cret\r", None), ("  # forces replacement", "dim"))
    expected = _rich(lambda console: console.print(Text.assemble(("      ~ ", "yellow"), ("password = (sensitive)\r", None),
                                                                 ("  # forces replacement", "dim"))))
    assert stream.getvalue() == expected == "      ~ password = (sensitive)  # forces replacement\n"


def test_colour_goes_through_rich_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert Printer(io.StringIO(), color=True).console is None
    monkeypatch.setenv("FORCE_COLOR", "1")
    forced = Printer(io.StringIO(), color=True)
    assert forced.console is not None and forced.is_terminal
    assert Printer(io.StringIO(), color=False).console is None


def test_each_plain_line_is_flushed_as_rich_does() -> None:
    class Counting(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1
            super().flush()

    stream = Counting()
    printer = Printer(stream, color=False)
    printer.line("containers.web: Still creating... [10s elapsed]")
    printer.parts(("  + ", "green"), ("containers.db", None))
    assert stream.flushes == 2
