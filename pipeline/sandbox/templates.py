"""The template registry: what Meta would know about the business's message templates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class TemplateStatus(StrEnum):
    APPROVED = "APPROVED"
    PAUSED = "PAUSED"
    REJECTED = "REJECTED"


class TemplateCategory(StrEnum):
    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    name: str
    language: str
    category: TemplateCategory
    status: TemplateStatus = TemplateStatus.APPROVED
    body_parameter_count: int = 0
    has_media_header: bool = False


DEFAULT_TEMPLATES: tuple[Template, ...] = (
    Template(name="hello_world", language="en_US", category=TemplateCategory.UTILITY),
    Template(
        name="order_shipped",
        language="en_US",
        category=TemplateCategory.UTILITY,
        body_parameter_count=2,
    ),
    Template(
        name="order_shipped",
        language="ko_KR",
        category=TemplateCategory.UTILITY,
        body_parameter_count=2,
    ),
    Template(
        name="spring_sale",
        language="en_US",
        category=TemplateCategory.MARKETING,
        body_parameter_count=1,
    ),
    Template(
        name="spring_sale",
        language="ko_KR",
        category=TemplateCategory.MARKETING,
        body_parameter_count=1,
    ),
    Template(
        name="new_arrivals",
        language="ko_KR",
        category=TemplateCategory.MARKETING,
        has_media_header=True,
    ),
    Template(
        name="login_code",
        language="en_US",
        category=TemplateCategory.AUTHENTICATION,
        body_parameter_count=1,
    ),
    Template(
        name="winter_promo",
        language="en_US",
        category=TemplateCategory.MARKETING,
        status=TemplateStatus.PAUSED,
        body_parameter_count=1,
    ),
    Template(
        name="bold_claims",
        language="en_US",
        category=TemplateCategory.MARKETING,
        status=TemplateStatus.REJECTED,
    ),
)


class TemplateRegistry:
    """Templates by (name, language); mutable so admin endpoints can pause or add one."""

    def __init__(self, templates: Iterable[Template] = DEFAULT_TEMPLATES) -> None:
        self._by_key: dict[tuple[str, str], Template] = {}
        for template in templates:
            self.put(template)

    def put(self, template: Template) -> None:
        self._by_key[(template.name, template.language)] = template

    def get(self, name: str, language: str) -> Template | None:
        return self._by_key.get((name, language))

    def all(self) -> list[Template]:
        return list(self._by_key.values())
