"""Write bench/conversations.jsonl: hand-written multi-turn chat sessions.

Every session below was written by hand against knowledge/*.md (independently of
bench/questions.jsonl). This script only numbers the sessions, expands the short case
codes, and assigns the dev/test split with a fixed seed, stratified by the rarest turn
kind a session contains, so each kind lands in both splits in about a 60/40 ratio.

    python bench/make_conversations.py      # rewrites bench/conversations.jsonl

Turn tuple: (kind, question, case codes separated by spaces, expected substrings separated by "|").
Kinds "offtopic" and "absent" (and a greeting first turn) are grounded false with no expectations.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "conversations.jsonl"
SEED = 13
TEST_SHARE = 0.4

CASES = {
    "OV": "overview",
    "CT": "5g-mobile-court",
    "RC": "rongchang-mediation",
    "JB": "jiangbei-finance-law",
    "JK": "jingkuaiban",
    "NA": "nanan-tidal-lane",
    "SJ": "shajie-minors",
    "BN": "banan-yishuyiling",
    "FY": "admin-reconsideration",
    "SZ": "shizhu-guihe",
    "DJ": "dianjiang-dianxiaoer",
}
NOT_GROUNDED = {"offtopic", "absent"}
TEN = "车载便民法庭|警快办|垫小二"  # three distinctive words of the ten titles
COUNTY = "贵和工作法|垫小二"
CITY = "车载便民法庭|警快办|复调对接"
DISTRICT = "潮汐车道|莎姐|一书一令"

# fmt: off
SESSIONS: list[list[tuple[str, str, str, str]]] = [
    [("first", "警快办现在有多少注册用户？", "JK", "1714万"),
     ("follow_up", "累计访问量呢？", "JK", "5.4亿人次"),
     ("switch", "南岸潮汐车道是用哪些技术设施建起来的？", "NA", "门架式车道灯|磁力柱")],
    [("first", "荣昌便民纠纷解决中心里都设了哪些调解室？", "RC", "乡贤调解室|医疗纠纷调解室"),
     ("pronoun", "它一共有多少间调解室？", "RC", "36间"),
     ("switch", "石柱县的贵和工作室建了多少个？", "SZ", "242个")],
    [("first", "潮汐车道是哪个单位报送的？", "NA", "南岸区委政法委"),
     ("na_x", "那垫小二呢？", "DJ", "垫江县委政法委"),
     ("na_x", "一书一令呢？", "BN", "巴南区委政法委")],
    [("first", "莎姐检察官一共有多少人？", "SJ", "416名"),
     ("follow_up", "志愿者呢？", "SJ", "1678名"),
     ("offtopic", "大渡口今天会下雨吗？", "", ""),
     ("switch", "西部金融法律服务中心有哪几个功能区？", "JB", "检务服务区|警务服务区")],
    [("first", "十大改革最佳实践都有哪些？", "OV", TEN),
     ("ordinal", "第三个是哪个单位报送的？", "JB", "江北区委政法委"),
     ("pronoun", "它整合了几大资源？", "JB", "6大资源")],
    [("first", "一书一令是什么？", "BN", "司法确认书"),
     ("follow_up", "多长时间能拿到？", "BN", "20分钟"),
     ("switch", "警快办是什么时候上线的？", "JK", "2021年1月1日")],
    [("first", "南岸区建潮汐车道花了多少钱？", "NA", "不到200万元"),
     ("switch", "垫小二是什么？", "DJ", "大众点评"),
     ("pronoun", "这个机制把打分的权力交给了谁？", "DJ", "企业和群众")],
    [("first", "石柱贵和工作法化解纠纷的成功率有多高？", "SZ", "99.42%"),
     ("na_x", "那巴南的一书一令呢？", "BN", "98.8%"),
     ("offtopic", "巴南有什么好吃的火锅店推荐？", "", "")],
    [("first", "政法领域十大改革最佳实践评选是谁主办的？", "OV", "市委政法委|市法学会"),
     ("follow_up", "一共征集了多少个案例？", "OV", "89个"),
     ("switch", "荣昌的调解中心2017到2022年直接收了多少案子？", "RC", "24336件")],
    [("first", "警快办能办哪些警种的业务？", "JK", "治安户政|出入境"),
     ("pronoun", "它一共能办多少项事项？", "JK", "400余项"),
     ("absent", "这个应用在苹果手机上怎么下载？", "", "")],
    [("first", "5G车载便民法庭是哪个单位的？", "CT", "市高法院"),
     ("na_x", "那警快办呢？", "JK", "市公安局"),
     ("na_x", "复调对接呢？", "FY", "市司法局")],
    [("first", "有哪些县级的案例？", "", COUNTY),
     ("ordinal", "第二个是哪个县的？", "DJ", "垫江"),
     ("switch", "潮汐车道让早高峰拥堵时长减少了多少？", "NA", "66.7%")],
    [("first", "莎姐是哪个区的品牌？", "SJ", "大渡口"),
     ("na_x", "那贵和工作法呢？", "SZ", "石柱"),
     ("switch", "全市有多少个行政复议便民接件点？", "FY", "1034个")],
    [("first", "垫小二点评了多少个窗口科室？", "DJ", "115个"),
     ("follow_up", "靠什么倒逼部门改进作风？", "DJ", "通报|排名"),
     ("offtopic", "垫江到重庆主城的大巴几点发车？", "", "")],
    [("first", "西部金融法律服务中心整合了哪些资源？", "JB", "仲裁|公证"),
     ("follow_up", "聚焦哪三大任务？", "JB", "防范金融风险"),
     ("switch", "警快办累计申领了多少张电子证照？", "JK", "1291万张")],
    [("first", "What is Jingkuaiban?", "JK", "公安"),
     ("follow_up", "How many people have registered?", "JK", "1714万"),
     ("switch", "Who does the Sha Jie brand protect?", "SJ", "未成年人")],
    [("first", "車載便民法庭一般開到哪些地方去？", "CT", "田间地头"),
     ("pronoun", "它兩年來去過多少個區縣？", "CT", "所有区县"),
     ("switch", "警快辦累計辦了多少件事？", "JK", "8567万余件")],
    [("first", "一书一令在巴南多少个派出所推行了？", "BN", "28个"),
     ("follow_up", "司法确认办了多少份？", "BN", "4800余份"),
     ("switch", "荣昌纠纷解决中心当场兑现了多少钱？", "RC", "1.2亿元")],
    [("first", "重庆市司法局在行政争议化解中要当好哪几种角色？", "FY", "前哨兵|和事佬"),
     ("follow_up", "有多少个复议窗口？", "FY", "41个"),
     ("absent", "掌上复议要下载哪个APP？", "", "")],
    [("first", "评选结果是哪天揭晓的？", "OV", "7月11日"),
     ("follow_up", "展示阶段在几月？", "OV", "4月至5月"),
     ("switch", "垫小二是哪个单位报送的？", "DJ", "垫江县委政法委")],
    [("first", "潮汐车道拥堵减少的数据是哪一段路的？", "NA", "大石路立交"),
     ("follow_up", "减少了多少？", "NA", "66.7%"),
     ("switch", "莎姐上过几次焦点访谈？", "SJ", "2次"),
     ("offtopic", "南滨路晚上哪里看夜景最好？", "", "")],
    [("first", "石柱县累计化解了多少矛盾纠纷？", "SZ", "20570件"),
     ("na_x", "那荣昌呢？", "RC", "16206件"),
     ("follow_up", "涉案标的多少？", "RC", "14.3亿元")],
    [("first", "贵和工作法融合了什么经验？", "SZ", "枫桥经验"),
     ("pronoun", "这个做法是哪个县的？", "SZ", "石柱"),
     ("list", "十大改革最佳实践里哪些是市级部门报送的？", "", CITY)],
    [("first", "我想问下警快办累计访问了多少人次？", "JK", "5.4亿人次"),
     ("switch", "巴南区矛盾纠纷类警情下降了多少？", "BN", "23.7%"),
     ("offtopic", "给我讲个笑话吧", "", "")],
    [("first", "车载便民法庭把哪些服务送到老百姓家门口？", "CT", "巡回审判"),
     ("absent", "这个法庭一个月来我们村几次？", "", ""),
     ("switch", "西部金融法律服务中心在哪个区？", "JB", "江北")],
    [("first", "莎姐被写入最高检工作报告几次？", "SJ", "3次"),
     ("follow_up", "获得过多少项荣誉称号？", "SJ", "40多项"),
     ("switch", "一书一令的履行率是多少？", "BN", "100%")],
    [("first", "荣昌便民纠纷解决中心成功化解了多少纠纷？", "RC", "16206件"),
     ("na_x", "那石柱的贵和工作法呢？", "SZ", "20570件"),
     ("switch", "警快办是哪个单位的？", "JK", "市公安局")],
    [("first", "这次评选的主题是什么？", "OV", "改革求变政法惠民"),
     ("follow_up", "分成了哪几个阶段？", "OV", "征集|成果运用"),
     ("switch", "潮汐车道是哪个部门具体建设的？", "NA", "南岸区公安分局")],
    [("first", "垫小二是哪个县的做法？", "DJ", "垫江"),
     ("follow_up", "点评了多少个窗口科室？", "DJ", "115个"),
     ("absent", "垫小二里的差评会影响工作人员的工资吗？", "", "")],
    [("first", "十大范例一共有哪些？", "OV", TEN),
     ("ordinal", "第七个是哪个区的？", "BN", "巴南"),
     ("pronoun", "它的调解成功率是多少？", "BN", "98.8%")],
    [("first", "警快办累计办件多少？", "JK", "8567万余件"),
     ("switch", "荣昌中心有多少间调解室？", "RC", "36间"),
     ("switch", "贵和工作室有多少个？", "SZ", "242个")],
    [("first", "掌上复议是什么？", "FY", "行政复议"),
     ("follow_up", "是哪个单位推的？", "FY", "市司法局"),
     ("offtopic", "沙坪坝三峡广场附近哪里停车方便？", "", "")],
    [("first", "莎姐的志愿者有多少？", "SJ", "1678名"),
     ("switch", "垫江的垫小二实施后群众满意度怎么样？", "DJ", "持续提升"),
     ("pronoun", "它对垫江的营商环境起了什么作用？", "DJ", "重要动力")],
    [("first", "江北那个金融法律服务中心有什么功能区？", "JB", "检务服务区|诉讼服务区"),
     ("pronoun", "它提供的是什么样的服务？", "JB", "一站式"),
     ("absent", "这个中心周末上班吗？", "", "")],
    [("first", "When were the results of the selection announced?", "OV", "7月11日"),
     ("follow_up", "And how many entries were collected?", "OV", "89个"),
     ("switch", "Which district does the tidal lane project belong to?", "NA", "南岸")],
    [("first", "一书一令发了多少份人身安全保护令？", "BN", "230余份"),
     ("follow_up", "调解成功率呢？", "BN", "98.8%"),
     ("na_x", "那石柱呢？", "SZ", "99.42%")],
    [("first", "潮汐車道花了多少錢？", "NA", "不到200万元"),
     ("follow_up", "早高峰堵車時間少了多少？", "NA", "66.7%"),
     ("switch", "莎姐是哪個區的？", "SJ", "大渡口")],
    [("first", "有哪些区级单位报送的案例？", "", DISTRICT),
     ("ordinal", "第一个是哪个区的？", "RC", "荣昌"),
     ("pronoun", "它有多少间调解室？", "RC", "36间")],
    [("first", "5G车载便民法庭是干什么的？", "CT", "家门口"),
     ("switch", "西部金融法律服务中心是哪个单位报送的？", "JB", "江北区委政法委"),
     ("offtopic", "江北观音桥有什么好逛的？", "", "")],
    [("first", "重庆行政复议窗口有多少个？", "FY", "41个"),
     ("follow_up", "便民接件点呢？", "FY", "1034个"),
     ("switch", "荣昌的综调机制升级到了第几版？", "RC", "3.0版")],
    [("first", "警快辦的電子證照申領了多少張？", "JK", "1291万张"),
     ("pronoun", "這個應用是哪個單位的？", "JK", "市公安局"),
     ("offtopic", "解放碑附近有什麼好吃的？", "", "")],
    [("first", "垫小而是什么？", "DJ", "大众点评"),
     ("pronoun", "它是哪个单位报的？", "DJ", "垫江县委政法委"),
     ("switch", "西部金融法律服务中心助推江北打造什么？", "JB", "核心承载区")],
    [("first", "石柱贵和工作法是什么？", "SZ", "乡村"),
     ("follow_up", "建了多少个工作室？", "SZ", "242个"),
     ("switch", "莎姐品牌主要守护哪些人？", "SJ", "未成年人")],
    [("first", "南岸潮汐车道是怎么规划出来的？", "NA", "大数据|计算机仿真"),
     ("pronoun", "这个项目花了多少钱？", "NA", "不到200万元"),
     ("switch", "一书一令是哪个区的？", "BN", "巴南")],
    [("first", "这次评出来的十个范例分别是什么？", "OV", TEN),
     ("ordinal", "第五个花了多少钱？", "NA", "不到200万元"),
     ("switch", "莎姐检察官有多少名？", "SJ", "416名")],
    [("first", "巴南的一书一令是哪个单位报送的？", "BN", "巴南区委政法委"),
     ("absent", "一书一令办理要交钱吗？", "", ""),
     ("switch", "垫小二对多少个窗口打分？", "DJ", "115个")],
    [("first", "你好，在吗？", "", ""),
     ("switch", "请问警快办能办出入境业务吗？", "JK", "出入境"),
     ("follow_up", "一共几个警种？", "JK", "9个警种")],
    [("first", "荣昌便民纠纷解决中心的机制被群众怎么评价？", "RC", "管用模式|心坎办法"),
     ("follow_up", "当场兑现了多少？", "RC", "1.2亿元"),
     ("switch", "贵和工作法化解纠纷成功率多少？", "SZ", "99.42%")],
    [("first", "入选的案例主要在哪些领域取得了成效？", "OV", "法治化营商环境|公共法律服务"),
     ("follow_up", "有什么特点？", "OV", "典型性"),
     ("switch", "垫小二是什么意思？", "DJ", "大众点评")],
    [("first", "車載便民法庭是哪個單位報送的？", "CT", "市高法院"),
     ("na_x", "那墊小二呢？", "DJ", "垫江县委政法委"),
     ("offtopic", "墊江牡丹花什麼時候開？", "", "")],
    [("first", "警快办注册人数多少", "JK", "1714万"),
     ("switch", "沙姐检察官有多少个？", "SJ", "416名"),
     ("switch", "十大最佳实践是哪天公布的？", "OV", "7月11日")],
    [("first", "市司法局的复调对接机制在全国处于什么位置？", "FY", "全国率先"),
     ("pronoun", "该机制下全市有多少个复议窗口？", "FY", "41个"),
     ("switch", "荣昌中心有哪些调解室？", "RC", "乡贤调解室")],
    [("first", "西部金融法律服务中心运行多久了？", "JB", "一年多"),
     ("absent", "中心的联系电话是多少？", "", ""),
     ("switch", "潮汐车道是哪个区的？", "NA", "南岸")],
    [("first", "莎姐在全国有名气吗？", "SJ", "享誉全国"),
     ("follow_up", "被写进最高检工作报告几次？", "SJ", "3次"),
     ("offtopic", "重庆中考什么时候出成绩？", "", "")],
    [("first", "一书一令是全国首创的吗？", "BN", "全国首创"),
     ("follow_up", "警情下降了多少？", "BN", "23.7%"),
     ("switch", "贵和工作室建了多少个？", "SZ", "242个")],
    [("first", "荣昌便民纠纷解决中心收案多少件？", "RC", "24336件"),
     ("switch", "警快办上线以来办了多少件事？", "JK", "8567万余件"),
     ("pronoun", "它的访问量有多少？", "JK", "5.4亿人次")],
    [("first", "How many police departments' services does Jingkuaiban cover?", "JK", "9个警种"),
     ("follow_up", "And how many service items?", "JK", "400余项"),
     ("switch", "What's the success rate of Shizhu's Guihe work method?", "SZ", "99.42%")],
    [("first", "哪些案例是县里报送的？", "", COUNTY),
     ("ordinal", "第一个成功率多少？", "SZ", "99.42%"),
     ("offtopic", "石柱黄水什么时候去避暑最合适？", "", "")],
    [("first", "潮汐车道用了哪些设施？", "NA", "磁力柱"),
     ("switch", "行政复议便民接件点有多少？", "FY", "1034个"),
     ("switch", "这次评选征集了多少个范例？", "OV", "89个")],
    [("first", "莎姐检察官有多少名？", "SJ", "416名"),
     ("pronoun", "它由几级检察院共同组成？", "SJ", "三级检察院"),
     ("switch", "巴南28个派出所推行的是什么机制？", "BN", "一书一令")],
    [("first", "江北金融法律服务中心把多少类资源整合在一起？", "JB", "6大资源"),
     ("switch", "石柱的贵和工作法融合了哪些手段？", "SZ", "大数据"),
     ("follow_up", "累计化解多少纠纷？", "SZ", "20570件")],
    [("first", "垫小二点评的窗口有多少个？", "DJ", "115个"),
     ("na_x", "那全市的行政复议窗口呢？", "FY", "41个"),
     ("offtopic", "重庆社保卡丢了怎么补办？", "", "")],
    [("first", "警快办是什么时候正式上线的？", "JK", "2021年1月1日"),
     ("absent", "它每天晚上几点停止服务？", "", ""),
     ("switch", "荣昌调解中心的涉案标的有多少？", "RC", "14.3亿元")],
    [("first", "车载便民法庭去过哪些区县？", "CT", "所有区县"),
     ("pronoun", "它为乡村振兴注入了什么？", "CT", "法治力量"),
     ("switch", "警快办属于哪个部门？", "JK", "市公安局")],
    [("first", "全市政法机关要借这次评选强化什么？", "OV", "数字赋能"),
     ("switch", "一书一令当事人多久能拿到保护令？", "BN", "20分钟"),
     ("offtopic", "孩子打了疫苗发烧怎么办？", "", "")],
    [("first", "莎姐是哪个单位报送的？", "SJ", "大渡口区委政法委"),
     ("na_x", "那西部金融法律服务中心呢？", "JB", "江北区委政法委"),
     ("na_x", "贵和工作法呢？", "SZ", "石柱县委政法委")],
    [("first", "荣昌那个纠纷解决中心调解室有几间？", "RC", "36间"),
     ("na_x", "那石柱的贵和工作室呢？", "SZ", "242个"),
     ("follow_up", "成功率多少？", "SZ", "99.42%")],
    [("first", "重庆的潮汐车道效果咋样？", "NA", "66.7%"),
     ("list", "十大范例里有哪些是区委政法委报送的？", "", DISTRICT),
     ("switch", "垫小二让群众打分，差评有没有减少？", "DJ", "大幅度减少")],
    [("first", "警快办注册用户和访问量各有多少？", "JK", "1714万|5.4亿人次"),
     ("switch", "一书一令司法确认有多少份？", "BN", "4800余份"),
     ("absent", "推行一书一令的28个派出所具体是哪些？", "", "")],
    [("first", "市司法局报送的案例叫什么？", "FY", "复调对接"),
     ("pronoun", "该做法提供了哪些便民渠道？", "FY", "掌上复议"),
     ("switch", "南岸区报送的案例是什么？", "NA", "潮汐车道")],
    [("first", "What is Banan's 'one document, one order' mechanism?", "BN", "司法确认书"),
     ("follow_up", "How long does it take to get the documents?", "BN", "20分钟"),
     ("offtopic", "What's the best way to get from Jiefangbei to Hongyadong?", "", "")],
    [("first", "垫小二这个名字有什么含义？", "DJ", "心甘情愿"),
     ("follow_up", "打分权交给谁？", "DJ", "企业和群众"),
     ("switch", "车载便民法庭一般去哪儿？", "CT", "田间地头")],
    [("first", "贵和工作法以什么作底？", "SZ", "和为贵"),
     ("switch", "巴南的一书一令调解成功率多少？", "BN", "98.8%"),
     ("na_x", "那石柱呢？", "SZ", "99.42%")],
    [("first", "十大改革最佳实践有哪些", "OV", TEN),
     ("ordinal", "第八个是哪个单位的？", "FY", "市司法局"),
     ("absent", "它的办公地址在哪？", "", "")],
    [("first", "重庆有没有专门保护未成年人的检察品牌？", "SJ", "莎姐"),
     ("pronoun", "它获得过多少荣誉？", "SJ", "40多项"),
     ("switch", "荣昌便民纠纷解决中心直接收了多少案？", "RC", "24336件")],
    [("first", "一書一令在多少個派出所推行？", "BN", "28个"),
     ("follow_up", "履行率呢？", "BN", "100%"),
     ("switch", "江北金融法律服務中心有幾大功能區？", "JB", "四大功能区")],
    [("first", "警快办能办多少项政务服务？", "JK", "400余项"),
     ("switch", "莎姐现在都做哪些方面的工作？", "SJ", "精准帮教"),
     ("offtopic", "怎么在网上交电费？", "", "")],
    [("first", "潮汐车道是哪个区委政法委报送的？", "NA", "南岸区委政法委"),
     ("na_x", "那莎姐呢？", "SJ", "大渡口区委政法委"),
     ("switch", "警快办电子证照申领了多少？", "JK", "1291万张")],
    [("first", "评选结果几月份发布？", "OV", "7月"),
     ("follow_up", "征集阶段在什么时候？", "OV", "2月至3月"),
     ("switch", "荣昌便民纠纷解决中心建立了什么机制？", "RC", "党政主导")],
    [("first", "垫小二实施后群众满意度有变化吗？", "DJ", "持续提升"),
     ("absent", "垫小二在哪个网站上可以打分？", "", ""),
     ("switch", "掌上复议是哪个单位推出的？", "FY", "市司法局")],
    [("first", "荣昌便民纠纷解决中心涉案标的多少？", "RC", "14.3亿元"),
     ("follow_up", "当场兑现多少？", "RC", "1.2亿元"),
     ("switch", "石柱的贵和工作法是哪个单位报送的？", "SZ", "石柱县委政法委")],
    [("first", "重庆公安有没有网上办事的平台？", "JK", "警快办"),
     ("follow_up", "注册了多少人？", "JK", "1714万"),
     ("switch", "全国首创的一书一令在哪个区？", "BN", "巴南")],
    [("first", "莎姐的检察官和志愿者各有多少？", "SJ", "416名|1678名"),
     ("switch", "车载便民法庭把哪些服务送下乡？", "CT", "诉讼服务"),
     ("offtopic", "观音桥到江北机场坐几号线？", "", "")],
    [("first", "Which county came up with the Guihe work method?", "SZ", "石柱"),
     ("follow_up", "How many disputes has it resolved?", "SZ", "20570件"),
     ("switch", "Which unit submitted the 5G mobile court?", "CT", "市高法院")],
    [("first", "十大最佳实践中有没有治理交通拥堵的？", "NA", "潮汐车道"),
     ("pronoun", "这个做法减少了哪一段的拥堵？", "NA", "大石路立交"),
     ("switch", "警快办覆盖几个警种？", "JK", "9个警种")],
    [("first", "车载便民法庭用的是什么网络？", "CT", "5G"),
     ("absent", "车载便民法庭怎么预约？", "", ""),
     ("switch", "贵和工作法的四句话是什么？", "SZ", "民为先|法为底")],
    [("first", "貴和工作法是哪個縣的？", "SZ", "石柱"),
     ("na_x", "那墊小二呢？", "DJ", "垫江"),
     ("follow_up", "點評了多少個窗口科室？", "DJ", "115个")],
    [("first", "Which unit submitted the tidal lane practice?", "NA", "南岸区委政法委"),
     ("na_x", "What about Sha Jie?", "SJ", "大渡口区委政法委"),
     ("offtopic", "Can you recommend a good hotpot place near Jiefangbei?", "", "")],
    [("first", "警快办有多少注册用户？", "JK", "1714万"),
     ("switch", "How much did Nan'an spend on the tidal lanes?", "NA", "不到200万元"),
     ("follow_up", "By how much did morning rush-hour congestion drop?", "NA", "66.7%")],
    [("first", "一书一另是什么？", "BN", "司法确认书"),
     ("follow_up", "在多少个派出所推行？", "BN", "28个"),
     ("switch", "复调对结机制是哪个单位的？", "FY", "市司法局")],
    [("first", "荣昌便民纠份解决中心收案多少？", "RC", "24336件"),
     ("offtopic", "荣昌卤鹅哪家好吃？", "", ""),
     ("switch", "警块办能办出入境业务吗？", "JK", "出入境")],
    [("first", "十大改革最佳实践名单能列一下吗？", "OV", TEN),
     ("ordinal", "最后一个是哪个县的？", "DJ", "垫江"),
     ("switch", "莎姐上过几次焦点访谈？", "SJ", "2次"),
     ("offtopic", "今天重庆限号吗？", "", "")],
    [("first", "List the ten best practices, please.", "OV", TEN),
     ("ordinal", "Which unit submitted the second one?", "RC", "荣昌区委政法委"),
     ("pronoun", "How many mediation rooms does it have?", "RC", "36间")],
    [("first", "市级部门报送的有哪几个？", "", CITY),
     ("ordinal", "第二个注册人数多少？", "JK", "1714万"),
     ("switch", "石柱化解矛盾纠纷的成功率是多少？", "SZ", "99.42%")],
    [("first", "复调对接是什么意思？", "FY", "行政争议"),
     ("follow_up", "全市有多少个便民接件点？", "FY", "1034个"),
     ("list", "县一级的最佳实践有几个，分别是什么？", "", COUNTY),
     ("ordinal", "第二个点评了多少个窗口？", "DJ", "115个")],
    [("first", "西部金融法律服务中心是哪个区的？", "JB", "江北"),
     ("na_x", "那渝事荣易解呢？", "RC", "荣昌"),
     ("switch", "警快办累计访问量是多少？", "JK", "5.4亿人次")],
]
# fmt: on

# Rarer kinds first: a session is stratified by the first of these it contains.
STRATA = ["ordinal", "na_x", "list", "absent", "offtopic", "pronoun", "switch", "follow_up", "first"]


def build() -> list[dict]:
    rows = []
    for n, session in enumerate(SESSIONS, 1):
        turns = []
        for i, (kind, question, codes, answers) in enumerate(session):
            assert (kind == "first") == (i == 0), (n, question)
            grounded = kind not in NOT_GROUNDED and bool(codes or answers)
            turns.append(
                {
                    "question": question,
                    "kind": kind,
                    "grounded": grounded,
                    "expect_cases": [CASES[c] for c in codes.split()] if grounded else [],
                    "expect_answer": answers.split("|") if grounded and answers else [],
                }
            )
        rows.append({"id": f"c-{n:03d}", "split": "dev", "turns": turns})
    strata: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        kinds = {t["kind"] for t in row["turns"]}
        strata[next(k for k in STRATA if k in kinds)].append(row)
    for stratum, group in strata.items():
        rng = random.Random(f"{SEED}:{stratum}")  # one draw per stratum: editing one leaves the others alone
        picked = rng.sample(group, round(len(group) * TEST_SHARE))
        for row in picked:
            row["split"] = "test"
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} sessions to {OUT}")


if __name__ == "__main__":
    main()
