"""The persistence check: write a value through the service, read it back, restart the workload
(every pod, through ``disruptor.restart``), and read it back again. Judged by
``judge.persistence``. Header values from Secrets are read here and only sent; they never
appear in what is recorded.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence

from readygate.api.clock import utc_now
from readygate.api.headers import HeaderValueError, header_value
from readygate.api.results import CheckResult
from readygate.api.spec import Header, HttpCall
from readygate.judge.answers import Answer
from readygate.judge.persistence import Restart, judge_persistence, render
from readygate.judge.targets import Endpoint, TargetError
from readygate.kube.client import KubeError
from readygate.run.context import RunContext
from readygate.run.disruptor import restart

TIMEOUT = 5.0


class _NoWorkload(Exception):
    pass


class _HeaderError(Exception):
    pass


async def _headers(ctx: RunContext, headers: Sequence[Header]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in headers:
        if h.value is not None:
            out[h.name] = h.value
        elif h.value_from is not None:
            ref = h.value_from.secret_key_ref
            try:
                out[h.name] = header_value(ref, await ctx.kube.secret_value(
                    ctx.namespace, ref.name, ref.key))
            except KubeError as exc:
                raise _HeaderError(f"cannot read header {h.name} from Secret {ref.name} key "
                                   f"{ref.key}: {exc}") from exc
            except HeaderValueError as exc:
                raise _HeaderError(f"header {h.name}: {exc}") from None
    return out


async def _call(ctx: RunContext, endpoint: Endpoint, call: HttpCall, token: str) -> Answer:
    headers = await _headers(ctx, call.headers)
    body = render(call.body, token).encode() if call.body is not None else None
    if body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return await ctx.prober.request(call.method, endpoint.url(render(call.path, token)),
                                    headers=headers, body=body, timeout=TIMEOUT)


async def run_persistence(ctx: RunContext, endpoint: Endpoint) -> None:
    spec = ctx.spec.persistence
    assert spec is not None
    started = utc_now()
    token = secrets.token_hex(8)
    await ctx.record("persistence", CheckResult(
        result="Running", message="writing a value through the service", started_at=started))

    def error(message: str) -> CheckResult:
        return CheckResult(result="Error", message=message, started_at=started,
                           finished_at=utc_now())

    try:
        wrote = await _call(ctx, endpoint, spec.write, token)
        before = after = None
        restarted: Restart | None = None
        if wrote.ok:
            before = await _call(ctx, endpoint, spec.read_back, token)
        if wrote.ok and before is not None and before.ok and token in before.body:
            target = ((spec.restart.kind, spec.restart.name) if spec.restart is not None
                      else endpoint.workload)
            if target is None:
                raise _NoWorkload
            await ctx.record("persistence", CheckResult(
                result="Running", message=f"restarting {target[0]} {target[1]}",
                started_at=started))
            ready_url = endpoint.url(ctx.spec.readiness.path)
            restarted = await restart(
                ctx.kube, ctx.cache, ctx.namespace, target, within=spec.within,
                probe=functools.partial(ctx.prober.answers, ready_url, timeout=TIMEOUT))
            if restarted.seconds is not None:
                after = await _call(ctx, endpoint, spec.read_back, token)
        result = judge_persistence(spec.write, spec.read_back, token, wrote=wrote,
                                   before=before, restart=restarted, after=after,
                                   within=spec.within, started_at=started,
                                   finished_at=utc_now(), redact=endpoint.address is not None)
    except TargetError as exc:
        result = error(f"cannot restart: {exc}")
    except _NoWorkload:
        result = error("the target has no workload to restart; name one in "
                       "spec.persistence.restart")
    except KubeError as exc:
        if exc.status not in (403, 404):
            raise
        result = error(f"cannot restart: {exc}")
    except _HeaderError as exc:
        result = error(str(exc))
    await ctx.record("persistence", result)
