"""A WhatsApp Cloud API sandbox: Meta's send endpoint, rules and webhooks, with simulated
customers on an accelerated clock. See docs/sandbox.md.
"""

from pipeline.sandbox.clock import SandboxClock
from pipeline.sandbox.config import (
    BehaviourRates,
    BusinessNumber,
    DeliverySpec,
    PopulationSpec,
    SandboxConfig,
)
from pipeline.sandbox.record import SandboxRecord
from pipeline.sandbox.server import SandboxServer, run_sandbox, serve_sandbox
from pipeline.sandbox.templates import Template, TemplateCategory, TemplateRegistry, TemplateStatus
from pipeline.sandbox.world import SandboxWorld

__all__ = [
    "BehaviourRates",
    "BusinessNumber",
    "DeliverySpec",
    "PopulationSpec",
    "SandboxClock",
    "SandboxConfig",
    "SandboxRecord",
    "SandboxServer",
    "SandboxWorld",
    "Template",
    "TemplateCategory",
    "TemplateRegistry",
    "TemplateStatus",
    "run_sandbox",
    "serve_sandbox",
]
