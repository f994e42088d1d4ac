"""Campaign errors, under wapipe's root error.

WapipeError
└── CampaignError              a campaign cannot be launched, estimated or shown
    └── CampaignSpecError      the campaign file is wrong (names the field and the fix)
        └── SegmentSyntaxError the segment expression does not parse (position, expected)
"""

from __future__ import annotations

from pipeline.errors import WapipeError


class CampaignError(WapipeError):
    """A campaign cannot be launched, estimated or shown."""


class CampaignSpecError(CampaignError):
    """A campaign file that cannot be used; the message names the field and the fix."""


class SegmentSyntaxError(CampaignSpecError):
    """A segment expression that does not parse; says where and what was expected."""

    def __init__(self, text: str, position: int, expected: str, found: str) -> None:
        self.text = text
        self.position = position
        self.expected = expected
        self.found = found
        caret = " " * position + "^"
        super().__init__(
            f"bad segment expression at position {position}: expected {expected}, found "
            f"{found}\n  {text}\n  {caret}\nwrite tags joined by and/or/not, e.g. "
            "'vip and not dormant' or '(freq:monthly or value:high) and not opted-out'"
        )


__all__ = ["CampaignError", "CampaignSpecError", "SegmentSyntaxError"]
