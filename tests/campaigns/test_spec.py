"""Campaign files: the examples load, every field is checked, JSON round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.campaigns.errors import CampaignSpecError, SegmentSyntaxError
from pipeline.campaigns.parameters import ParameterTemplate, render_all
from pipeline.campaigns.segments import parse_segment
from pipeline.campaigns.spec import CampaignSpec, load_spec
from pipeline.policy.send_windows import DEFAULT_WINDOWS, LocalWindow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "campaigns"
BASE = {
    "id": "c1",
    "business_number_id": "100",
    "template": {"name": "t", "language": "en_US", "parameters": ["{{customer.first_name}}"]},
}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_loads_and_survives_the_json_round_trip(path: Path) -> None:
    spec = load_spec(path)
    assert CampaignSpec.from_json(spec.to_json()) == spec


def test_the_vip_example_reads_as_written() -> None:
    spec = load_spec(EXAMPLES / "vip-spring-sale.yaml")
    assert spec.segment == parse_segment("vip and not dormant")
    assert spec.segmentation == "value"
    assert spec.budget_micros == 150_000_000
    assert spec.send_windows is not None and spec.send_windows.windows == DEFAULT_WINDOWS
    assert [(v.name, v.weight, v.template.name) for v in spec.variants] == [
        ("A", 50, "spring_sale"),
        ("B", 50, "spring_sale_b"),
    ]
    # Variant B keeps the base language and overrides the parameters.
    assert spec.variants[1].template.language == "en_US"
    assert spec.variants[1].template.parameters[1].text == "a gift with your next order"


def test_schedule_windows_and_untargeted_defaults() -> None:
    scheduled = load_spec(EXAMPLES / "monthly-or-high-value.yaml")
    assert scheduled.start_ms == 1_748_826_000_000  # 2025-06-02 01:00 UTC
    everyone = load_spec(EXAMPLES / "everyone.yaml")
    assert everyone.segment is None and everyone.segmentation == "none"
    assert everyone.send_windows is None  # [] = any time
    custom = CampaignSpec.from_mapping({**BASE, "send_windows": "9-11:30"})
    assert custom.send_windows is not None
    assert custom.send_windows.windows == (LocalWindow(start_minute=540, end_minute=690),)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": None}, "id is required"),
        ({"id": "two words"}, "must not contain spaces"),
        ({"category": "promo"}, "category 'promo' must be one of marketing"),
        ({"template": "hello"}, "template must be a mapping"),
        ({"template": {"language": "en"}}, "template.name is required"),
        ({"template": {"name": "t", "parameters": ["{{customer.phone}}"]}}, "unknown customer"),
        ({"template": {"name": "t", "parameters": ["{{ name }}"]}}, "cannot read placeholder"),
        ({"schedule": {"start": "tomorrow"}}, "not an ISO time"),
        ({"schedule": {"start": "2025-06-01T10:00:00"}}, "needs a UTC offset"),
        ({"send_windows": ["10-twelve"]}, "send_windows: bad send window"),
        ({"default_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"budget_usd": "lots"}, "budget_usd must be a number"),
        ({"budget_usd": 0}, "budget_usd must be > 0"),
        ({"variants": [{"name": "A", "weight": 0}]}, r"variants\[0\].weight must be > 0"),
        ({"variants": [{"name": "A"}, {"name": "A"}]}, "variant names must be unique"),
        ({"segmentation": "vibes"}, "segmentation 'vibes' must be one of"),
        ({"audience": "all"}, "unknown campaign field"),
    ],
)
def test_bad_fields_are_named_with_the_fix(change: dict[str, object], message: str) -> None:
    with pytest.raises(CampaignSpecError, match=message):
        CampaignSpec.from_mapping({**BASE, **change})


def test_a_bad_segment_in_a_file_names_the_file_and_the_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: c\nbusiness_number_id: '1'\ntemplate: {name: t}\nsegment: vip and\n")
    with pytest.raises(SegmentSyntaxError, match="position 7") as caught:
        load_spec(path)
    assert str(path) in str(caught.value)


def test_not_yaml_and_missing_files_are_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(CampaignSpecError, match="cannot read campaign file"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n")
    with pytest.raises(CampaignSpecError, match="not valid YAML"):
        load_spec(bad)


def test_parameters_use_the_name_or_the_fallback() -> None:
    params = (
        ParameterTemplate.parse("Hi {{customer.first_name|there}}!", where="p"),
        ParameterTemplate.parse("{{customer.profile_name}}", where="p"),
        ParameterTemplate.parse("20%", where="p"),
    )
    assert render_all(params, profile_name="Min-jun Kim") == ("Hi Min-jun!", "Min-jun Kim", "20%")
    assert render_all(params, profile_name=None) == ("Hi there!", "", "20%")
    assert render_all(params, profile_name="   ") == ("Hi there!", "", "20%")


def test_segmentation_strategy_follows_the_tag_family() -> None:
    def strategy(segment: str) -> str:
        return CampaignSpec.from_mapping({**BASE, "segment": segment}).segmentation

    assert strategy("freq:monthly or freq:quarterly") == "frequency"
    assert strategy("heat:hot and not dormant") == "heat"
    assert strategy("vip") == "value"
    assert strategy("not opted-out") == "none"
    assert strategy("heat:hot and value:high") == "mixed"


def test_the_yaml_in_docs_campaigns_md_is_a_valid_campaign() -> None:
    doc = (EXAMPLES.parents[1] / "docs" / "campaigns.md").read_text()
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    campaign = CampaignSpec.from_mapping(yaml.safe_load(block))
    assert campaign.id == "vip-spring-sale" and len(campaign.variants) == 2
    message = doc.split("```\nbad segment", 1)[1].split("```", 1)[0]
    with pytest.raises(SegmentSyntaxError) as caught:
        parse_segment("vip and (dormant")
    assert str(caught.value).startswith("bad segment" + message.splitlines()[0])
