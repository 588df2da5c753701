"""Cold import of every Lambda function against ``import boto3, httpx, pydantic``, same run.

Each sample is a fresh interpreter (as a Lambda cold start is) with the layer on the path and
a Lambda-like environment (``AWS_LAMBDA_FUNCTION_NAME`` set; X-Ray tracing off, or on with
``--tracing``); what is timed is the import of the function's ``app`` module alone, inside
that process, so interpreter start-up is left out of both sides. A first untimed import per
function writes the bytecode caches (a built layer ships them). The samples of all functions and the
reference are interleaved, so machine load affects them alike.

    uv run python benchmarks/bench_cold_start.py [--runs 15] [--importtime FUNCTION]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = ("authorizer", "session", "memory", "memory_worker", "search")
REFERENCE = "import boto3, httpx, pydantic"
TARGET = 1.6

_TIMED = (
    "import sys, time; sys.path[:0] = {paths!r}; c = time.process_time(); "
    "t = time.perf_counter(); {statement}; "
    "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)"
)


TRACING = False


def lambda_env(function: str) -> dict[str, str]:
    """The environment a function's cold start sees (the values the template sets)."""
    tracing = {"LAMBDA_TASK_ROOT": str(REPO / "functions" / function)} if TRACING else {}
    return {
        **tracing,
        **os.environ,
        "AWS_LAMBDA_FUNCTION_NAME": f"voice-agent-{function}",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "voice-agent",
        "POWERTOOLS_METRICS_NAMESPACE": "VoiceAgent",
        "MEMORY_TABLE": "voice-agent-memory",
        "OPENBLAS_NUM_THREADS": "1",
    }


def sample(function: str | None) -> tuple[float, float]:
    """One cold import in a fresh interpreter: (wall, CPU) ms."""
    if function is None:
        paths, statement, env = [], REFERENCE, lambda_env("reference")
    else:
        paths = [str(REPO / "functions" / function), str(REPO / "layers" / "common")]
        statement, env = "import app", lambda_env(function)
    code = _TIMED.format(paths=paths, statement=statement)
    output = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO / "functions" / (function or "session"),
    ).stdout
    wall, cpu = output.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def main() -> None:
    """Prints each function's median cold import and its ratio to the reference."""
    global REPO, TRACING
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--importtime", help="print -X importtime's 25 slowest for FUNCTION")
    parser.add_argument("--repo", type=Path, help="another checkout's functions/ and layers/")
    parser.add_argument(
        "--tracing", action="store_true", help="X-Ray tracing on (LAMBDA_TASK_ROOT set)"
    )
    args = parser.parse_args()
    REPO = args.repo or REPO
    TRACING = args.tracing
    if args.importtime:
        paths = [str(REPO / "functions" / args.importtime), str(REPO / "layers" / "common")]
        result = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-c",
                f"import sys; sys.path[:0]={paths!r}; import app",
            ],
            env=lambda_env(args.importtime),
            capture_output=True,
            text=True,
            check=True,
        )
        rows = [line.split("|") for line in result.stderr.splitlines()[1:]]
        rows.sort(key=lambda row: -int(row[1]))
        for row in rows[:25]:
            print(f"{int(row[1]) / 1000:8.1f} ms cumulative  {row[2].rstrip()}")
        return
    samples: dict[str | None, list[tuple[float, float]]] = {n: [] for n in (None, *FUNCTIONS)}
    for name in samples:
        sample(name)  # writes the .pyc files a deployed layer ships compiled (not timed)
    for _ in range(args.runs):
        for name in samples:
            samples[name].append(sample(name))
    reference_wall = statistics.median(wall for wall, _ in samples[None])
    reference = statistics.median(cpu for _, cpu in samples[None])
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, Python "
        f"{sys.version.split()[0]}, tracing {'on' if TRACING else 'off'}, {REPO}, {args.runs} "
        "fresh interpreters each, interleaved; ratios "
        "on CPU time (wall time moves with the machine's load)"
    )
    print(
        f"{'reference: ' + REFERENCE:44s} CPU p50 {reference:7.1f} ms (wall {reference_wall:.1f})"
    )
    for name in FUNCTIONS:
        cpu = statistics.median(c for _, c in samples[name])
        wall = statistics.median(w for w, _ in samples[name])
        verdict = "met" if cpu / reference <= TARGET else "not met"
        print(
            f"{'function ' + name:44s} CPU p50 {cpu:7.1f} ms (wall {wall:.1f})  "
            f"{cpu / reference:4.2f}x the reference (target <= {TARGET}x: {verdict})"
        )


if __name__ == "__main__":
    main()
