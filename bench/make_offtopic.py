"""Write bench/offtopic.jsonl: everyday questions the knowledge base does not answer.

All questions below were written by hand (independently of bench/questions.jsonl), grouped
by topic and by script: "zh" (Simplified Chinese), "hant" (Traditional Chinese), "en"
(English). The "legal" topic holds the hard negatives: law, courts, police, mediation in
general or in other places, which none of the ten cases answers. This script only numbers
the questions and assigns the dev/test split with a fixed seed, stratified by topic and
script (about 40% test in every group).

    python bench/make_offtopic.py      # rewrites bench/offtopic.jsonl
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "offtopic.jsonl"
SEED = 13
TEST_SHARE = 0.4

QUESTIONS: dict[str, dict[str, list[str]]] = {
    "weather": {
        "zh": [
            "这周末重庆会下雨吗？",
            "渝中区今天最高气温多少度？",
            "重庆今年什么时候入伏？",
            "沙坪坝明天早上会有大雾吗？",
            "下周去武隆要带厚衣服吗？",
            "重庆的夏天一般会热到多少度？",
            "江北机场今天会不会因为大雾延误？",
            "南岸区现在空气质量怎么样？",
            "重庆主城冬天会下雪吗？",
            "今晚巴南会不会打雷？",
            "重庆的雨季一般是几月份？",
            "金佛山现在能看到雪景吗？",
            "北碚明天适合去缙云山爬山吗？",
            "重庆高温红色预警是多少度才发布？",
            "明天出门要不要带伞？",
            "万州这几天热不热？",
        ],
        "hant": [
            "重慶這週末天氣怎麼樣？",
            "渝北明天會下雨嗎？",
            "重慶冬天冷不冷？要帶羽絨服嗎？",
        ],
        "en": [
            "What's the weather like in Chongqing this weekend?",
            "Is it going to rain in Yuzhong tomorrow?",
            "What is the best season to visit Chongqing?",
        ],
    },
    "food": {
        "zh": [
            "重庆哪家火锅最正宗？",
            "牛油火锅和清油火锅有什么区别？",
            "解放碑附近有什么好吃的小面？",
            "在家怎么做酸辣粉？",
            "南山泉水鸡哪家好吃？",
            "鸳鸯锅的清汤锅里涮什么菜合适？",
            "吃火锅的油碟怎么调？",
            "观音桥有什么适合聚餐的餐厅？",
            "重庆小面和豌杂面有什么不同？",
            "重庆江湖菜里最有名的是哪几道？",
            "磁器口的陈麻花哪家是正宗的？",
            "大学城有什么便宜又好吃的？",
            "辣子鸡怎么做才香？",
            "吃完火锅上火了怎么办？",
            "重庆有什么适合带回去送人的特产？",
            "毛血旺里一般放哪些菜？",
            "九园包子在哪里有门店？",
            "重庆烤鱼推荐哪家？",
        ],
        "hant": [
            "重慶火鍋底料哪個牌子好？",
            "洪崖洞附近有什麼好吃的？",
            "小麵的辣椒油怎麼做？",
            "不能吃辣的人在重慶吃什麼好？",
        ],
        "en": [
            "What is Chongqing hot pot and how do I order it?",
            "Where can I find vegetarian food in Chongqing?",
            "Is Chongqing noodle soup very spicy?",
        ],
    },
    "traffic": {
        "zh": [
            "重庆轨道交通晚上几点停运？",
            "从解放碑到江北机场坐地铁怎么走？",
            "重庆北站到龙头寺怎么换乘？",
            "重庆地铁可以用微信乘车码吗？",
            "李子坝轻轨穿楼是几号线？",
            "长江索道一般要排多久的队？",
            "重庆外地车限行是怎么规定的？",
            "重庆西站到沙坪坝坐几号线？",
            "南岸到渝北早高峰走哪条路最快？",
            "重庆出租车起步价是多少？",
            "去江北机场T3航站楼坐几号线？",
            "重庆的公交卡在哪里办？",
            "成渝高铁最快要多长时间？",
            "重庆到万州的动车票多少钱？",
            "在重庆开车哪几座桥最堵？",
            "渝中区哪里有便宜的停车场？",
            "网约车在江北机场哪里上车？",
            "轻轨3号线全程有多长？",
            "地铁上能带电动车电池吗？",
            "菜园坝火车站现在还有车吗？",
        ],
        "hant": [
            "重慶輕軌幾點收班？",
            "從重慶北站到解放碑怎麼坐車？",
            "重慶坐計程車貴不貴？",
            "江北機場到洪崖洞要多久？",
        ],
        "en": [
            "How do I get from Chongqing airport to Jiefangbei by metro?",
            "Does the Chongqing metro accept foreign credit cards?",
            "How much is a taxi from the airport to downtown Chongqing?",
            "What time does the last metro train leave?",
        ],
    },
    "tourism": {
        "zh": [
            "洪崖洞晚上几点亮灯？",
            "解放碑有什么值得逛的？",
            "磁器口古镇要门票吗？",
            "重庆两天一夜怎么玩比较好？",
            "长江三峡游轮从哪里上船？",
            "武隆天生三桥要玩多久？",
            "大足石刻门票多少钱？",
            "南山一棵树观景台几点关门？",
            "渝中区有哪些免费的博物馆？",
            "重庆动物园有大熊猫吗？",
            "白公馆和渣滓洞要提前预约吗？",
            "鹅岭二厂怎么去？",
            "十八梯是免费的吗？",
            "国庆节去重庆玩人多不多？",
            "重庆哪里看夜景最好？",
            "綦江古剑山值得去吗？",
            "北碚的温泉推荐哪家？",
            "来福士的观景台门票多少？",
            "湖广会馆几点开门？",
        ],
        "hant": [
            "洪崖洞什麼時候去人比較少？",
            "磁器口要怎麼去？",
            "重慶三天兩夜有什麼行程推薦？",
            "長江索道票價多少？",
        ],
        "en": [
            "What are the must-see places in Chongqing?",
            "Is Hongyadong worth visiting at night?",
            "How long should I spend at Wulong Karst?",
            "Do I need to book tickets for the Three Gorges Museum?",
        ],
    },
    "education": {
        "zh": [
            "重庆高考分数线什么时候公布？",
            "孩子上小学报名要准备什么材料？",
            "重庆大学和西南大学哪个好？",
            "渝中区有哪些好的初中？",
            "重庆中考体育考哪些项目？",
            "上幼儿园报名需要户口吗？",
            "外地孩子在重庆读书要办什么手续？",
            "重庆成人高考怎么报名？",
            "考研报名是在哪个网站？",
            "沙坪坝有哪些重点高中？",
            "教师资格证面试怎么准备？",
            "重庆的中小学什么时候放暑假？",
            "孩子数学成绩差怎么办？",
            "英语四级一般什么时候考？",
            "重庆有哪些职业技术学院？",
            "怎么查高考录取结果？",
            "大学生助学贷款怎么申请？",
            "普通话水平测试在哪里报名？",
            "南岸区的小学划片范围怎么查？",
        ],
        "hant": [
            "重慶有哪些好大學？",
            "孩子轉學要辦什麼手續？",
            "高考志願怎麼填比較好？",
        ],
        "en": [
            "Which universities in Chongqing teach in English?",
            "How do I apply to study Chinese in Chongqing?",
            "When do schools in Chongqing start the autumn term?",
        ],
    },
    "health": {
        "zh": [
            "重医附一院怎么挂号？",
            "现在还需要打新冠疫苗加强针吗？",
            "重庆哪里可以打HPV疫苗？",
            "孩子发烧38度要去医院吗？",
            "渝中区哪家医院看皮肤科比较好？",
            "儿童医院周末有门诊吗？",
            "体检前一天要注意什么？",
            "狂犬疫苗要打几针？",
            "重庆的医保卡在外地能用吗？",
            "经常失眠怎么调理？",
            "牙疼吃什么药好得快？",
            "新桥医院和西南医院是同一家医院吗？",
            "流感疫苗在社区医院能打吗？",
            "高血压的人能吃火锅吗？",
            "怎么预约三甲医院的专家号？",
            "孕检一般要做哪些项目？",
            "被猫抓伤了要不要打针？",
            "江北区哪里有24小时营业的药店？",
            "颈椎病怎么缓解？",
        ],
        "hant": [
            "重慶哪家醫院看兒科比較好？",
            "流感疫苗要去哪裡打？",
            "感冒咳嗽吃什麼藥？",
        ],
        "en": [
            "Where can I find an English-speaking doctor in Chongqing?",
            "How do I get a flu shot in Chongqing?",
            "Is tap water in Chongqing safe to drink?",
        ],
    },
    "public_services": {
        "zh": [
            "重庆公积金怎么提取？",
            "公积金贷款最多能贷多少？",
            "身份证丢了怎么补办？",
            "户口迁入重庆需要什么条件？",
            "新生儿上户口要带什么材料？",
            "社保断缴几个月有什么影响？",
            "灵活就业人员怎么交社保？",
            "重庆养老保险每个月交多少钱？",
            "异地就医备案怎么办理？",
            "在重庆怎么办居住证？",
            "结婚登记要带哪些证件？",
            "出生医学证明丢了怎么补？",
            "失业金怎么申领？",
            "重庆的最低工资标准是多少？",
            "个人所得税APP怎么申请退税？",
            "不动产权证办下来要多久？",
            "营业执照可以在网上申请吗？",
            "渝快办怎么做实名认证？",
            "退休手续去哪里办？",
            "残疾证怎么申请？",
            "重庆的生育津贴怎么领？",
            "电子社保卡怎么激活？",
            "买二手房水电气过户要带什么？",
        ],
        "hant": [
            "重慶公積金怎麼提取？",
            "身分證過期了要去哪裡換？",
            "社保卡密碼忘了怎麼辦？",
            "居住證辦下來需要多久？",
        ],
        "en": [
            "How do I register my residence as a foreigner in Chongqing?",
            "How can I withdraw my housing provident fund?",
            "Where do I apply for a social security card in Chongqing?",
        ],
    },
    "news_officials": {
        "zh": [
            "重庆市长是谁？",
            "重庆市委书记最近去哪里调研了？",
            "重庆去年的GDP是多少？",
            "最近重庆有什么大新闻？",
            "重庆两会一般什么时候开？",
            "重庆常住人口有多少？",
            "成渝地区双城经济圈是什么意思？",
            "重庆是哪一年直辖的？",
            "重庆市委政法委书记是谁？",
            "今年重庆有哪些重大项目开工？",
            "西部陆海新通道最近有什么进展？",
            "重庆哪个区的经济最好？",
            "西部科学城建得怎么样了？",
            "重庆一共有多少个区县？",
        ],
        "hant": [
            "重慶現任市長是誰？",
            "重慶最近有什麼新聞？",
        ],
        "en": [
            "Who is the mayor of Chongqing?",
            "What is the population of Chongqing?",
        ],
    },
    "shopping": {
        "zh": [
            "观音桥步行街几点关门？",
            "重庆哪里有奥特莱斯？",
            "解放碑的商场周末有打折活动吗？",
            "在重庆买手机去哪里便宜？",
            "宜家在重庆有几家店？",
            "重庆哪个批发市场的衣服便宜？",
            "山姆会员店重庆有几家？",
            "网购的东西有质量问题怎么退货？",
            "朝天门批发市场几点开门？",
            "买二手车要注意什么？",
            "重庆哪里能买到正宗的火锅底料？",
            "双十一什么时候开始预售？",
            "龙湖天街哪家奶茶好喝？",
            "沙坪坝有没有靠谱的电脑城？",
            "重庆现在的房价多少钱一平？",
        ],
        "hant": [
            "觀音橋有哪些購物中心？",
            "重慶哪裡買特產比較便宜？",
            "網購退貨的運費誰出？",
        ],
        "en": [
            "Where is the best shopping street in Chongqing?",
            "Can I use Apple Pay in Chongqing shops?",
        ],
    },
    "sports": {
        "zh": [
            "重庆马拉松什么时候报名？",
            "重庆铜梁龙足球队最近战绩怎么样？",
            "渝北哪里可以打羽毛球？",
            "奥体中心最近有什么比赛？",
            "推荐一条南山的骑行路线",
            "游泳馆一般几点开门？",
            "重庆有没有攀岩馆？",
            "跑步膝盖疼怎么办？",
            "下一届世界杯在哪里举办？",
            "巴南有没有免费的篮球场？",
            "今年中超冠军是谁？",
            "成年人学游泳要多久能学会？",
            "健身房办年卡要注意什么？",
            "大渡口有没有可以踢球的足球场？",
        ],
        "hant": [
            "重慶馬拉松在哪裡報名？",
            "附近哪裡有羽毛球館？",
        ],
        "en": [
            "Where can I play basketball in Chongqing?",
            "When is the Chongqing Marathon held?",
        ],
    },
    "tech": {
        "zh": [
            "手机内存满了怎么清理？",
            "微信聊天记录怎么迁移到新手机？",
            "电脑开机很慢怎么办？",
            "Excel怎么做下拉菜单？",
            "家里WiFi信号不好怎么办？",
            "怎么把PDF转成Word？",
            "用Python怎么读取Excel文件？",
            "打印机连不上电脑怎么办？",
            "苹果手机怎么截长图？",
            "电脑开机密码忘了怎么办？",
            "怎么给电脑重装系统？",
            "手机丢了怎么定位找回？",
            "微信支付怎么关闭免密支付？",
            "怎么用AI帮我写周报？",
            "电脑中病毒了怎么办？",
            "怎么注册一个个人网站的域名？",
        ],
        "hant": [
            "手機怎麼截圖？",
            "電腦藍屏了怎麼辦？",
            "Word怎麼自動生成目錄？",
        ],
        "en": [
            "How do I reset my router password?",
            "How do I install Python on Windows?",
            "My phone battery drains fast, what should I do?",
        ],
    },
    "chitchat": {
        "zh": [
            "你好",
            "你是谁？",
            "讲个笑话",
            "你叫什么名字？",
            "你是机器人吗？",
            "今天心情不好，陪我聊聊天吧",
            "你会唱歌吗？",
            "谢谢你",
            "早上好呀",
            "你今年几岁了？",
            "帮我写一段给妈妈的生日祝福",
            "推荐一部好看的电影",
            "周末好无聊，干点什么好？",
            "养猫好还是养狗好？",
            "1加1等于几？",
            "给我讲个鬼故事",
            "你觉得我该不该辞职？",
            "晚安",
        ],
        "hant": [
            "你好，你是誰？",
            "說個笑話來聽聽",
            "謝謝你的幫忙",
        ],
        "en": [
            "Hello, who are you?",
            "Tell me a joke.",
            "What can you do?",
            "Thanks, bye!",
        ],
    },
    "legal": {
        "zh": [
            "离婚需要什么材料？",
            "交通违章怎么在网上处理？",
            "北京的法院怎么立案？",
            "重庆哪里可以办护照？",
            "劳动仲裁怎么申请？",
            "公司拖欠工资怎么维权？",
            "起诉别人要交多少诉讼费？",
            "立遗嘱需要去公证吗？",
            "渝中区哪里可以免费咨询律师？",
            "租房押金房东不退怎么办？",
            "交通事故责任是怎么认定的？",
            "醉驾一般会判多久？",
            "家里老人被电信诈骗了怎么报警？",
            "重庆市高级人民法院院长是谁？",
            "市公安局的办公地址在哪里？",
            "打官司一定要请律师吗？",
            "律师咨询费一般怎么收？",
            "合同纠纷的诉讼时效是几年？",
            "未成年人犯罪会留案底吗？",
            "邻居装修太吵可以报警吗？",
            "车被刮了对方跑了怎么办？",
            "怎么查自己有没有被列为失信被执行人？",
            "重庆哪里可以做亲子鉴定？",
            "网上被骗的钱还能追回来吗？",
            "工伤认定需要哪些材料？",
            "普通人可以查到别人的判决书吗？",
            "驾驶证到期了怎么换证？",
            "渝中区人民法院在哪里？",
            "沙坪坝区的派出所电话是多少？",
            "港澳通行证续签在哪里办？",
            "南岸区司法局几点上班？",
            "被狗咬了狗主人要赔多少钱？",
            "物业不作为可以不交物业费吗？",
            "买到假货怎么投诉？",
            "全国有多少个行政复议机构？",
            "去年全国法院一共收了多少案件？",
            "今年最高人民检察院工作报告讲了哪些内容？",
            "枫桥经验最早是在哪里提出的？",
            "借钱不还，只有欠条能起诉吗？",
            "正当防卫的标准是什么？",
            "成都的矛盾纠纷调解中心有几间调解室？",
            "贵州的人民调解成功率是多少？",
            "深圳有没有专门的金融法庭？",
            "西安的潮汐车道设在哪些路段？",
            "上海公安有哪些网上办事的应用？",
            "杭州的行政复议窗口有多少个？",
        ],
        "hant": [
            "離婚要準備什麼資料？",
            "交通罰單怎麼在網上繳？",
            "台北的法院怎麼申請調解？",
            "勞動仲裁大概要多久？",
            "在重慶怎麼申請簽證延期？",
            "遺囑要怎麼寫才有效？",
        ],
        "en": [
            "How do I file a lawsuit in Beijing?",
            "What documents do I need for a divorce in China?",
            "How do I pay a traffic fine online?",
            "Where can I renew my visa in Chongqing?",
            "Do I need a lawyer for a small claims case?",
            "How do I report a scam to the police in Shanghai?",
        ],
    },
}


def build() -> list[dict]:
    rows = []
    for topic, by_lang in QUESTIONS.items():
        for lang, questions in by_lang.items():
            rng = random.Random(f"{SEED}:{topic}:{lang}")  # one draw per group: editing one leaves the others alone
            test = set(rng.sample(range(len(questions)), round(len(questions) * TEST_SHARE)))
            for i, question in enumerate(questions):
                split = "test" if i in test else "dev"
                rows.append({"split": split, "question": question, "topic": topic, "lang": lang})
    return [{"id": f"o-{n:03d}", **row} for n, row in enumerate(rows, 1)]


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} questions to {OUT}")


if __name__ == "__main__":
    main()
