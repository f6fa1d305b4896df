"""Deterministic synthetic case files of the same shape and length as the real ones."""

from __future__ import annotations

import random
from pathlib import Path

PLACES = ["东城", "西岭", "南湖", "北山", "清江", "石门", "白沙", "青龙", "金桥", "云溪", "河口", "梅岭"]
THEMES = ["调解", "法律援助", "社区矫正", "智慧警务", "诉源治理", "公证服务", "行政复议", "检察监督", "普法宣传"]
TEMPLATES = [
    "为了让群众少跑腿,{place}{theme}中心把服务送到田间地头和街道社区,为基层治理注入法治力量。",
    "中心建立“{a}、{b}、{c}”机制,被群众称赞为“管用模式、心坎办法”。",
    "{start}至{end}年,中心直接收案{n1}件,成功化解矛盾纠纷{n2}件,涉案标的{m}亿元。",
    "全县累计建立{n3}个工作室,调解成功率达{p}%,化“小矛盾”为“大和谐”。",
    "一年多以来,群众总体满意度持续提升,差评大幅度减少,这一机制已成为{place}优化营商环境的重要动力。",
]
WORDS = ["党政主导", "司法引领", "社会参与", "防化联动", "一地通办", "一网通管", "数据赋能", "闭环落实"]


def case_text(rng: random.Random, rank: int) -> tuple[str, str]:
    place, theme = rng.choice(PLACES), rng.choice(THEMES)
    title = f"{place}{theme}创新实践第{rank}号"
    a, b, c = rng.sample(WORDS, 3)
    values = {
        "place": place,
        "theme": theme,
        "a": a,
        "b": b,
        "c": c,
        "start": 2017,
        "end": 2022,
        "n1": rng.randint(1000, 90000),
        "n2": rng.randint(500, 50000),
        "m": round(rng.uniform(1, 30), 1),
        "n3": rng.randint(10, 400),
        "p": round(rng.uniform(90, 99.9), 2),
    }
    paragraphs = [f"{rank}.重庆市{place}区", title] + [t.format(**values) for t in TEMPLATES]
    return title, "\n\n".join(paragraphs)


def write_corpus(folder: Path, count: int, seed: int = 7) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for rank in range(1, count + 1):
        title, body = case_text(rng, rank)
        write_case(folder, rank, title, body)
    return folder


def write_case(folder: Path, rank: int, title: str, body: str) -> Path:
    front = f'---\nid: syn-{rank:05d}\ntitle: "{title}"\nunit: 测试区委政法委\nregion: 测试区\nlevel: 区\nrank: {rank}\nsource: 合成\n---\n\n'
    path = folder / f"{rank:05d}-syn.md"
    path.write_text(front + body + "\n", encoding="utf-8")
    return path
