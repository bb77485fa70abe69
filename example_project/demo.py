"""Run the whole demo with one command: ``python -m example_project.demo``.

Prepares the SQLite database and a superuser (``admin`` / ``admin``), then runs three
processes side by side until Ctrl-C: the bundled QStash emulator on port 8080, a Celery
worker (with beat, on the embedded filesystem broker unless ``REDIS_URL`` is set) and
the example project on http://127.0.0.1:8000/admin/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_USER = "admin"


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def prepare() -> None:
    """Migrate and make sure the demo superuser exists."""
    subprocess.run(manage("migrate", "--no-input", "-v", "0"), check=True, cwd=ROOT)
    subprocess.run(
        manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model as m; U = m(); "
            f"U.objects.filter(username={DEMO_USER!r}).exists() or "
            f"U.objects.create_superuser({DEMO_USER!r}, 'admin@example.com', "
            f"{DEMO_USER!r})",
        ),
        check=True,
        cwd=ROOT,
    )


def main() -> int:
    prepare()
    commands = {
        "emulator": manage("qstash_emulator", "--port", "8080"),
        "worker": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "example_project",
            "worker",
            "--beat",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--schedule",
            str(ROOT / "var" / "celerybeat-schedule"),
        ],
        "web": manage("runserver", "127.0.0.1:8000", "--noreload"),
    }
    processes = {
        name: subprocess.Popen(command, cwd=ROOT, env=os.environ.copy())
        for name, command in commands.items()
    }
    print(
        "\nDemo running: http://127.0.0.1:8000/admin/ "
        f"(user {DEMO_USER}, password {DEMO_USER}). Ctrl-C stops it.\n",
        flush=True,
    )

    # SIGTERM stops the demo as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    stopped = (0, 1, -signal.SIGINT, -signal.SIGTERM)
    failed = [name for name, p in processes.items() if p.returncode not in stopped]
    if failed:
        print(f"Stopped because {', '.join(failed)} exited.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
