"""Size of the HTML page of ``fcdata inspect --html`` (issue 17: 200 synthetic records made a 6.6 MB page,
50 ShareGPT records 4.9 MB).

Printed per corpus: the page's bytes, the tokens of its samples, bytes per token, and what the page
would weigh with every block written out in every sample (the repeated tools blocks and system prompts
are written once and linked; the figure with them inlined shows what that saves).

    python benchmarks/bench_view.py
    python benchmarks/bench_view.py --synthetic 1000 --sharegpt 100

Measured before the rewrite of the page, on the same corpora (the code of commit 44f8d14): 6,656,594 bytes
for 200 synthetic records (`fcdata synth -n 200 --test 0`, seed 0), 4,948,302 bytes for the first 50
ShareGPT records of tests/fixtures/shared/sharegpt.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fcdata.synth import synth_records  # noqa: E402
from fcdata.tokenizer import load_tokenizer  # noqa: E402
from fcdata.view import format_html, inspect_file  # noqa: E402
import fcdata.view_html as view_html  # noqa: E402

SHAREGPT = ROOT / "tests" / "fixtures" / "shared" / "sharegpt" / "glaive_toolcall_en_demo.json"


def measure(name: str, path: str, count: int) -> None:
    tok = load_tokenizer()
    views = inspect_file(path, count=count, tokenizer=tok)
    page = format_html(views, tok, title=f"fcdata inspect {path}").encode("utf-8")
    tokens = sum(s.length for v in views for s in v.samples)
    share_key = view_html._share_key
    view_html._share_key = lambda lb, sample: None  # every block inline, as if nothing repeated
    try:
        inline = format_html(views, tok, title=f"fcdata inspect {path}").encode("utf-8")
    finally:
        view_html._share_key = share_key
    print(f"{name:<34} {len(views):>7,} {tokens:>9,} {len(page):>12,} {len(page) / tokens:>9.1f} {len(inline):>16,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic", type=int, default=200)
    ap.add_argument("--sharegpt", type=int, default=50)
    args = ap.parse_args()
    print(f"{'corpus':<34} {'records':>7} {'tokens':>9} {'page bytes':>12} {'B/token':>9} {'blocks inlined':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        synth = Path(tmp) / "synth.jsonl"
        synth.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in synth_records(n_train=args.synthetic, n_test=0, seed=0)), encoding="utf-8")
        measure("synthetic (fcdata synth, seed 0)", str(synth), args.synthetic)
    measure("ShareGPT (glaive_toolcall_en_demo)", str(SHAREGPT), args.sharegpt)


if __name__ == "__main__":
    main()
