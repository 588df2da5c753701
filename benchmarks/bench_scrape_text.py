"""What a Windows-MCP ``Scrape`` puts in front of the realtime model, before and after.

Before: the raw page text (the server falls back to it, since the bridge answers no sampling
request), cut by the bridge at 16,000 characters. After: ``use_sampling: false`` and
:func:`bridge.page_text.compact_page`. Pages: the fake server's short page, and news pages as
markdownify renders them (40 navigation links, N article paragraphs, 30 related links, a
footer). Tokens are estimated at 4 characters each.

Run: ``uv run python benchmarks/bench_scrape_text.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.desktop import MAX_OUTPUT_CHARS  # noqa: E402
from bridge.page_text import compact_page  # noqa: E402
from tests.fakes.mcp_servers import DEFAULT_PAGE, news_page  # noqa: E402


def main() -> None:
    """Print raw, previously delivered and compacted sizes for each page."""
    pages = {"short page (fake default)": DEFAULT_PAGE,
             **{f"news page, {n} paragraphs": news_page(n) for n in (5, 20, 60, 200)}}
    print(f"{'page':28} {'raw chars':>10} {'before':>8} {'after':>7} {'tokens before':>14} "
          f"{'tokens after':>13} {'article kept':>13}")
    for label, page in pages.items():
        result = f"URL: https://news.example/x\nContent:\n{page}"
        before = min(len(result), MAX_OUTPUT_CHARS)
        compact = compact_page(result)
        article = [line for line in page.splitlines() if line.startswith("Paragraph ")]
        kept = sum(1 for line in article if line in compact)
        share = f"{kept}/{len(article)}" if article else "-"
        print(f"{label:28} {len(result):>10,} {before:>8,} {len(compact):>7,} "
              f"{before // 4:>14,} {len(compact) // 4:>13,} {share:>13}")


if __name__ == "__main__":
    main()
