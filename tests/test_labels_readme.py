"""The README's accuracy tables are what `bench/labels_eval.py --readme` prints, not figures typed in by hand."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import labels_eval  # noqa: E402

from read_receipts.labels.openers import AddressRanges, Classifier, load_ranges  # noqa: E402


def readme_tables(readme: Path = labels_eval.README) -> list[str]:
    """The lines between the README's two markers."""
    text = readme.read_text()
    start = text.index(labels_eval.README_BEGIN) + len(labels_eval.README_BEGIN)
    return text[start : text.index(labels_eval.README_END)].strip("\n").splitlines()


def report(half: str) -> list[str]:
    """What labels_eval.py prints for one family of corpora."""
    args = argparse.Namespace(half=half, corpora=labels_eval.CORPORA, held_out=labels_eval.HELD_OUT_DIR, show=0)
    lines, _ = labels_eval.report(args, Classifier(load_ranges(), AddressRanges([])))
    return lines


@pytest.mark.skipif(
    not labels_eval.CORPORA.is_dir(), reason="the corpora the rules were written from are not beside the checkout"
)
def test_the_readme_shows_what_the_command_prints_for_the_written_from_corpora():
    shown = readme_tables()
    printed = [line for line in report("written-from") if line.startswith("| ") and "|---" not in line]
    rows = [line for line in printed if not line.startswith("| corpus") and not line.startswith("| corpora")]
    assert rows, "the command prints a row per corpus"
    missing = [line for line in rows if line not in shown]
    assert missing == [], "run `bench/labels_eval.py --readme` after changing a rule"


def test_the_readme_block_is_written_in_place(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{labels_eval.README_BEGIN}\nold table\n{labels_eval.README_END}\nafter\n")
    labels_eval.write_readme(["| new | table |"], readme)
    assert readme.read_text() == (
        f"before\n{labels_eval.README_BEGIN}\n| new | table |\n{labels_eval.README_END}\nafter\n"
    )
    assert readme_tables(readme) == ["| new | table |"]
