"""Template parameters filled from the customer: ``"Hi {{customer.first_name|there}}"``.

Personalised openings work better than generic ones, so a campaign's first parameter is
usually the customer's name. A placeholder names a customer field and, after ``|``, the text
to use when the field is unknown (a customer who never wrote to us has no profile name).
Fields are checked when the spec is loaded, not at the first send.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipeline.campaigns.errors import CampaignSpecError


def _first_name(profile_name: str | None) -> str | None:
    if not profile_name:
        return None
    first = profile_name.split()[0] if profile_name.split() else ""
    return first or None


def _profile_name(profile_name: str | None) -> str | None:
    return profile_name.strip() or None if profile_name else None


#: Customer fields a parameter may use. The phone number is deliberately not one of them.
CUSTOMER_FIELDS: Mapping[str, Callable[[str | None], str | None]] = {
    "profile_name": _profile_name,
    "first_name": _first_name,
}

_PLACEHOLDER = re.compile(r"\{\{\s*customer\.(?P<field>[A-Za-z_]+)\s*(?:\|(?P<default>[^}]*))?\}\}")
_ANY_BRACES = re.compile(r"\{\{.*?\}\}")


@dataclass(frozen=True, slots=True)
class ParameterTemplate:
    """One template parameter: literal text with customer placeholders."""

    text: str

    @classmethod
    def parse(cls, text: str, *, where: str) -> ParameterTemplate:
        for match in _ANY_BRACES.finditer(text):
            placeholder = _PLACEHOLDER.fullmatch(match.group(0))
            if placeholder is None:
                raise CampaignSpecError(
                    f"{where}: cannot read placeholder {match.group(0)!r}; write "
                    "{{customer.FIELD}} or {{customer.FIELD|fallback}} with FIELD one of "
                    f"{', '.join(CUSTOMER_FIELDS)}"
                )
            if placeholder.group("field") not in CUSTOMER_FIELDS:
                raise CampaignSpecError(
                    f"{where}: unknown customer field {placeholder.group('field')!r}; use one "
                    f"of {', '.join(CUSTOMER_FIELDS)}"
                )
        return cls(text)

    @property
    def is_literal(self) -> bool:
        return "{{" not in self.text  # parse() refused any other use of braces

    def render(self, *, profile_name: str | None) -> str:
        def fill(match: re.Match[str]) -> str:
            value = CUSTOMER_FIELDS[match.group("field")](profile_name)
            return value if value is not None else (match.group("default") or "").strip()

        return _PLACEHOLDER.sub(fill, self.text)


def render_all(
    parameters: tuple[ParameterTemplate, ...], *, profile_name: str | None
) -> tuple[str, ...]:
    return tuple(
        p.text if p.is_literal else p.render(profile_name=profile_name) for p in parameters
    )


__all__ = ["CUSTOMER_FIELDS", "ParameterTemplate", "render_all"]
