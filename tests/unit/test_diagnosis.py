"""Naming why pods do not start, from pod status as the API returns it."""

from __future__ import annotations

from typing import Any

from readygate.judge.diagnosis import LOG_LINES, explain, explaining_line, find_problem, trim_log

GUNICORN_LOG = """[2026-01-01 00:00:00 +0000] [1] [INFO] Starting gunicorn 20.1.0
[2026-01-01 00:00:00 +0000] [7] [ERROR] Exception in worker process
Traceback (most recent call last):
  File "/app/app.py", line 12, in <module>
    import autocoder
ModuleNotFoundError: No module named 'autocoder'
[2026-01-01 00:00:00 +0000] [7] [INFO] Worker exiting (pid: 7)
[2026-01-01 00:00:01 +0000] [1] [INFO] Shutting down: Master
[2026-01-01 00:00:01 +0000] [1] [INFO] Reason: Worker failed to boot.""".splitlines()


def pod(name: str = "p", state: dict[str, Any] | None = None, last: dict[str, Any] | None = None,
        restarts: int = 0, conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    cs = {"name": "app", "restartCount": restarts, "state": state or {"running": {}},
          "lastState": last or {}}
    return {"metadata": {"name": name},
            "status": {"containerStatuses": [cs], "conditions": conditions or []}}


def test_first_crash_is_enough() -> None:
    p = find_problem([pod(state={"terminated": {"exitCode": 3, "reason": "Error"}})], 0)
    assert p is not None and p.reason == "CrashLoopBackOff" and p.exit_code == 3
    assert p.logs_previous is False  # the container is still the terminated one


def test_crash_loop_reads_the_previous_container() -> None:
    p = find_problem([pod(state={"waiting": {"reason": "CrashLoopBackOff"}},
                          last={"terminated": {"exitCode": 3}}, restarts=2)], 0)
    assert p is not None and p.reason == "CrashLoopBackOff" and p.logs_previous is True
    assert p.restart_count == 2


def test_oom_killed() -> None:
    p = find_problem([pod(state={"waiting": {"reason": "CrashLoopBackOff"}},
                          last={"terminated": {"exitCode": 137, "reason": "OOMKilled"}})], 0)
    assert p is not None and p.reason == "OOMKilled" and "memory limit" in p.message


def test_image_problems() -> None:
    never = find_problem([pod(state={"waiting": {"reason": "ErrImageNeverPull",
                                                 "message": "image x not present"}})], 0)
    assert never is not None and never.terminal and never.logs_previous is None
    transient = find_problem([pod(state={"waiting": {"reason": "ErrImagePull"}})], 0)
    assert transient is not None and not transient.terminal


def test_config_error() -> None:
    p = find_problem([pod(state={"waiting": {"reason": "CreateContainerConfigError",
                                             "message": 'secret "s" not found'}})], 0)
    assert p is not None and p.reason == "CreateContainerConfigError"
    assert 'secret "s" not found' in p.message


def test_unschedulable_waits_for_its_grace() -> None:
    unsched = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 Insufficient memory."}]
    early = find_problem([pod(conditions=unsched, state={})], 100, {"p": 95})
    late = find_problem([pod(conditions=unsched, state={})], 200, {"p": 95})
    assert early is not None and not early.terminal
    assert late is not None and late.terminal and "Insufficient memory" in late.message


def test_unschedulable_grace_is_the_callers() -> None:
    unsched = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu."}]
    p = find_problem([pod(conditions=unsched, state={})], 200, {"p": 95},
                     unschedulable_grace=300)
    assert p is not None and not p.terminal
    p = find_problem([pod(conditions=unsched, state={})], 95, {"p": 95}, unschedulable_grace=0)
    assert p is not None and p.terminal


def test_waiting_for_a_volume_binding_is_never_terminal() -> None:
    # what kube-scheduler 1.20 said in CI while the volume controller had not yet bound the claim
    waits = ["0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims.",
             "0/1 nodes are available: waiting for ephemeral volume controller to create the "
             "persistentvolumeclaim \"p-data\"."]
    for message in waits:
        unsched = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": message}]
        p = find_problem([pod(conditions=unsched, state={})], 10_000, {"p": 0})
        assert p is not None and p.reason == "Unschedulable" and not p.terminal
        assert p.message == message


def test_healthy_pods_have_no_problem() -> None:
    assert find_problem([pod(), pod("q")], 0) is None


def test_explaining_line_is_the_exception() -> None:
    assert explaining_line(GUNICORN_LOG) == "ModuleNotFoundError: No module named 'autocoder'"
    assert explaining_line(["starting", "fatal: cannot bind :80"]) == "fatal: cannot bind :80"
    assert explaining_line(["hello", "bye"]) is None


def test_explain_is_bounded() -> None:
    p = find_problem([pod(state={"terminated": {"exitCode": 3}})], 0)
    assert p is not None
    d = explain(p, ["x" * 1000] * 100 + GUNICORN_LOG)
    assert len(d.log_tail) == LOG_LINES and all(len(line) <= 300 for line in d.log_tail)
    assert d.message.endswith("ModuleNotFoundError: No module named 'autocoder'")
    assert trim_log(["", " ", "a"]) == ("a",)


def test_termination_message_is_the_fallback() -> None:
    p = find_problem([pod(state={"terminated": {"exitCode": 1}})], 0)
    assert p is not None
    d = explain(p, [], "boom\nRuntimeError: no config")
    assert d.message.endswith("RuntimeError: no config")


def test_a_replica_failure_is_an_admission_refusal() -> None:
    from readygate.judge.diagnosis import admission_refusal

    refused = {"kind": "Deployment", "metadata": {"name": "web"}, "status": {"conditions": [
        {"type": "Available", "status": "False"},
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
         "message": 'pods "web-1" is forbidden: violates PodSecurity "restricted:latest": '
                    'runAsNonRoot != true'}]}}
    found = admission_refusal(refused)
    assert found is not None and found.terminal and found.reason == "FailedCreate"
    assert 'violates PodSecurity "restricted:latest"' in found.message
    healthy = {"status": {"conditions": [{"type": "ReplicaFailure", "status": "False"}]}}
    assert admission_refusal(healthy) is None and admission_refusal({}) is None


def test_a_root_only_image_is_told_what_to_change() -> None:
    from readygate.api.results import Diagnosis
    from readygate.judge.diagnosis import with_non_root_hint

    crash = Diagnosis(reason="CrashLoopBackOff", message="container app exited with code 1: "
                      "PermissionError: [Errno 13] Permission denied: '/var/run/app.pid'",
                      pod="p", log_tail=("Traceback", "PermissionError: ..."))
    hinted = with_non_root_hint(crash, 65532)
    assert "UID 65532" in hinted.message and "securityContext.runAsUser" in hinted.message
    other = Diagnosis(reason="CrashLoopBackOff", message="ModuleNotFoundError: x", pod="p")
    assert with_non_root_hint(other, 65532) == other
