"""Cold import time and package size of the search function, with and without extra SDKs.

Two figures behind the README's "Design choices":

* **cold import**: a fresh Python process loads ``functions/search/app.py`` (the handler module,
  with the layer, Powertools and httpx), optionally importing an extra package first
  (``tavily`` from tavily-python, ``mangum``). Median and p95 of ``--runs`` processes, minus
  the median of a bare ``python -c pass``. Run it in an environment that has the extra
  packages, e.g. ``uv run --with tavily-python --with mangum python benchmarks/…``.
* **package size**: ``pip install --target`` of the layer's requirements for the Lambda platform
  (``manylinux_2_28_aarch64``, CPython 3.13, wheels only), alone and with each extra package;
  the size on disk and the distributions each extra adds. Needs the package index.

Run: ``uv run --with tavily-python --with mangum python benchmarks/bench_search_packages.py``
(``--no-size`` skips the downloads).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "layers" / "common" / "requirements.txt"
HANDLER = ROOT / "functions" / "search" / "app.py"
EXTRAS = {"tavily": "tavily-python", "mangum": "mangum"}


def _import_seconds(code: str, runs: int) -> list[float]:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": str(ROOT / "layers" / "common")}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return times


def _row(label: str, times: list[float], base: float) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"{label:34} median {1000 * (statistics.median(times) - base):7.0f} ms   "
            f"p95 {1000 * (p95 - base):7.0f} ms")


def cold_imports(runs: int) -> None:
    """Print the import figures."""
    base = statistics.median(_import_seconds("pass", runs))
    handler = f"import runpy; runpy.run_path({str(HANDLER)!r})"
    print(f"cold import, {runs} fresh processes each, interpreter start ({1000 * base:.0f} ms) "
          f"subtracted, Python {sys.version.split()[0]}:")
    print(_row("search handler (as shipped)", _import_seconds(handler, runs), base))
    for module in EXTRAS:
        try:
            __import__(module)
        except ImportError:
            print(f"{'+ import ' + module:34} not installed (uv run --with {EXTRAS[module]})")
            continue
        alone = _import_seconds(f"import {module}", runs)
        both = _import_seconds(f"import {module}; {handler}", runs)
        print(_row(f"{module} alone", alone, base))
        print(_row(f"search handler + {module}", both, base))


def _install(target: Path, requirements: list[str]) -> set[str]:
    subprocess.run(["uv", "pip", "install", "--quiet", "--target", str(target),
                    "--python-platform", "aarch64-manylinux_2_28", "--python-version", "3.13",
                    "--only-binary", ":all:", *requirements], check=True)
    return {p.name.split("-")[0].lower() for p in target.glob("*.dist-info")}


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def package_sizes() -> None:
    """Print the size figures."""
    layer = [line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()
             if line.split("#")[0].strip()]
    with tempfile.TemporaryDirectory() as tmp:
        base_dir = Path(tmp) / "layer"
        base = _install(base_dir, layer)
        base_mb = _size_mb(base_dir)
        print("\npackage size for Lambda (arm64, CPython 3.13, boto3 from the runtime):")
        print(f"{'layer as shipped':34} {base_mb:6.1f} MB  {len(base)} distributions")
        for module, requirement in EXTRAS.items():
            extra_dir = Path(tmp) / module
            names = _install(extra_dir, [*layer, requirement])
            added = sorted(names - base)
            print(f"{'layer + ' + requirement:34} {_size_mb(extra_dir):6.1f} MB  "
                  f"+{_size_mb(extra_dir) - base_mb:.1f} MB, adds {', '.join(added)}")


def main() -> None:
    """Run both measurements."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-size", action="store_true", help="skip the package downloads")
    args = parser.parse_args()
    cold_imports(args.runs)
    if not args.no_size:
        package_sizes()


if __name__ == "__main__":
    main()
