"""Everyday questions asked right after a question about a practice: how many are answered (dev probe).

Forty everyday questions written on 2026-12-01, many sharing a word with some case (政务服务, 交通,
志愿者, 检察官), each asked alone and right after six openers. ``qa eval --chat`` asks the
off-topic set the same way; this probe was written because that set did not show one change's
hijacks (docs/reader.md). Run with the real index: ``python bench/everyday_probe.py``.
"""

from __future__ import annotations

from qa.assistant import Assistant

EVERYDAY = """明天要不要带伞？
周末去哪里玩比较好？
怎么做红烧肉才好吃？
最近有什么好看的电视剧？
手机充不进电是怎么回事？
感冒了吃什么药好得快？
附近哪家银行周末营业？
孩子发烧到三十九度怎么办？
离婚了孩子抚养费一般给多少？
被狗咬了要打几针疫苗？
交通违章罚款在哪里交？
驾照扣分怎么查？
找律师打官司一般要多少钱？
邻居装修太吵了怎么办？
房东不退押金怎么办？
公司拖欠工资可以去哪里投诉？
网购被骗了怎么报警？
身份证丢了怎么补办？
社保卡怎么激活？
公积金怎么提取？
晚上堵车最严重的是哪条路？
地铁几点停运？
去机场坐什么车最快？
高考成绩什么时候出？
考研报名要准备什么材料？
哪个牌子的空调比较省电？
猫咪不吃东西是为什么？
健身房办卡划算吗？
早上空腹喝咖啡好吗？
长江索道要排多久的队？
志愿者证书有什么用？
怎么成为一名检察官？
法官和检察官有什么区别？
调解不成功还能起诉吗？
派出所晚上有人值班吗？
未成年人打游戏怎么管？
金融诈骗电话怎么识别？
电子驾照在哪里申领？
政务服务中心周六上班吗？
差评会被商家报复吗？""".split("\n")
OPENERS = [
    "警快办注册人数有多少？",
    "荣昌便民纠纷解决中心有多少间调解室？",
    "莎姐有多少名检察官？",
    "潮汐车道花了多少钱？",
    "垫小二是什么？",
    "一书一令的调解成功率是多少？",
]


def main() -> None:
    a = Assistant.load()
    bad: list[tuple[str, str, str]] = []
    for o in OPENERS:
        r0 = a.ask(o, [])
        hist = [{"role": "user", "content": o}, {"role": "assistant", "content": r0.answer}]
        for q in EVERYDAY:
            r = a.ask(q, hist)
            if r.grounded:
                bad.append((o, q, r.answer[:60]))
    alone = [q for q in EVERYDAY if a.ask(q, []).grounded]
    print("answered alone", len(alone), "of", len(EVERYDAY), alone)
    print("answered after opener", len(bad), "of", len(EVERYDAY) * len(OPENERS))
    for b in bad:
        print("  ", b)


if __name__ == "__main__":
    main()
