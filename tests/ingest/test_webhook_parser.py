"""parse_webhook on Meta's documented payloads, on batches with bad items, and on junk."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import topics
from pipeline.errors import PayloadError
from pipeline.events import Alarm, ConsentChange, DeliveryReceipt, InboundMessage
from pipeline.ingest.webhook_parser import ParsedWebhook, parse_webhook
from pipeline.schemas.codec import AvroEventCodec
from tests.ingest import meta_examples as meta

RECEIVED_MS = 1_750_000_000_000
CODEC = AvroEventCodec()


def parse(payload: Any) -> ParsedWebhook:
    return parse_webhook(meta.body_of(payload), received_ms=RECEIVED_MS)


def only_event(parsed: ParsedWebhook) -> Any:
    assert not parsed.dead_letters, [d.reason for d in parsed.dead_letters]
    assert len(parsed.events) == 1, parsed.events
    return parsed.events[0]


def test_inbound_text_message() -> None:
    out = only_event(parse(meta.envelope(meta.messages_value(meta.text_message()))))
    assert out.topic is topics.INBOUND
    assert out.key == meta.CUSTOMER
    assert out.event == InboundMessage(
        event_id=meta.text_message()["id"],
        business_number_id=meta.PHONE_NUMBER_ID,
        customer=meta.CUSTOMER,
        profile_name="Sheena Nelson",
        type="text",
        text="Does it come in another color?",
        ts_ms=1_749_416_383_000,
        ingested_ms=RECEIVED_MS,
    )


def test_interactive_button_reply_keeps_payload_and_context() -> None:
    event = only_event(
        parse(meta.envelope(meta.messages_value(meta.interactive_button_reply())))
    ).event
    assert (event.type, event.payload, event.text) == ("interactive", "cancel-button", "Cancel")
    assert event.context_id == "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"


def test_interactive_list_reply() -> None:
    event = only_event(
        parse(meta.envelope(meta.messages_value(meta.interactive_list_reply())))
    ).event
    assert (event.payload, event.text) == ("priority_express", "Express Shipping")


def test_template_quick_reply_button() -> None:
    event = only_event(parse(meta.envelope(meta.messages_value(meta.template_quick_reply())))).event
    assert (event.type, event.payload, event.text) == ("button", "Unsubscribe", "Unsubscribe")
    assert event.context_id == "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA"


def test_media_message_keeps_media_id_mime_type_and_caption() -> None:
    event = only_event(parse(meta.envelope(meta.messages_value(meta.image_message())))).event
    assert (event.media_id, event.mime_type, event.text) == (
        "1003383421387256",
        "image/jpeg",
        "Is this in stock?",
    )


@pytest.mark.parametrize(
    "kind, body",
    [
        ("location", {"latitude": 37.48, "longitude": -122.14, "name": "Philz Coffee"}),
        ("contacts", [{"name": {"formatted_name": "Barbara Johnson"}}]),
        (
            "order",
            {"catalog_id": "194836987003835", "text": "Is this in stock?", "product_items": []},
        ),
        ("unsupported", None),
        ("a_type_meta_adds_next_year", {"anything": [1, 2, 3]}),
    ],
)
def test_types_without_flat_fields_keep_type_and_raw_json(kind: str, body: Any) -> None:
    message = {**meta.text_message(), "type": kind}
    del message["text"]
    if body is not None:
        message[kind] = body
    event = only_event(parse(meta.envelope(meta.messages_value(message)))).event
    assert event.type == kind
    assert json.loads(event.raw_json) == message


def test_reaction_points_at_the_message_reacted_to() -> None:
    message = {
        **meta.text_message(),
        "type": "reaction",
        "reaction": {"message_id": "wamid.original", "emoji": "👍"},
    }
    event = only_event(parse(meta.envelope(meta.messages_value(message)))).event
    assert (event.text, event.context_id) == ("👍", "wamid.original")


def test_sent_status_with_pricing_conversation_and_callback_data() -> None:
    out = only_event(parse(meta.envelope(meta.statuses_value(meta.sent_status_with_pricing()))))
    wamid = meta.sent_status_with_pricing()["id"]
    assert out.topic is topics.STATUS
    assert out.event == DeliveryReceipt(
        event_id=f"{wamid}:sent",
        wamid=wamid,
        business_number_id=meta.PHONE_NUMBER_ID,
        customer=meta.CUSTOMER,
        status="sent",
        ts_ms=1_750_030_073_000,
        conversation_id="5c3fc3ec7e5e2b0b0a02f5ccaf03ce3d",
        conversation_category="marketing",
        conversation_expiration_ms=1_750_116_540_000,
        pricing_billable=True,
        pricing_model="PMP",
        pricing_type="regular",
        pricing_category="marketing",
        biz_opaque_callback_data="cmd-7f3a",
        ingested_ms=RECEIVED_MS,
    )


def test_v24_status_without_conversation_or_pricing() -> None:
    event = only_event(parse(meta.envelope(meta.statuses_value(meta.v24_read_status())))).event
    assert event.status == "read"
    assert event.conversation_id is None and event.pricing_billable is None


def test_failed_status_keeps_the_error() -> None:
    event = only_event(parse(meta.envelope(meta.statuses_value(meta.failed_status_131049())))).event
    assert (event.status, event.error_code) == ("failed", 131049)
    assert event.error_title.startswith("This message was not delivered")
    assert event.error_details.startswith("In order to maintain")


def test_receipt_ids_are_stable_per_wamid_and_status() -> None:
    first = parse(meta.envelope(meta.statuses_value(meta.v24_read_status())))
    again = parse(meta.envelope(meta.statuses_value(meta.v24_read_status())))
    assert first.events[0].event.event_id == again.events[0].event.event_id


def test_user_preferences_stop_is_an_opt_out() -> None:
    out = only_event(parse(meta.user_preferences_stop()))
    assert out.topic is topics.CONSENT and out.key == meta.CUSTOMER
    assert out.event == ConsentChange(
        event_id=f"user_preferences:{meta.CUSTOMER}:stop:1731705721000",
        customer=meta.CUSTOMER,
        business_number_id=meta.PHONE_NUMBER_ID,
        consent="opted_out",
        source="user_preferences",
        detail="User requested to stop marketing messages",
        ts_ms=1_731_705_721_000,
    )


def test_user_preferences_resume_is_an_opt_in() -> None:
    payload = meta.user_preferences_stop()
    payload["entry"][0]["changes"][0]["value"]["user_preferences"][0]["value"] = "resume"
    assert only_event(parse(payload)).event.consent == "opted_in"


def test_account_level_errors_fire_an_alarm() -> None:
    out = only_event(parse(meta.account_errors()))
    assert out.topic is topics.ALARMS
    assert isinstance(out.event, Alarm)
    assert (out.event.kind, out.event.state, out.event.scope) == (
        "account_error",
        "firing",
        f"number:{meta.PHONE_NUMBER_ID}",
    )
    assert out.key == out.event.alarm_id
    assert "unknown error" in out.event.detail


def test_whole_batch_is_read_and_a_bad_item_is_dead_lettered_alone() -> None:
    bad = {"from": meta.CUSTOMER, "id": "wamid.bad", "type": "text", "timestamp": "soon"}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": meta.WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": meta.messages_value(meta.text_message("wamid.1"), bad),
                    },
                    {
                        "field": "messages",
                        "value": meta.statuses_value(meta.v24_read_status("wamid.2")),
                    },
                ],
            },
            {
                "id": meta.WABA_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": meta.messages_value(meta.template_quick_reply("wamid.3")),
                    }
                ],
            },
            "not an entry",
        ],
    }
    parsed = parse(payload)
    assert [o.event.event_id for o in parsed.events] == ["wamid.1", "wamid.2:read", "wamid.3"]
    reasons = sorted(d.reason for d in parsed.dead_letters)
    assert len(reasons) == 2
    assert any("timestamp" in r for r in reasons) and any("entry" in r for r in reasons)
    bad_letter = next(d for d in parsed.dead_letters if "timestamp" in d.reason)
    assert json.loads(bad_letter.raw) == bad
    assert {d.source for d in parsed.dead_letters} == {"webhook"}
    sent = list(parsed.outgoing())
    assert [o.topic for o in sent[-2:]] == [topics.DEADLETTER, topics.DEADLETTER]


def test_fields_wapipe_does_not_handle_are_kept_as_dead_letters() -> None:
    payload = meta.envelope(
        {"event": "APPROVED", "message_template_id": 1}, field="message_template_status_update"
    )
    parsed = parse(payload)
    assert not parsed.events
    assert "not handled" in parsed.dead_letters[0].reason


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b"[" * 100_000])
def test_a_body_that_is_not_json_is_refused_whole(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_webhook(body, received_ms=RECEIVED_MS)


# --- properties --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
# Values that look like Meta's fields, so mutations reach the deep branches of the parser.
field_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "text",
            "button",
            "interactive",
            "image",
            "sent",
            "read",
            "failed",
            "stop",
            "resume",
            "1749416383",
            meta.CUSTOMER,
            "+" + meta.CUSTOMER,
            "\ud800",
            "99999999999999999999",
        ]
    ),
)
VALID_ITEMS = [
    ("messages", meta.text_message),
    ("messages", meta.interactive_button_reply),
    ("messages", meta.interactive_list_reply),
    ("messages", meta.template_quick_reply),
    ("messages", meta.image_message),
    ("statuses", meta.sent_status_with_pricing),
    ("statuses", meta.v24_read_status),
    ("statuses", meta.failed_status_131049),
]


def assert_all_encodable(parsed: ParsedWebhook) -> None:
    # What the parser lets through must be writable by the Avro codec at send time.
    for out in parsed.outgoing():
        CODEC.encode(out.event)
        assert isinstance(out.key, str) and out.key


@st.composite
def mutated_item(draw: st.DrawFn) -> dict[str, Any]:
    _list, make = draw(st.sampled_from(VALID_ITEMS))
    item = make()
    for _ in range(draw(st.integers(1, 3))):
        target = item
        nested = [k for k, v in item.items() if isinstance(v, dict)]
        if nested and draw(st.booleans()):
            target = item[draw(st.sampled_from(nested))]
        key = draw(st.sampled_from([*target.keys(), "extra"]))
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(field_values)
    return item


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk=st.lists(mutated_item() | json_values, max_size=6), seed=st.randoms())
def test_bad_items_never_cost_the_valid_items_beside_them(junk: list[Any], seed: Any) -> None:
    valid = [make() for _list, make in VALID_ITEMS]
    messages = [dict(v, id=f"wamid.valid.{n}") for n, v in enumerate(valid[:5])]
    statuses = [dict(v, id=f"wamid.valid.{n}") for n, v in enumerate(valid[5:], start=5)]
    mixed_messages = messages + junk
    mixed_statuses = statuses + junk
    seed.shuffle(mixed_messages)
    seed.shuffle(mixed_statuses)
    value = meta.messages_value(*mixed_messages)
    value["statuses"] = mixed_statuses
    parsed = parse(meta.envelope(value))
    ids = {o.event.event_id for o in parsed.events}
    expected = {m["id"] for m in messages} | {f"{s['id']}:{s['status']}" for s in statuses}
    assert expected <= ids
    # every item is accounted for: an event or a dead letter, never silently dropped
    assert len(parsed.events) + len(parsed.dead_letters) == len(mixed_messages) + len(
        mixed_statuses
    )
    assert_all_encodable(parsed)


@settings(max_examples=200, deadline=None)
@given(payload=json_values)
def test_any_json_is_parsed_or_dead_lettered_never_raises(payload: Any) -> None:
    parsed = parse(payload)
    assert parsed.events or parsed.dead_letters
    assert_all_encodable(parsed)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_byte_mutations_of_a_real_body_never_crash(data: st.DataObject) -> None:
    body = bytearray(meta.body_of(meta.envelope(meta.messages_value(meta.text_message()))))
    for _ in range(data.draw(st.integers(1, 5))):
        pos = data.draw(st.integers(0, len(body) - 1))
        body[pos] = data.draw(st.integers(0, 255))
    try:
        parsed = parse_webhook(bytes(body), received_ms=RECEIVED_MS)
    except PayloadError:
        return  # not JSON any more: refused as a whole with 400
    assert_all_encodable(parsed)
