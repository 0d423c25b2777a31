"""The formats a text field may require (its `format` property): numbers people copy
from documents, checked in full so a mistyped digit is caught when it is entered.

Each format is a check that answers None (fits) or what is wrong, and the shape
the OpenAPI document states as a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class TextFormat:
    description: str
    pattern: str
    problem: Callable[[str], str | None]


_MOBILE_CN = re.compile(r"1[3-9][0-9]{9}")
_POSTCODE_CN = re.compile(r"[0-9]{6}")
_ID_CARD_CN = re.compile(r"[1-9][0-9]{16}[0-9X]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _mobile_cn(text: str) -> str | None:
    if _MOBILE_CN.fullmatch(text):
        return None
    return "is not a mainland China mobile number: 11 digits starting with 13 to 19, such as 13800138000"


def _postcode_cn(text: str) -> str | None:
    if _POSTCODE_CN.fullmatch(text):
        return None
    return "is not a mainland China postcode: 6 digits, such as 100080"


def id_card_check_character(first17: str) -> str:
    """The 18th character of a resident ID number (ISO 7064 MOD 11-2)."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _id_card_cn(text: str) -> str | None:
    if not _ID_CARD_CN.fullmatch(text):
        return "is not a resident ID number: 18 characters, 17 digits and a digit or X"
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return f"is not a resident ID number: {text[6:14]} is not a date of birth"
    if born.year < 1900:
        return f"is not a resident ID number: {text[6:14]} is not a date of birth"
    if text[17] != id_card_check_character(text[:17]):
        return "is not a resident ID number: its check character does not match (a digit may be mistyped)"
    return None


TEXT_FORMATS: dict[str, TextFormat] = {
    "mobile_cn": TextFormat("Mainland China mobile number (11 digits)", r"^1[3-9][0-9]{9}$", _mobile_cn),
    "id_card_cn": TextFormat(
        "Mainland China resident ID number (18 characters, checked)", r"^[1-9][0-9]{16}[0-9X]$", _id_card_cn
    ),
    "postcode_cn": TextFormat("Mainland China postcode (6 digits)", r"^[0-9]{6}$", _postcode_cn),
}
