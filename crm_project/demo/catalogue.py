# ruff: noqa: RUF001, RUF002 - Chinese full-width punctuation is intended in Chinese text.
"""Fixed vocabularies of the demo data: branches, products, names, places, occupations, texts.

Every string here goes into COPY ... WITH (FORMAT csv) unquoted, so none may contain an ASCII
comma, a double quote, a backslash or a line break (tests/crm_project/test_seed_demo.py checks).
Chinese punctuation (，：（）) is fine.
"""

from __future__ import annotations

from customers.models import ProductCategory, RiskLevel

# code, name, region (city), parent code, head office
BRANCHES = [
    ("HO0001", "总行", "北京", None, True),
    ("BJ0101", "北京朝阳支行", "北京", "HO0001", False),
    ("BJ0102", "北京海淀支行", "北京", "HO0001", False),
    ("SH0201", "上海浦东支行", "上海", "HO0001", False),
    ("GZ0301", "广州天河支行", "广州", "HO0001", False),
]
# Branches that serve customers; extra relationship managers rm3, rm4, ... go round these.
CUSTOMER_BRANCH_CODES = ["BJ0102", "SH0201", "GZ0301", "BJ0101"]

# code, name, category, risk level. Balances of deposit, wealth and insurance holdings are
# assets; balances of loans and credit cards are liabilities; a debit card carries none.
PRODUCTS = [
    ("DEP-CUR", "活期储蓄", ProductCategory.DEPOSIT, RiskLevel.R1),
    ("DEP-FIX1Y", "整存整取定期存款（1年）", ProductCategory.DEPOSIT, RiskLevel.R1),
    ("DEP-FIX3Y", "整存整取定期存款（3年）", ProductCategory.DEPOSIT, RiskLevel.R1),
    ("DEP-LCD", "大额存单（3年期）", ProductCategory.DEPOSIT, RiskLevel.R1),
    ("DEP-NOTICE", "七天通知存款", ProductCategory.DEPOSIT, RiskLevel.R1),
    ("WM-FIX90", "稳盈90天固收理财", ProductCategory.WEALTH, RiskLevel.R2),
    ("WM-FIX1Y", "安心一年期固收理财", ProductCategory.WEALTH, RiskLevel.R2),
    ("WM-MIX", "睿远平衡混合类理财", ProductCategory.WEALTH, RiskLevel.R3),
    ("WM-GOLD", "积存金", ProductCategory.WEALTH, RiskLevel.R3),
    ("WM-FUND", "沪深300指数基金（代销）", ProductCategory.WEALTH, RiskLevel.R4),
    ("WM-EQ", "成长精选股票基金（代销）", ProductCategory.WEALTH, RiskLevel.R4),
    ("WM-PE", "阳光私募证券投资基金（代销）", ProductCategory.WEALTH, RiskLevel.R5),
    ("LN-MORT", "个人住房按揭贷款", ProductCategory.LOAN, RiskLevel.R1),
    ("LN-CONS", "个人消费贷款", ProductCategory.LOAN, RiskLevel.R1),
    ("LN-BIZ", "个人经营贷款", ProductCategory.LOAN, RiskLevel.R1),
    ("CD-DEBIT", "借记卡", ProductCategory.CARD, RiskLevel.R1),
    ("CD-CREDIT", "信用卡（标准卡）", ProductCategory.CARD, RiskLevel.R1),
    ("CD-PLAT", "白金信用卡", ProductCategory.CARD, RiskLevel.R1),
    ("IN-ANNUITY", "年金保险（代销）", ProductCategory.INSURANCE, RiskLevel.R2),
    ("IN-CI", "重大疾病保险（代销）", ProductCategory.INSURANCE, RiskLevel.R2),
    ("IN-WL", "增额终身寿险（代销）", ProductCategory.INSURANCE, RiskLevel.R3),
]
PRODUCT_BY_CODE = {code: (name, category, risk) for code, name, category, risk in PRODUCTS}

# Family name, pinyin (for e-mail addresses), relative frequency (per mille, rounded).
FAMILY_NAMES = [
    ("王", "wang", 71), ("李", "li", 70), ("张", "zhang", 68), ("刘", "liu", 54), ("陈", "chen", 45),
    ("杨", "yang", 31), ("黄", "huang", 22), ("赵", "zhao", 20), ("吴", "wu", 19), ("周", "zhou", 19),
    ("徐", "xu", 13), ("孙", "sun", 13), ("马", "ma", 12), ("朱", "zhu", 11), ("胡", "hu", 10),
    ("郭", "guo", 10), ("何", "he", 9), ("林", "lin", 9), ("高", "gao", 9), ("罗", "luo", 8),
    ("郑", "zheng", 8), ("梁", "liang", 7), ("谢", "xie", 6), ("宋", "song", 6), ("唐", "tang", 6),
    ("许", "xu", 6), ("韩", "han", 5), ("邓", "deng", 5), ("冯", "feng", 5), ("曹", "cao", 5),
    ("彭", "peng", 5), ("曾", "zeng", 5), ("肖", "xiao", 4), ("田", "tian", 4), ("董", "dong", 4),
    ("潘", "pan", 4), ("袁", "yuan", 4), ("蔡", "cai", 4), ("蒋", "jiang", 4), ("余", "yu", 4),
    ("于", "yu", 4), ("杜", "du", 4), ("叶", "ye", 4), ("程", "cheng", 3), ("魏", "wei", 3),
    ("苏", "su", 3), ("吕", "lv", 3), ("丁", "ding", 3), ("任", "ren", 3), ("卢", "lu", 3),
    ("姚", "yao", 3), ("沈", "shen", 3), ("钟", "zhong", 3), ("姜", "jiang", 3), ("崔", "cui", 3),
    ("谭", "tan", 3), ("陆", "lu", 3), ("范", "fan", 2), ("汪", "wang", 2), ("廖", "liao", 2),
    ("石", "shi", 2), ("金", "jin", 2), ("韦", "wei", 2), ("贾", "jia", 2), ("夏", "xia", 2),
    ("付", "fu", 2), ("方", "fang", 2), ("邹", "zou", 2), ("熊", "xiong", 2), ("白", "bai", 2),
    ("孟", "meng", 2), ("秦", "qin", 2), ("邱", "qiu", 2), ("侯", "hou", 2), ("江", "jiang", 2),
    ("尹", "yin", 2), ("薛", "xue", 2), ("闫", "yan", 2), ("段", "duan", 2), ("雷", "lei", 2),
    ("龙", "long", 1), ("黎", "li", 1), ("史", "shi", 1), ("陶", "tao", 1), ("贺", "he", 1),
    ("毛", "mao", 1), ("郝", "hao", 1), ("顾", "gu", 1), ("龚", "gong", 1), ("邵", "shao", 1),
    ("万", "wan", 1), ("覃", "qin", 1), ("武", "wu", 1), ("钱", "qian", 1), ("戴", "dai", 1),
    ("严", "yan", 1), ("莫", "mo", 1), ("孔", "kong", 1), ("向", "xiang", 1), ("常", "chang", 1),
    ("欧阳", "ouyang", 1), ("司马", "sima", 1), ("诸葛", "zhuge", 1),
]
GIVEN_MALE = list("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙峰建国东海亮成晨博志毅坤")
GIVEN_FEMALE = list("芳娜敏静丽艳娟霞秀英玲燕萍红琳雪婷慧颖倩洁欣怡佳晶梅莉丹蕾璐瑶琪萱涵悦彤")
GIVEN_EITHER = list("文晓子一天金玉春新安雅思嘉诗雨立永清泽")
EMAIL_SYLLABLES = ["wei", "ming", "hua", "jie", "xin", "yu", "li", "jun", "hao", "fang", "lei", "yan",
                   "ting", "qiang", "jing", "chen", "bo", "kai", "lin", "xiao", "yi", "tian", "rui", "an"]
EMAIL_DOMAINS = [("qq.com", 30), ("163.com", 25), ("126.com", 10), ("sina.com", 6), ("foxmail.com", 6),
                 ("outlook.com", 8), ("gmail.com", 5), ("sohu.com", 4), ("139.com", 6)]

# Mainland mobile prefixes (three digits, all match ^1[3-9]).
MOBILE_PREFIXES = ["130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147",
                   "150", "151", "152", "153", "155", "156", "157", "158", "159", "166", "173", "177",
                   "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "195", "198",
                   "199"]

# City of a branch: its districts (ID region code, name), roads and residential compounds.
CITIES = {
    "北京": {
        "prefix": "北京市",
        "districts": [("110101", "东城区"), ("110102", "西城区"), ("110105", "朝阳区"), ("110106", "丰台区"),
                      ("110108", "海淀区"), ("110114", "昌平区")],
        "roads": ["建国路", "朝阳北路", "东三环中路", "中关村大街", "学院路", "西直门外大街", "安立路",
                  "望京街", "复兴路", "回龙观东大街"],
    },
    "上海": {
        "prefix": "上海市",
        "districts": [("310101", "黄浦区"), ("310104", "徐汇区"), ("310105", "长宁区"), ("310112", "闵行区"),
                      ("310115", "浦东新区")],
        "roads": ["南京西路", "淮海中路", "世纪大道", "张杨路", "漕溪北路", "虹桥路", "七莘路", "陆家嘴环路",
                  "天山路", "龙阳路"],
    },
    "广州": {
        "prefix": "广州市",
        "districts": [("440103", "荔湾区"), ("440104", "越秀区"), ("440105", "海珠区"), ("440106", "天河区"),
                      ("440111", "白云区")],
        "roads": ["天河路", "中山大道", "环市东路", "体育西路", "江南大道", "黄埔大道", "广州大道",
                  "新港西路", "白云大道", "珠江东路"],
    },
}
COMPOUNDS = ["阳光花园", "金色家园", "翠湖小区", "锦绣华庭", "幸福里", "和平里", "紫荆苑", "碧水湾",
             "华府名苑", "绿地公馆", "嘉园", "书香苑", "滨江花园", "丽景湾", "望江苑", "怡景新村"]
# Birthplaces of customers not born in their branch's city (ID region codes).
OTHER_REGION_CODES = ["120101", "130102", "140105", "210102", "230102", "320102", "330106", "340104",
                      "350203", "360102", "370102", "410105", "420106", "430102", "440305", "450103",
                      "500103", "510107", "530102", "610113"]

OCCUPATIONS = {
    "high_net_worth": ["企业主", "企业高管", "私营业主", "医生", "律师", "投资人", "金融从业者", "大学教授",
                       "外企高管"],
    "middle": ["工程师", "教师", "公务员", "医生", "护士", "会计", "销售经理", "软件工程师", "设计师",
               "事业单位职员", "个体工商户", "企业中层管理人员"],
    "ordinary": ["企业职员", "工人", "个体工商户", "退休人员", "学生", "自由职业者", "服务业从业者", "农民",
                 "司机", "快递员"],
}

CLOSED_REASONS = ["客户主动销户", "迁居外地", "长期不动户清理"]

SALON_TOPICS = ["家庭资产配置", "养老规划", "子女教育金规划", "税务与财富传承", "市场展望"]
# kind -> summary templates; {product} and {topic} are filled in.
INTERACTION_SUMMARIES = {
    "visit": ["网点面谈，沟通资产配置方案", "上门拜访，了解经营情况与资金需求", "理财到期续作面谈",
              "面谈介绍{product}", "陪同客户办理大额业务"],
    "call": ["电话回访，提醒{product}即将到期", "电话沟通大额存单利率", "电话告知信用卡分期优惠",
             "满意度回访电话", "电话核实客户联系方式"],
    "online": ["企业微信推送{product}产品说明", "手机银行消息回复客户咨询", "线上视频沟通家庭保障规划",
               "短信提醒证件即将到期"],
    "event": ["参加网点财富沙龙：{topic}", "参加客户答谢会", "参加反诈宣传讲座"],
}
NEXT_STEPS = ["一周内回访确认购买意向", "准备产品说明书与风险揭示书", "协调解决客户反映的问题",
              "预约网点面谈", "提醒客户更新证件信息"]
