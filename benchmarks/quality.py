"""What the default model answers on the held-out clips of every source: the figures README reports.

Over the test split of clips.tsv (every source this checkout reads), with the 80 test phrasings
(tests/data/test_tag_queries.tsv, never trained on; a hit carries the asked tag):
- text->motion and motion->text R@1 overall and per source (each source's clips as the gallery);
- Bandai-Namco alone with its 40 held-out phrasings (label-aware, the first default model's figures);
- a library of the test clips (`tmr index`): `search --like` on each clip whose tags another source
  also has finds a clip of that source sharing a tag in its top 5; "jumps twice" and "a person sits
  down" first hits; confidence of a correct top hit against the best confidence gibberish reaches.
`--split val` runs the same on the val split with the validation phrasings, for choosing a model.

Usage: .venv/bin/python benchmarks/quality.py [--checkpoint NAME|PATH] [--split test|val] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from common import DEFAULT_DATA, REPO

PHRASINGS = {"test": "test_tag_queries.tsv", "val": "val_tag_queries.tsv"}
BANDAI_PHRASINGS = {"test": "heldout_queries.tsv", "val": "val_queries.tsv"}
GIBBERISH = ["", "   ", "asdkj qwe zzxv", "lorem ipsum dolor sit amet", "xkcd blorp fnord", "qwertyuiop", "the quarterly revenue report", "purple monkey dishwasher"]


def _report_dict(report) -> dict:
    return {"t2m_r1": round(report.text_to_motion.r1, 1), "t2m_r5": round(report.text_to_motion.r5, 1),
            "m2t_r1": round(report.motion_to_text.r1, 1), "m2t_r5": round(report.motion_to_text.r5, 1)}  # fmt: skip


def retrieval_figures(retriever, records, sources: dict[str, str], split: str) -> dict:
    """Tag-aware R@1 over all sources and per source; Bandai-Namco with its label phrasings."""
    from model.validation import label_aware_report, record_answers
    from tmrcli.jobs.evaluation import read_queries

    queries = read_queries(REPO / "tests" / "data" / PHRASINGS[split])
    figures = {"clips": len(records), "all": _report_dict(label_aware_report(retriever, records, queries))}
    per_source = {}
    for source in sorted(set(sources.values())):
        mine = [r for r in records if sources[r.key] == source]
        asked = {q.label for q in queries}
        if len(mine) < 2 or not any(record_answers(r) & asked for r in mine):
            continue
        per_source[source] = {"clips": len(mine), **_report_dict(label_aware_report(retriever, mine, queries))}
    figures["per_source"] = per_source
    bandai = [r for r in records if sources[r.key] == "bandai-namco"]
    if bandai:
        old = read_queries(REPO / "tests" / "data" / BANDAI_PHRASINGS[split])
        figures["bandai_label_phrasings"] = _report_dict(label_aware_report(retriever, bandai, old))
    return figures


def _link_clips(data: Path, paths: list[str], folder: Path) -> list[Path]:
    """Symlinks to the clips under `folder` (same relative paths; an AMC's ASF skeletons beside it)."""
    links = []
    for relative in paths:
        link = folder / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(data / relative, link)
        for sibling in (data / relative).parent.glob("*.asf"):
            if not (link.parent / sibling.name).exists():
                os.symlink(sibling, link.parent / sibling.name)
        links.append(link)
    return links


def library_figures(checkpoint: str, data: Path, records, sources: dict[str, str], split: str) -> dict:
    """Index the clips, then query the library as people do."""
    from typer.testing import CliRunner

    from model import load_retriever
    from model.validation import record_answers
    from tmrcli.app import app
    from tmrcli.jobs.evaluation import read_queries
    from tmrcli.library.search import find_motions
    from tmrcli.library.store import MotionStore

    answers = {r.key: record_answers(r) for r in records}
    with tempfile.TemporaryDirectory() as tmp:
        folder, store = Path(tmp) / "clips", Path(tmp) / "library.h5"
        links = _link_clips(data, [r.key for r in records], folder)
        result = CliRunner().invoke(app, ["index", *map(str, links), "--store", str(store), "--checkpoint", checkpoint])
        if result.exit_code != 0:
            raise SystemExit(result.output)
        library = MotionStore(store)
        retriever = load_retriever(checkpoint)
        key_of = {os.path.abspath(link): r.key for link, r in zip(links, records)}
        key_of |= {str(link.resolve()): r.key for link, r in zip(links, records)}

        def hits(text=None, like=None, k=5):
            found = find_motions(library, retriever, k, text=text, like=like)
            return [(key_of.get(h.path, h.path), h) for h in found]

        # --like: the same action from another source in the top 5.
        tags_by_source: dict[str, set[str]] = {}
        for r in records:
            tags_by_source.setdefault(sources[r.key], set()).update(r.tags)
        asked = found = 0
        for link, r in zip(links, records):
            elsewhere = set().union(*(t for s, t in tags_by_source.items() if s != sources[r.key]))
            if not set(r.tags) & elsewhere:
                continue
            asked += 1
            top = hits(like=link)
            found += any(sources[k] != sources[r.key] and set(r.tags) & answers[k] for k, _ in top if k in sources)
        figures = {"like_same_action_other_source_top5": round(found / max(asked, 1), 3), "like_queries": asked}
        jumps = hits("jumps twice", k=1)
        sits = hits("a person sits down", k=1)
        figures["jumps_twice_first"] = jumps[0][0] if jumps else None
        figures["jumps_twice_first_is_jump_or_hop"] = bool(jumps) and bool({"jump", "hop"} & answers.get(jumps[0][0], set()))
        figures["sits_down_first"] = sits[0][0] if sits else None
        figures["sits_down_first_is_mhad_sit_down"] = bool(sits) and sits[0][0].startswith("berkeley-mhad/") and "sit-down" in answers.get(sits[0][0], set())
        # Confidence: a correct top hit against the most confident gibberish top hit.
        gibberish = max(h.confidence for text in GIBBERISH for _, h in hits(text, k=1))
        queries = read_queries(REPO / "tests" / "data" / PHRASINGS[split])
        correct = above = 0
        for query in queries:
            top = hits(query.text, k=1)
            if top and query.label in answers.get(top[0][0], set()):
                correct += 1
                above += top[0][1].confidence > gibberish
        figures.update(
            library_t2m_r1=round(100 * correct / len(queries), 1),
            gibberish_best_confidence=round(float(gibberish), 3),
            correct_top_hit_above_gibberish=round(above / max(correct, 1), 3),
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="test", choices=["test", "val"])
    parser.add_argument("--no-library", action="store_true", help="only the retrieval figures (no indexing)")
    args = parser.parse_args()

    from model import load_retriever
    from model.clips import read_clips_table
    from model.data_sources import load_split
    from formats.user_dirs import user_cache_dir

    sources = {r.path: r.source for r in read_clips_table(args.data)}
    skipped: list[Path] = []
    records = load_split(args.data, args.split, cache_dir=user_cache_dir() / "features", on_skip=lambda p, _: skipped.append(p))
    retriever = load_retriever(args.checkpoint)
    figures = {"checkpoint": args.checkpoint, "split": args.split, "unreadable_clips_left_out": len(skipped)}
    figures["retrieval"] = retrieval_figures(retriever, records, sources, args.split)
    if not args.no_library:
        figures["library"] = library_figures(args.checkpoint, args.data, records, sources, args.split)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
