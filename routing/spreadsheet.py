"""CSV cells safe to open in a spreadsheet, and read back exactly as they were.

A cell starting with =, +, -, @, tab or carriage return is a formula to Excel, LibreOffice and
Google Sheets: a caller's words or an agent's name could run a command on a supervisor's
machine (`=cmd|' /C calc'!A0`). OWASP's rule: prefix such a cell with a single quote, which
spreadsheets show as text. A cell that already starts with a quote gets one more, so reading
back (strip one quote before a formula character or a quote) gives the exact text again.
A cell that is a plain number (an E.164 phone number, -1.5) runs nothing and stays as it is.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def safe_cell(value: Any) -> Any:
    """A value for a CSV cell: text that a spreadsheet would run gets a leading quote.

    Numbers and booleans the hotline computed stay as they are: they are not text anyone
    typed, and a negative number should stay a number.
    """
    if not isinstance(value, str) or not value.startswith((*FORMULA_STARTS, QUOTE)):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return QUOTE + value


def safe_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV row with every cell made safe."""
    return {name: safe_cell(value) for name, value in row.items()}


class SafeDictWriter(csv.DictWriter):
    """A csv.DictWriter whose every row goes through `safe_row`."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        """Write one row, cells made safe."""
        return super().writerow(safe_row(rowdict))

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        """Write rows, cells made safe."""
        for rowdict in rowdicts:
            self.writerow(rowdict)


def read_cell(text: str) -> str:
    """The text a `safe_cell` wrote: one leading quote before a formula character is dropped."""
    if text.startswith(QUOTE) and text[1:2] and text[1:].startswith((*FORMULA_STARTS, QUOTE)):
        return text[1:]
    return text
