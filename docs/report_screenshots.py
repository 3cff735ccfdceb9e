"""Render an evaluation report of the shipped demo in headless Chromium at 1,000 and 1,400 px.

    python docs/report_screenshots.py            # needs Debian's chromium (apt-get install chromium)

Fits a small model on 80% of the demo table, samples, evaluates against the other 20% with
``income`` as the target, writes the report, then for each width: checks in the browser that the
page does not overflow horizontally (document width <= window width) and saves a screenshot to
``docs/report_<width>.png``. Exits non-zero if a check fails. Not part of the test suite (it needs a
browser and about a minute).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from synthgan import SynthGAN, load_demo
from synthgan.evaluation import evaluate

WIDTHS = (1000, 1400)
DOCS = Path(__file__).resolve().parent
PROBE = ("<script>window.addEventListener('load', () => { document.title = 'width=' + "
         "document.documentElement.scrollWidth; });</script>")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("no chromium on PATH: apt-get install chromium")


def browse(browser: str, page: Path, width: int, *args: str, height: int = 2400) -> str:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--window-size={width},{height}", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def main() -> None:
    browser = chromium()
    real = load_demo()
    train, holdout = real.iloc[:4000], real.iloc[4000:]
    model = SynthGAN(epochs=150, validation_size=0.1, validation_every=5, random_state=0, verbose=False).fit(train)
    synthetic = model.sample(len(train))
    result = evaluate(train, synthetic, target="income", holdout=holdout, history=model.history_,
                      provenance={"real_file": "demo (first 4,000 rows)", "model": "ctgan, 150 epochs"})
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        result.write_html(page, train, synthetic)
        probe = Path(tmp) / "probe.html"
        probe.write_text(page.read_text().replace("</head>", PROBE + "</head>"))
        for width in WIDTHS:
            dom = browse(browser, probe, width, "--dump-dom", "--virtual-time-budget=5000")
            found = re.search(r"<title>width=(\d+)</title>", dom)
            measured = int(found.group(1)) if found else -1
            print(f"{width} px window: document width {measured} px")
            if not 0 < measured <= width:
                failures.append(f"at {width} px the page is {measured} px wide")
            browse(browser, page, width, f"--screenshot={DOCS / f'report_{width}.png'}", height=3600)
    if failures:
        sys.exit("; ".join(failures))


if __name__ == "__main__":
    main()
