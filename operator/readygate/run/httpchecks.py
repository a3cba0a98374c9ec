"""The checks that are a handful of HTTP requests around the target: security probes and the
persistence check (write, restart, read back).

Acting side of ``security`` and ``persistence`` (which judge): it sends the requests with the
``prober`` (httpx; bounded concurrency and count), restarts workloads through ``disruptor``, and
records the results through the runner. Header values from Secrets are read here and only sent;
they never appear in what is recorded.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from readygate.api.clock import utc_now
from readygate.api.results import CheckResult
from readygate.api.spec import Header, HttpCall
from readygate.judge.answers import Answer
from readygate.judge.persistence import Restart, judge_persistence, render
from readygate.judge.security import judge_security
from readygate.judge.targets import Endpoint, TargetError
from readygate.kube.client import KubeError
from readygate.run.disruptor import restart

if TYPE_CHECKING:
    from readygate.run.runner import CheckRunner

CONCURRENCY = 8
TIMEOUT = 5.0


async def _gather_limited(runner: CheckRunner, calls: Sequence[tuple[str, str]],
                          ) -> list[tuple[str, Answer]]:
    """GET each (label, url) with at most CONCURRENCY in flight."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(label: str, url: str) -> tuple[str, Answer]:
        async with gate:
            return label, await runner.prober.request("GET", url, timeout=TIMEOUT)

    return list(await asyncio.gather(*(one(label, url) for label, url in calls)))


async def run_security(runner: CheckRunner, endpoint: Endpoint) -> None:
    spec = runner.spec.security
    assert spec is not None
    started = utc_now()
    await runner.set_check("security", CheckResult(
        result="Running", message="probing for unauthenticated access, banners and stack traces",
        started_at=started))
    missing = f"/readygate-missing-{secrets.token_hex(4)}"
    auth = await _gather_limited(runner, [(p, endpoint.url(p)) for p in spec.require_auth])
    probe_calls = [(p, endpoint.url(p)) for p in spec.probe_paths for _ in range(spec.samples)]
    probe_calls.append((missing, endpoint.url(missing)))
    probes = await _gather_limited(runner, probe_calls)
    await runner.set_check("security", judge_security(spec, auth, probes, started_at=started,
                                                      finished_at=utc_now()))


async def _headers(runner: CheckRunner, headers: Sequence[Header]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in headers:
        if h.value is not None:
            out[h.name] = h.value
        elif h.value_from is not None:
            ref = h.value_from.secret_key_ref
            try:
                out[h.name] = await runner.rt.kube.secret_value(runner.namespace, ref.name,
                                                                ref.key)
            except KubeError as exc:
                raise _HeaderError(f"cannot read header {h.name} from Secret {ref.name} key "
                                   f"{ref.key}: {exc}") from exc
    return out


async def _call(runner: CheckRunner, endpoint: Endpoint, call: HttpCall, token: str) -> Answer:
    headers = await _headers(runner, call.headers)
    body = render(call.body, token).encode() if call.body is not None else None
    if body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return await runner.prober.request(call.method, endpoint.url(render(call.path, token)),
                                          headers=headers, body=body, timeout=TIMEOUT)


async def run_persistence(runner: CheckRunner, endpoint: Endpoint) -> None:
    spec = runner.spec.persistence
    assert spec is not None
    started = utc_now()
    token = secrets.token_hex(8)
    await runner.set_check("persistence", CheckResult(
        result="Running", message="writing a value through the service", started_at=started))

    try:
        wrote = await _call(runner, endpoint, spec.write, token)
        before = after = None
        restarted: Restart | None = None
        if wrote.ok:
            before = await _call(runner, endpoint, spec.read_back, token)
        if wrote.ok and before is not None and before.ok and token in before.body:
            target = ((spec.restart.kind, spec.restart.name) if spec.restart is not None
                      else endpoint.workload)
            if target is None:
                raise _NoWorkload
            await runner.set_check("persistence", CheckResult(
                result="Running", message=f"restarting {target[0]} {target[1]}",
                started_at=started))
            ready_url = endpoint.url(runner.spec.readiness.path)
            restarted = await restart(
                runner.rt.kube, runner.namespace, target, within=spec.within,
                probe=functools.partial(runner.prober.answers, ready_url, timeout=TIMEOUT))
            if restarted.seconds is not None:
                after = await _call(runner, endpoint, spec.read_back, token)
        result = judge_persistence(spec.write, spec.read_back, token, wrote=wrote,
                                   before=before, restart=restarted, after=after,
                                   within=spec.within, started_at=started,
                                   finished_at=utc_now())
    except TargetError as exc:
        result = CheckResult(result="Error", message=f"cannot restart: {exc}",
                             started_at=started, finished_at=utc_now())
    except _NoWorkload:
        result = CheckResult(result="Error", message="the target has no workload to restart; "
                                                     "name one in spec.persistence.restart",
                             started_at=started, finished_at=utc_now())
    except KubeError as exc:
        if exc.status not in (403, 404):
            raise
        result = CheckResult(result="Error", message=f"cannot restart: {exc}",
                             started_at=started, finished_at=utc_now())
    except _HeaderError as exc:
        result = CheckResult(result="Error", message=str(exc), started_at=started,
                             finished_at=utc_now())
    await runner.set_check("persistence", result)


class _NoWorkload(Exception):
    pass


class _HeaderError(Exception):
    pass
