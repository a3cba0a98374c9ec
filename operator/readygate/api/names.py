"""The API's words, defined once: phases, verdicts, check results, run reasons.

``schema`` puts them into the CRD's enums; ``status``, ``judge.verdict``, ``control.plan`` and
``status.metrics`` read them from here. Pure constants.
"""

from __future__ import annotations

from typing import Literal

# status.phase: Pending -> Deploying -> Verifying -> one of the terminal phases
PHASES = ("Pending", "Deploying", "Verifying", "Passed", "Failed", "Inconclusive", "Error")
TERMINAL_PHASES = frozenset({"Passed", "Failed", "Inconclusive", "Error"})
# status.verdict: the terminal phases, plus Conditional (passed with warnings the spec named)
VERDICTS = ("Passed", "Conditional", "Failed", "Inconclusive", "Error")
# status.checks[].result
Result = Literal["Passed", "Failed", "Inconclusive", "Error", "Running", "Pending", "Skipped"]
RESULTS = ("Passed", "Failed", "Inconclusive", "Error", "Running", "Pending", "Skipped")
FINAL_RESULTS = frozenset({"Passed", "Failed", "Inconclusive", "Error"})
# why a run started (status.history, the Reconciling condition's reason)
RunReason = Literal["NewGeneration", "Resumed", "Periodic", "Retry", "Rerun"]
# runs of an unchanged spec: they touch no condition until they have their own verdict
QUIET_REASONS = frozenset({"Periodic", "Rerun"})
TARGET_KINDS = ("deploy", "workloadRef", "service", "url")
