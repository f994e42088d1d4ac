"""``wapipe demo``: the whole system on the embedded default, ending with a report."""

from pipeline.demo.run import DemoOutcome, run_demo
from pipeline.demo.scenario import DemoScenario

__all__ = ["DemoOutcome", "DemoScenario", "run_demo"]
