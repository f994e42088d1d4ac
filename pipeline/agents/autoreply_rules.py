"""Keyword auto-reply rules: parsing the YAML, normalising text, deciding which rule fires.

Pure: no broker, no clock (time comes in as ``now_ms``), so ``wapipe rules test`` and the
agent give the same answer. Text is normalised before matching:

* NFKC folds width and compatibility forms (ＳＴＯＰ → STOP, ｶ → カ, ① → 1),
* ``casefold`` folds case (also ß → ss), and runs of whitespace become one space.

Match modes:

* ``contains``: the keyword appears anywhere.
* ``word``: the keyword appears as a whole word. Word boundaries only exist between letters
  of scripts written with spaces; Chinese, Japanese and Korean keywords match inside
  running text (退订了 contains 退订; 할인은 starts with 할인), as people type them.
* ``regex``: a Python regular expression searched in the normalised text.

Built-in opt-out (STOP, UNSUBSCRIBE, 수신거부, 退订 …) and opt-in (START …) keywords fire
when the whole message, trimmed of punctuation, is the keyword: "stop" opts out, "don't stop
the deals" does not. They are checked before any rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from pipeline.errors import ConfigError

MatchMode = Literal["word", "contains", "regex"]
MODES: tuple[str, ...] = ("word", "contains", "regex")
OPT_OUT = "opt-out"
OPT_IN = "opt-in"

DEFAULT_OPT_OUT_KEYWORDS = ("stop", "unsubscribe", "수신거부", "退订", "取消订阅", "配信停止")
DEFAULT_OPT_IN_KEYWORDS = ("start", "subscribe", "수신동의", "订阅")
DEFAULT_OPT_OUT_REPLY = (
    "You will no longer receive promotions from us. Reply START to subscribe again. "
    "/ 광고 수신이 거부되었습니다. 다시 받으시려면 START를 보내 주세요."
)
DEFAULT_OPT_IN_REPLY = (
    "You are subscribed to our promotions again. Reply STOP to unsubscribe. "
    "/ 광고 수신에 동의하셨습니다. 그만 받으시려면 수신거부를 보내 주세요."
)

_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = " \t\n.!?,;:'\"()[]{}~-_。！？，、…"


def normalise(text: str) -> str:
    """NFKC (width and compatibility folding), case folding, single spaces, trimmed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", folded).strip()


def _spaced_word_char(ch: str) -> bool:
    """A letter or digit of a script that separates words with spaces (Latin, Cyrillic …)."""
    if not ch.isalnum():
        return False
    name = unicodedata.name(ch, "")
    return not name.startswith(("CJK", "HANGUL", "HIRAGANA", "KATAKANA", "THAI"))


def contains_word(text: str, keyword: str) -> bool:
    """``keyword`` in ``text`` (both normalised) with a word boundary where scripts need one."""
    start = text.find(keyword)
    while start != -1:
        end = start + len(keyword)
        left_ok = start == 0 or not (
            _spaced_word_char(text[start - 1]) and _spaced_word_char(keyword[0])
        )
        right_ok = end == len(text) or not (
            _spaced_word_char(text[end]) and _spaced_word_char(keyword[-1])
        )
        if left_ok and right_ok:
            return True
        start = text.find(keyword, start + 1)
    return False


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A text reply, or a template (name, language, parameters) with its category."""

    text: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    template_params: tuple[str, ...] = ()
    category: str = "service"

    def __post_init__(self) -> None:
        if (self.text is None) == (self.template_name is None):
            raise ValueError("a reply needs exactly one of text or template")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    rule_id: str
    keywords: tuple[str, ...]
    reply: Reply
    match: MatchMode = "word"
    language: str | None = None  # only messages detected in this language, when set
    cooldown_s: int = 3600  # per customer: the same rule answers one customer once per this
    _patterns: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    def matches(self, normalised_text: str) -> bool:
        if self.match == "regex":
            return any(p.search(normalised_text) for p in self._patterns)
        if self.match == "contains":
            return any(k in normalised_text for k in self.keywords)
        return any(contains_word(normalised_text, k) for k in self.keywords)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What a message triggers: a rule (or opt-out/opt-in), and whether cooldown holds it."""

    rule_id: str
    reply: Reply
    consent: str | None = None  # "opted_out" / "opted_in" for the built-ins
    cooling_down: bool = False


def detect_language(text: str) -> str:
    """A script-based guess, enough to pick a rule: ko, ja, zh or en (everything else)."""
    for ch in text:
        name = unicodedata.name(ch, "")
        if name.startswith("HANGUL"):
            return "ko"
        if name.startswith(("HIRAGANA", "KATAKANA")):
            return "ja"
    if any(unicodedata.name(ch, "").startswith("CJK UNIFIED") for ch in text):
        return "zh"
    return "en"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleBook:
    rules: tuple[Rule, ...] = ()
    opt_out_keywords: frozenset[str] = frozenset(normalise(k) for k in DEFAULT_OPT_OUT_KEYWORDS)
    opt_in_keywords: frozenset[str] = frozenset(normalise(k) for k in DEFAULT_OPT_IN_KEYWORDS)
    opt_out_reply: Reply = Reply(text=DEFAULT_OPT_OUT_REPLY)
    opt_in_reply: Reply = Reply(text=DEFAULT_OPT_IN_REPLY)

    def decide(
        self,
        text: str | None,
        *,
        last_reply_ms: Mapping[str, int] | None = None,
        now_ms: int = 0,
    ) -> Verdict | None:
        """The verdict for ``text``; ``last_reply_ms``: rule id → last reply to this customer."""
        if not text:
            return None
        normalised = normalise(text)
        bare = normalised.strip(_EDGE_PUNCTUATION)
        if bare in self.opt_out_keywords:
            return Verdict(rule_id=OPT_OUT, reply=self.opt_out_reply, consent="opted_out")
        if bare in self.opt_in_keywords:
            return Verdict(rule_id=OPT_IN, reply=self.opt_in_reply, consent="opted_in")
        language = detect_language(normalised)
        for rule in self.rules:
            if rule.language is not None and rule.language != language:
                continue
            if rule.matches(normalised):
                last = (last_reply_ms or {}).get(rule.rule_id)
                cooling = last is not None and now_ms - last < rule.cooldown_s * 1000
                return Verdict(rule_id=rule.rule_id, reply=rule.reply, cooling_down=cooling)
        return None


# --- YAML ------------------------------------------------------------------------------------
def _reply(doc: Any, where: str) -> Reply:
    if isinstance(doc, str):
        return Reply(text=doc)
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: reply must be text or a mapping with text or template")
    template = doc.get("template")
    try:
        if template is not None:
            if not isinstance(template, dict) or "name" not in template:
                raise ValueError("template needs a name")
            return Reply(
                template_name=str(template["name"]),
                template_language=str(template.get("language", "en_US")),
                template_params=tuple(str(p) for p in template.get("params", ())),
                category=str(doc.get("category", "utility")),
            )
        return Reply(text=str(doc["text"]), category=str(doc.get("category", "service")))
    except (KeyError, ValueError) as exc:
        raise ConfigError(
            f"{where}: bad reply ({exc}); give text: or template: {{name:}}"
        ) from None


def _rule(doc: Any, index: int) -> Rule:
    where = f"rule #{index + 1}"
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a mapping with id, keywords, reply")
    rule_id = str(doc.get("id") or f"rule-{index + 1}")
    where = f"rule {rule_id!r}"
    keywords = doc.get("keywords")
    if isinstance(keywords, str):
        keywords = [keywords]
    if not keywords or not isinstance(keywords, list):
        raise ConfigError(f"{where}: keywords must be a non-empty list")
    mode = str(doc.get("match", "word"))
    if mode not in MODES:
        raise ConfigError(f"{where}: match must be one of {', '.join(MODES)}, got {mode!r}")
    patterns: tuple[re.Pattern[str], ...] = ()
    normalised = tuple(normalise(str(k)) for k in keywords)
    if mode == "regex":
        try:
            patterns = tuple(re.compile(str(k)) for k in keywords)
        except re.error as exc:
            raise ConfigError(f"{where}: bad regular expression: {exc}") from None
    cooldown = doc.get("cooldown_s", 3600)
    if not isinstance(cooldown, int) or cooldown < 0:
        raise ConfigError(f"{where}: cooldown_s must be a whole number of seconds ≥ 0")
    language = doc.get("language")
    return Rule(
        rule_id=rule_id,
        keywords=normalised,
        reply=_reply(doc.get("reply"), where),
        match=mode,  # type: ignore[arg-type]  # checked against MODES above
        language=None if language in (None, "any") else str(language),
        cooldown_s=cooldown,
        _patterns=patterns,
    )


def _keywords(values: Iterable[Any] | None, default: Sequence[str]) -> frozenset[str]:
    return frozenset(normalise(str(v)) for v in (values if values is not None else default))


def parse_rules(text: str, *, source: str = "rules") -> RuleBook:
    """Build a :class:`RuleBook` from YAML; :class:`ConfigError` says what to fix."""
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc}); fix the file") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a mapping with 'rules:' at the top")
    raw_rules = doc.get("rules") or []
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{source}: 'rules' must be a list")
    rules = tuple(_rule(r, i) for i, r in enumerate(raw_rules))
    ids = [r.rule_id for r in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1} | ({OPT_OUT, OPT_IN} & set(ids)))
    if duplicates:
        raise ConfigError(f"{source}: rule ids must be unique and not built-in: {duplicates}")
    opt_out = doc.get("opt_out") or {}
    opt_in = doc.get("opt_in") or {}
    return RuleBook(
        rules=rules,
        opt_out_keywords=_keywords(opt_out.get("keywords"), DEFAULT_OPT_OUT_KEYWORDS),
        opt_in_keywords=_keywords(opt_in.get("keywords"), DEFAULT_OPT_IN_KEYWORDS),
        opt_out_reply=_reply(opt_out.get("reply", DEFAULT_OPT_OUT_REPLY), "opt_out"),
        opt_in_reply=_reply(opt_in.get("reply", DEFAULT_OPT_IN_REPLY), "opt_in"),
    )


def load_rules(path: Path) -> RuleBook:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read auto-reply rules {path} ({exc.strerror}); set WAPIPE_AUTOREPLY_RULES_PATH"
        ) from None
    return parse_rules(text, source=str(path))
