"""Entrypoint of the readygate test workload: validate the environment, then exec Gunicorn.

The container runs ``python3 /app/main.py``. This process checks the settings (a bad value exits
2 with one line on stderr), handles ``MODE=crash-exit`` (print a line, exit ``EXIT_CODE``), records
the container start time for the workers, and replaces itself with Gunicorn serving ``app:app``
from this directory, so Gunicorn's master is PID 1 and receives SIGTERM directly. Gunicorn's
master exits 3 ("Worker failed to boot.") when the app cannot be imported (``MODE=crash-import``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time

from settings import START_ENV, Settings, SettingsError

HERE = os.path.dirname(os.path.abspath(__file__))


def gunicorn_argv(settings: Settings) -> list[str]:
    """The command line that serves ``app:app`` with the settings' workers and threads."""
    if importlib.util.find_spec("gunicorn") is not None:
        argv = [sys.executable, "-m", "gunicorn"]
    else:  # a gunicorn script on PATH for another interpreter
        argv = ["gunicorn"]
    argv += [
        f"--bind={settings.bind_host}:{settings.port}",
        f"--chdir={HERE}",
        f"--workers={settings.workers}",
        "--worker-class=gthread",
        f"--threads={settings.threads}",
        "--error-logfile=-",
        f"--log-level={settings.log_level}",
        "--graceful-timeout=10",
    ]
    if settings.access_log:
        argv.append("--access-logfile=-")
    # The worker heartbeat file: /dev/shm keeps it off a read-only root filesystem and off disk.
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        argv.append("--worker-tmp-dir=/dev/shm")
    argv.append("app:app")
    return argv


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"workload: invalid configuration: {exc}", file=sys.stderr, flush=True)
        return 2
    if settings.mode == "crash-exit":
        print(
            f"workload: MODE=crash-exit, exiting with code {settings.exit_code}",
            file=sys.stderr,
            flush=True,
        )
        return settings.exit_code
    os.environ[START_ENV] = repr(time.time())
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    argv = gunicorn_argv(settings)
    print(f"workload: MODE={settings.mode}, exec {' '.join(argv)}", file=sys.stderr, flush=True)
    os.execvp(argv[0], argv)
    return 127  # not reached: execvp raises OSError on failure


if __name__ == "__main__":
    sys.exit(main())
