"""Server commands: ``up`` (all-in-one, embedded defaults) and ``serve`` (API + dashboard)."""

from __future__ import annotations

import argparse
import threading
import time
from typing import TYPE_CHECKING, Any

from haloscope.platform.cli.malloc_arenas import limit_malloc_arenas
from haloscope.platform.config import Settings, load_settings

if TYPE_CHECKING:
    from haloscope.platform.demo import DemoResult


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``up`` and ``serve`` to ``sub``."""
    for name, help_text in (
        (
            "up",
            "all-in-one: migrate, then run API, dashboard and the embedded store in one process",
        ),
        ("serve", "run the API and dashboard (scale-out: start any number of replicas)"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--host", default=None, help="bind address (HALOSCOPE_HOST)")
        cmd.add_argument("--port", type=int, default=None, help="port (HALOSCOPE_PORT)")
        cmd.set_defaults(handler=run_up if name == "up" else run_serve)
    sub.choices["up"].add_argument(
        "--demo", action="store_true", help="seed a demo project with realistic traces"
    )


def _serve(
    settings: Settings, *, migrate: bool = False, on_started: Any = None, jobs: bool = False
) -> int:
    import uvicorn

    limit_malloc_arenas()
    from haloscope.platform.composition import build_app

    app = build_app(settings, migrate=migrate)
    embedded_jobs = None
    if jobs:
        from haloscope.platform.jobs.embedded import start_embedded_jobs

        embedded_jobs = start_embedded_jobs(settings, app.state.haloscope.store)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level, lifespan="on"
    )
    server = uvicorn.Server(config)
    if on_started is not None:

        def wait_then_run() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if server.started:
                on_started()

        threading.Thread(target=wait_then_run, name="haloscope-on-started", daemon=True).start()
    try:
        server.run()
    finally:
        if embedded_jobs is not None:
            embedded_jobs.stop()
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(host=args.host, port=args.port)


def run_serve(args: argparse.Namespace) -> int:
    """``haloscope serve``."""
    return _serve(_settings(args))


def _demo_summary(result: DemoResult) -> str:
    """What was seeded, and what the sampling run over it should report."""
    simulation = result.simulation
    if simulation is None:
        return f"demo project {result.project_name!r}: already seeded"
    share = simulation.contradicting / max(simulation.answers, 1)
    return (
        f"demo project {result.project_name!r}: {simulation.traces} traces seeded; "
        f"{simulation.contradicting} of {simulation.answers} answers ({share:.1%}) contradict "
        f"their retrieved passages; sampling run {result.sampling_run_id} judges every answer "
        "(dashboard: Evaluations)"
    )


def run_up(args: argparse.Namespace) -> int:
    """``haloscope up``: migrate, start everything in one process, optionally seed the demo."""
    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://{settings.host}:{settings.port}"

    def announce() -> None:
        lines = [f"Haloscope is up: dashboard {url}/  API {url}/api  docs {url}/docs"]
        if args.demo:
            from haloscope.platform.demo import seed_demo

            result = seed_demo(settings, base_url=url)
            lines.append(_demo_summary(result))
            lines += [
                f"HALOSCOPE_HOST={url}",
                f"HALOSCOPE_PUBLIC_KEY={result.public_key}",
                f"HALOSCOPE_SECRET_KEY={result.secret_key}",
                f"dashboard sign-in: {result.user_email} / {result.user_password}",
            ]
        print("\n".join(lines), flush=True)

    return _serve(settings, migrate=True, on_started=announce, jobs=True)
