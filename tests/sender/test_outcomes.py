"""Every outcome through the real broker, a real sender worker and the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.events import CampaignControl, ConsentChange, SendResult
from pipeline.runtime.broker import EmbeddedBroker
from pipeline.sandbox import SandboxConfig
from pipeline.topics import CAMPAIGNS, CONSENT, RESULTS
from tests.sender.conftest import start_worker
from tests.sender.harness import (
    SandboxProcess,
    TopicReader,
    command,
    produce_commands,
    produce_events,
    worker_env,
)
from tests.support.workers import WorkerProcess

KR = "8210"  # Korean numbers: no per-user marketing cap, marketing templates delivered


def kr(n: int) -> str:
    return f"{KR}{n:08d}"


@pytest.fixture(scope="module")
def sandbox() -> SandboxProcess:
    # A tighter pair interval at the sandbox than the sender keeps would be a bug in the
    # sandbox, not the sender; 7 s here makes the sender's own 6.1 s gap trip 131056.
    box = SandboxProcess(SandboxConfig(throughput_per_s=5, pair_interval_s=7.0))
    yield box
    box.stop()


def results_by_command(results: list[SendResult]) -> dict[str, list[SendResult]]:
    out: dict[str, list[SendResult]] = {}
    for r in results:
        out.setdefault(r.command_id, []).append(r)
    return out


def test_outcomes_retries_and_opt_outs(
    broker: EmbeddedBroker,
    sandbox: SandboxProcess,
    tmp_path: Path,
    app_id: str,
    workers: list[WorkerProcess],
) -> None:
    bootstrap = broker.bootstrap_servers
    unreachable, stopped, opted_out, paused_customer = kr(900), kr(901), kr(902), kr(903)
    sandbox.customer(unreachable, reachable=False)
    sandbox.customer(stopped, marketing_stopped=True)
    produce_events(
        bootstrap,
        CONSENT,
        [
            (
                opted_out,
                ConsentChange(
                    event_id="c1",
                    customer=opted_out,
                    business_number_id=None,
                    consent="opted_out",
                    source="keyword",
                    ts_ms=1,
                ),
            )
        ],
    )
    produce_events(
        bootstrap,
        CAMPAIGNS,
        [("spring", CampaignControl(event_id="p1", campaign_id="spring", action="pause"))],
    )
    workers.append(
        start_worker(
            broker,
            tmp_path,
            app_id,
            worker_env(sandbox.base_url, WAPIPE_WHATSAPP_RATE_PER_S="20"),
            "sender",
        )
    )
    # 12 templates at 20/s into a sandbox allowing 5/s: 130429s that must be retried.
    burst = [command(kr(i)) for i in range(12)]
    # Two to one customer: the sandbox wants 7 s, the sender waits 6.1 s → 131056, retried.
    pair = [command(kr(500), command_id="pair-1"), command(kr(500), command_id="pair-2")]
    text_outside_window = command(
        kr(600), kind="text", command_id="text-131047", category="service"
    )
    undeliverable = command(unreachable, command_id="undeliverable-131026")
    stopped_marketing = command(
        stopped,
        category="marketing",
        template_name="spring_sale",
        template_params=("20%",),
        command_id="stopped-131050",
    )
    to_opted_out = command(
        opted_out,
        category="marketing",
        template_name="spring_sale",
        template_params=("20%",),
        command_id="opted-out",
    )
    of_paused = command(
        paused_customer,
        category="marketing",
        template_name="spring_sale",
        template_params=("20%",),
        campaign_id="spring",
        command_id="paused",
    )
    expired = command(kr(700), command_id="expired", expires_at_ms=1)
    everything = [
        *burst,
        *pair,
        text_outside_window,
        undeliverable,
        stopped_marketing,
        to_opted_out,
        of_paused,
        expired,
    ]
    produce_commands(bootstrap, everything)

    results = TopicReader(bootstrap, RESULTS)
    consent = TopicReader(bootstrap, CONSENT)
    try:
        ids = {c.command_id for c in everything}
        results.wait_for(lambda ev: ids <= {r.command_id for r in ev}, timeout_s=45)
        by_id = results_by_command(results.events)
        assert all(len(v) == 1 for v in by_id.values()), "each command needs exactly one result"
        one = {k: v[0] for k, v in by_id.items()}

        burst_results = [one[c.command_id] for c in burst]
        assert all(r.outcome == "accepted" for r in burst_results), [
            (r.outcome, r.reason, r.error_code, r.attempts) for r in burst_results
        ]
        throttled = sandbox.requests(error_code=130429)
        assert throttled, "the sandbox at 5/s never refused: the 130429 retry was not exercised"
        assert max(one[c.command_id].attempts for c in burst) >= 2

        assert one["pair-1"].outcome == one["pair-2"].outcome == "accepted"
        assert sandbox.requests(error_code=131056), "the pair-rate retry was not exercised"

        for cid, code in (("text-131047", 131047), ("undeliverable-131026", 131026)):
            # Retryable refusals (the sandbox's 5/s limit, pair rate) may come first; they
            # count as attempts. The permanent error must be the last request, never retried.
            tried = [r for r in sandbox.requests() if r.biz_opaque_callback_data == cid]
            assert [r.error_code for r in tried][-1:] == [code], [r.error_code for r in tried]
            assert (one[cid].outcome, one[cid].error_code, one[cid].attempts) == (
                "rejected",
                code,
                len(tried),
            )
            assert (
                len(
                    [
                        r
                        for r in sandbox.requests(error_code=code)
                        if r.biz_opaque_callback_data == cid
                    ]
                )
                == 1
            ), f"{code} must not be retried"

        assert (one["stopped-131050"].outcome, one["stopped-131050"].error_code) == (
            "rejected",
            131050,
        )
        consent.wait_for(
            lambda ev: any(c.customer == stopped and c.consent == "opted_out" for c in ev),
            timeout_s=10,
        )
        assert (one["opted-out"].outcome, one["opted-out"].reason) == ("skipped", "opted-out")
        assert (one["paused"].outcome, one["paused"].reason) == ("skipped", "campaign-paused")
        assert one["expired"].outcome == "expired"
        sent = {r.biz_opaque_callback_data for r in sandbox.requests()}
        assert not sent & {"opted-out", "paused", "expired"}, "skipped commands reached the API"
    finally:
        results.close()
        consent.close()
