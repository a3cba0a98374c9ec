"""The pure judges of the later checks: security, resilience, persistence, stability, and the
Conditional verdict they can produce. Tables of inputs and the verdict each must give."""

from __future__ import annotations

import pytest

from readygate.api.quantity import format_bytes, parse_quantity
from readygate.api.results import CheckResult
from readygate.api.spec import HttpCall, ResilienceCheck, SecurityCheck, StabilityCheck
from readygate.judge.answers import Answer
from readygate.judge.persistence import Restart, judge_persistence, render
from readygate.judge.resilience import Disruption, judge_resilience, window_errors
from readygate.judge.security import banner_of, essentials, judge_security, stack_trace_of
from readygate.judge.stability import judge_stability, memory_of
from readygate.judge.verdict import decide
from readygate.load import LoadResult, Second

T = {"started_at": "a", "finished_at": "b"}
OK = Answer(status=200, body="{}")


def answer(status: int, body: str = "", **headers: str) -> Answer:
    return Answer(status=status, body=body, headers=tuple(headers.items()))


# -- security ------------------------------------------------------------------------------------
TRACE = 'Traceback (most recent call last):\n  File "/app/app.py", line 3, in f\nKeyError: 1'


@pytest.mark.parametrize(("auth_status", "result", "words"), [
    (401, "Passed", "1 protected path(s) refused"),
    (403, "Passed", "refused"),
    (200, "Failed", "GET /admin without credentials answered 200, not 401 or 403"),
    (404, "Failed", "no refusal (is the path right?)"),
])
def test_security_require_auth(auth_status: int, result: str, words: str) -> None:
    got = judge_security(SecurityCheck(require_auth=("/admin",)),
                         [("/admin", answer(auth_status))], [("/", OK)], **T)
    assert got.result == result and words in got.message


def test_security_unanswered_auth_path_fails() -> None:
    got = judge_security(SecurityCheck(require_auth=("/admin",)),
                         [("/admin", Answer(error="ConnectError"))], [("/", OK)], **T)
    assert got.result == "Failed" and "no answer (ConnectError)" in got.message


@pytest.mark.parametrize(("headers", "banner"), [
    ({"Server": "gunicorn/20.1.0"}, "Server: gunicorn/20.1.0"),
    ({"Server": "nginx"}, None),  # the software without a version is allowed
    ({"X-Powered-By": "Flask"}, "X-Powered-By: Flask"),
    ({"Content-Type": "text/plain"}, None),
])
def test_banners(headers: dict[str, str], banner: str | None) -> None:
    assert banner_of(answer(200, **headers)) == banner


@pytest.mark.parametrize(("status", "body", "found"), [
    (500, TRACE, "Traceback (most recent call last)"),
    (500, 'Exception in thread "main" java.lang.NullPointerException', 'Exception in thread "'),
    (500, "goroutine 1 [running]:\nmain.main()", "goroutine 1 [running]"),
    (500, '{"error": "internal"}', None),
    (200, TRACE, None),  # only error responses are judged
])
def test_stack_traces(status: int, body: str, found: str | None) -> None:
    assert stack_trace_of(answer(status, body)) == found


@pytest.mark.parametrize(("policy", "result", "warned"), [
    ("Fail", "Failed", False), ("Warn", "Passed", True), ("Ignore", "Passed", False)])
def test_security_policies(policy: str, result: str, warned: bool) -> None:
    spec = SecurityCheck(banners=policy, stack_traces=policy)
    probes = [("/", answer(200, Server="gunicorn/20.1.0")), ("/x", answer(500, TRACE))]
    got = judge_security(spec, [], probes, **T)
    assert got.result == result
    assert bool(got.warnings) == warned
    assert got.measured["stackTraceResponses"] == 1 and got.measured["bannerResponses"] == 1


STACKS = [TRACE, 'Exception in thread "main" java.lang.NullPointerException',
          "goroutine 1 [running]:\nmain.main()",
          "Error: boom\n    at Object.<anonymous> (/app/server.js:3:9)\n    at Module._compile",
          "\tat com.acme.Orders(Orders.java:42)", "#0 /var/www/index.php(12): f()",
          "   at Acme.Orders.Get() in /src/Orders.cs:line 42",
          'File "/' + "deep/" * 1000 + 'app.py", line 7, in handler']  # longer than it is kept


@pytest.mark.parametrize("policy", ["Fail", "Warn"])
def test_security_judges_the_essentials_of_answers_as_the_answers(policy: str) -> None:
    """The stage keeps only ``essentials`` of each answer: the verdict is the same."""
    noise = {f"X-Pad-{i}": "v" * 900 for i in range(60)}
    answers = [answer(500, "x" * 60_000 + stack + "y" * 4_000, **noise) for stack in STACKS]
    answers += [answer(200, TRACE, Server="gunicorn/20.1.0", **noise),
                answer(404, "not found", Server="nginx"), answer(500, '{"error": "internal"}'),
                answer(401), Answer(error="timeout")]
    spec = SecurityCheck(require_auth=("/admin",), banners=policy, stack_traces=policy)
    auth = [("/admin", answers[-2])]
    probes = [(f"/p{i}", a) for i, a in enumerate(answers)]
    full = judge_security(spec, auth, probes, **T)
    kept = [(p, essentials(a)) for p, a in probes]
    assert judge_security(spec, [(p, essentials(a)) for p, a in auth], kept, **T) == full
    assert full.measured["stackTraceResponses"] == len(STACKS)
    assert all(a.body == "" and len(a.trace or "") <= 200 and len(a.headers) <= 1
               for _, a in kept)


def test_security_with_no_answer_is_inconclusive() -> None:
    got = judge_security(SecurityCheck(), [], [("/", Answer(error="timeout"))], **T)
    assert got.result == "Inconclusive"


# -- resilience ----------------------------------------------------------------------------------
def disruption(recovered_after: float | None) -> Disruption:
    return Disruption(killed=("web-1",), killed_at=1000.0,
                      recovered_at=None if recovered_after is None else 1000.0 + recovered_after,
                      desired=2, ready_at_end=1, answering_at_end=True)


@pytest.mark.parametrize(("after", "requests", "errors", "budget", "result", "words"), [
    (6.0, 300, 3, None, "Passed", "recovered in 6.0s after deleting 1 pod(s); 3 of 300"),
    (6.0, 300, 30, 0.05, "Failed", "over the error budget of 5%"),
    (6.0, 300, 3, 0.05, "Passed", "(1.0%)"),
    (None, 300, 3, None, "Failed", "not recovered within 60s"),
    (6.0, 0, 0, 0.05, "Inconclusive", "cannot be judged"),
    (90.0, 300, 0, None, "Failed", "slower than maxRecovery 60s"),
])
def test_resilience(after: float | None, requests: int, errors: int, budget: float | None,
                    result: str, words: str) -> None:
    spec = ResilienceCheck(max_recovery=60.0, max_error_rate=budget)
    got = judge_resilience(spec, disruption(after), requests, errors, **T)
    assert got.result == result and words in got.message
    if after is not None:
        assert got.measured["recoverySeconds"] == after


def test_window_errors_counts_whole_seconds_of_the_timeline() -> None:
    timeline = tuple(Second(t, 10, 1 if t in (5, 6) else 0) for t in range(10))
    result = LoadResult(model="open", duration=10, requests=100, timeline=timeline,
                        started=1000.0)
    assert window_errors(result, 1004.5, 1006.2) == (40, 2)  # seconds 4..7


# -- persistence ---------------------------------------------------------------------------------
WRITE = HttpCall(method="POST", path="/items", body='{"key": "k-{token}", "value": "{token}"}')
READ = HttpCall(path="/items/k-{token}")
RESTART = Restart(what="Deployment store", replaced=1, seconds=4.2)


def test_render() -> None:
    assert render(WRITE.body or "", "t1") == '{"key": "k-t1", "value": "t1"}'


@pytest.mark.parametrize(("wrote", "before", "restart", "after", "result", "words"), [
    (answer(201), answer(200, '"tok"'), RESTART, answer(200, '"tok"'), "Passed", "read back"),
    (answer(201), answer(200, '"tok"'), RESTART, answer(404, "not found"), "Failed",
     "the write was lost when Deployment store restarted: GET /items/k-tok -> 404"),
    (answer(500), None, None, None, "Failed", "the write failed: POST /items -> 500"),
    (answer(201), answer(404), None, None, "Failed", "even before the restart"),
    (answer(201), answer(200, '"tok"'), Restart("Deployment store", 1, None), None, "Error",
     "not Ready again within 120s"),
])
def test_persistence(wrote: Answer, before: Answer | None, restart: Restart | None,
                     after: Answer | None, result: str, words: str) -> None:
    got = judge_persistence(WRITE, READ, "tok", wrote=wrote, before=before, restart=restart,
                            after=after, within=120.0, **T)
    assert got.result == result and words in got.message, got.message


# -- stability -----------------------------------------------------------------------------------
MI = float(2**20)


def test_memory_of_picks_the_pods_containers() -> None:
    summary = {"pods": [
        {"podRef": {"name": "a", "namespace": "ns"},
         "containers": [{"name": "app", "memory": {"workingSetBytes": 5 * MI}}]},
        {"podRef": {"name": "b", "namespace": "other"},
         "containers": [{"name": "app", "memory": {"workingSetBytes": 9 * MI}}]}]}
    assert memory_of(summary, "ns", ["a", "b"]) == {"a/app": 5 * MI}


@pytest.mark.parametrize(("series", "restarts", "bound", "result", "words"), [
    ([40, 41, 42], 0, "20Mi", "Passed", "grew by at most 2.0Mi"),
    ([40, 60, 80], 0, "20Mi", "Failed", "grew by 40.0Mi during the load (bound 20Mi)"),
    ([40, 41, 42], 2, None, "Failed", "2 container restart(s)"),
    ([40], 0, "20Mi", "Inconclusive", "fewer than two memory samples"),
])
def test_stability(series: list[float], restarts: int, bound: str | None, result: str,
                   words: str) -> None:
    samples = [(float(i), {"p/app": v * MI}) for i, v in enumerate(series)]
    got = judge_stability(StabilityCheck(max_memory_growth=bound), samples, restarts, **T)
    assert got.result == result and words in got.message


def test_stability_ignores_pods_that_started_during_the_load() -> None:
    samples = [(0.0, {"old/app": 40 * MI}), (2.0, {"old/app": 41 * MI, "new/app": 10 * MI}),
               (4.0, {"old/app": 41 * MI, "new/app": 45 * MI})]
    got = judge_stability(StabilityCheck(max_memory_growth="20Mi"), samples, 0, **T)
    assert got.result == "Passed" and got.measured["memoryGrowthBytes"] == MI


@pytest.mark.parametrize(("text", "value"), [("64Mi", 64 * MI), ("1.5Gi", 1.5 * 2**30),
                                             ("500M", 5e8), ("100", 100.0)])
def test_quantity(text: str, value: float) -> None:
    assert parse_quantity(text) == value


def test_quantity_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity("lots")
    assert format_bytes(1536 * 1024) == "1.5Mi" and format_bytes(-2048) == "-2.0Ki"


# -- the verdict ---------------------------------------------------------------------------------
PASS = CheckResult(result="Passed", message="ok")
WARNED = CheckResult(result="Passed", message="ok", warnings=("banner",))


@pytest.mark.parametrize(("checks", "verdict", "score"), [
    ({"readiness": PASS, "security": PASS}, "Passed", 35),
    ({"readiness": PASS, "security": WARNED}, "Conditional", 30),
    ({"readiness": PASS, "security": CheckResult(result="Failed", message="x")}, "Failed", 25),
    ({"readiness": PASS, "load": CheckResult(result="Inconclusive", message="x")},
     "Inconclusive", 25),
])
def test_verdict_and_score(checks: dict[str, CheckResult], verdict: str, score: int) -> None:
    got = decide(checks)
    assert (got.result, got.score) == (verdict, score)
    assert "persistence" in got.not_checked
