"""A starter catalogue so a new bank has courses on day one: the manual's content areas (Ch. 5),
in English and Chinese, each with modules and a question bank for its pre- and post-test.

Re-running is harmless (courses are looked up by code); reversing removes only untouched seeds.
"""

from django.db import migrations

# (code, audience, area, mode, (title en, title zh), (summary en, summary zh),
#  [(module en, module zh, body en, body zh)],
#  [(kind, question en, question zh, [(choice en, choice zh, correct)])])
CATALOGUE = [
    (
        "crm-system-operation", "all_staff", "system_operation", "online",
        ("Using the CRM day to day", "CRM 系统日常操作"),
        ("Find a customer, read the customer 360 page, record contacts and services.",
         "查找客户、阅读客户全景视图、登记客户互动与服务记录。"),
        [
            ("Finding a customer and the 360 page", "查找客户与客户全景视图",
             "<p>Search by name, customer number, ID number or phone. The 360 page shows basic, "
             "financial, behaviour and risk information; sensitive fields are masked until you "
             "choose <strong>reveal</strong>, which is recorded in the audit log.</p>",
             "<p>可按姓名、客户号、身份证号或手机号查找。客户全景视图展示基本信息、财务信息、行为信息和风险信息；"
             "敏感字段默认脱敏，点击<strong>查看明文</strong>会记入审计日志。</p>"),
            ("Recording interactions and services", "登记客户互动与服务记录",
             "<ul><li>Record every visit, call and event the same day.</li>"
             "<li>Time each service against its standard (SOP) and tick the steps done.</li></ul>",
             "<ul><li>每次拜访、电话和活动当天登记。</li><li>每项服务按服务标准 (SOP) 计时并勾选已完成步骤。</li></ul>"),
        ],
        [
            ("single", "Who may see a customer's unmasked phone number?", "谁可以查看客户手机号明文？",
             [("Staff who serve the customer, and each reveal is audited", "服务该客户的员工，且每次查看均记入审计日志", True),
              ("Anyone signed in", "任何已登录用户", False),
              ("Nobody, ever", "任何人都不可以", False)]),
            ("true_false", "An interaction should be recorded on the day it happens.", "客户互动应当在发生当天登记。",
             [("True", "正确", True), ("False", "错误", False)]),
            ("multiple", "Which belong on a service record?", "服务记录应包含哪些内容？",
             [("The touchpoint", "服务触点", True), ("The handling time", "办理时长", True),
              ("The customer's password", "客户密码", False)]),
        ],
    ),
    (
        "crm-customer-knowledge", "front_line", "crm_knowledge", "online",
        ("Customer classification, lifecycle and value", "客户分类、生命周期与价值"),
        ("Tiers and classes, lifecycle stages, customer lifetime value and satisfaction.",
         "客户等级与分类、生命周期阶段、客户生命周期价值与满意度。"),
        [
            ("Tiers and classes", "客户等级与分类",
             "<p>Customers are classed by value, behaviour and risk, and tiered VIP, important or "
             "general by thresholds the bank sets as versioned policy.</p>",
             "<p>客户按价值、行为和风险分类，并按银行以版本化策略设定的阈值分为 VIP客户、重要客户和一般客户。</p>"),
            ("Lifecycle and lifetime value", "生命周期与客户生命周期价值",
             "<p>Stages run new, growth, mature, decline, churned. CLV adds the margin a customer "
             "brings each year, discounted and weighted by the chance they stay.</p>",
             "<p>生命周期分为新客户、成长期、成熟期、衰退期和流失。客户生命周期价值按每年贡献的利润，"
             "结合留存概率折现累计。</p>"),
        ],
        [
            ("single", "Which tier is the highest?", "哪个客户等级最高？",
             [("VIP", "VIP客户", True), ("Important", "重要客户", False), ("General", "一般客户", False)]),
            ("multiple", "Which are lifecycle stages?", "以下哪些属于生命周期阶段？",
             [("Growth", "成长期", True), ("Decline", "衰退期", True), ("Premium", "尊享期", False)]),
            ("true_false", "A customer's CLV ignores the chance they leave.", "客户生命周期价值不考虑客户流失的可能性。",
             [("True", "正确", False), ("False", "错误", True)]),
        ],
    ),
    (
        "service-complaint-handling", "front_line", "service_skills", "online",
        ("Handling complaints within the SLA", "在时限内处理投诉"),
        ("First response within 24 hours, resolution within 48, and closing the loop.",
         "24 小时内首次响应、48 小时内办结，并做好闭环管理。"),
        [
            ("The complaint clock", "投诉时限",
             "<p>Log every complaint at once. The first response is due in 24 hours and the "
             "resolution in 48; an overdue complaint is escalated to the branch manager.</p>",
             "<p>收到投诉立即登记。24 小时内首次响应，48 小时内办结；超时投诉升级至网点负责人。</p>"),
            ("Closing the loop", "闭环管理",
             "<p>After resolving, the customer gets a satisfaction survey; an unhappy answer may reopen the complaint.</p>",
             "<p>办结后向客户发送满意度调查；客户不满意可重新受理。</p>"),
        ],
        [
            ("single", "When is the first response due?", "首次响应的时限是多久？",
             [("Within 24 hours", "24 小时内", True), ("Within 48 hours", "48 小时内", False),
              ("Within a week", "一周内", False)]),
            ("true_false", "An overdue complaint is escalated to the branch manager.", "超时投诉会升级至网点负责人。",
             [("True", "正确", True), ("False", "错误", False)]),
            ("multiple", "What closes the loop on a complaint?", "投诉闭环管理包括哪些环节？",
             [("Resolution", "办结", True), ("A satisfaction survey", "满意度调查", True),
              ("Deleting the record", "删除投诉记录", False)]),
        ],
    ),
    (
        "service-communication", "front_line", "service_skills", "classroom",
        ("Communicating with customers", "客户沟通技巧"),
        ("Listening, explaining products plainly and suitability, practised in class.",
         "倾听、通俗讲解产品与适当性，课堂演练。"),
        [
            ("Listening and explaining", "倾听与讲解",
             "<p>Let the customer finish, restate what you heard, then explain in plain words. "
             "Recommend only products suitable for the customer's risk tolerance.</p>",
             "<p>让客户说完，复述所听到的内容，再用通俗的语言讲解。只推荐与客户风险承受能力相适应的产品。</p>"),
        ],
        [
            ("true_false", "A product may be recommended whatever the customer's risk tolerance.",
             "无论客户风险承受能力如何，都可以推荐任何产品。",
             [("True", "正确", False), ("False", "错误", True)]),
            ("single", "What comes first in a difficult conversation?", "面对棘手沟通，第一步应当是什么？",
             [("Listening until the customer has finished", "耐心倾听客户说完", True),
              ("Quoting the rules", "引用规章制度", False)]),
        ],
    ),
    (
        "service-complaint-drill", "front_line", "service_skills", "drill",
        ("Complaint drill", "投诉处理演练"),
        ("A role-played complaint from first contact to resolution, scored by the instructor.",
         "从首次接触到办结的投诉情景演练，由讲师评分。"),
        [
            ("Drill brief", "演练说明",
             "<p>Each participant handles one role-played complaint. The instructor scores listening, "
             "accuracy of the record and keeping to the clock.</p>",
             "<p>每位学员处理一宗模拟投诉。讲师就倾听、记录准确性和时限把控评分。</p>"),
        ],
        [],
    ),
    (
        "data-analysis-basics", "back_office", "data_analysis", "online",
        ("Reading the CRM's reports", "读懂 CRM 报表"),
        ("KPIs, segments and satisfaction figures: what they measure and how to read a change.",
         "关键绩效指标、客户分群与满意度数据：衡量什么、如何解读变化。"),
        [
            ("KPIs and their targets", "关键绩效指标与目标",
             "<p>Retention of at least 80 %, a complaint rate below 1 % and satisfaction of at least 85 % "
             "are the manual's default targets. Compare a period with the one before, not a single day.</p>",
             "<p>客户留存率不低于 80%、投诉率低于 1%、满意度不低于 85% 是手册的默认目标。"
             "应与上一周期对比，而不是只看某一天。</p>"),
            ("Data quality", "数据质量",
             "<p>A figure is only as good as the records behind it: open data-quality issues distort every report.</p>",
             "<p>数据的可信度取决于底层记录：未处理的数据质量问题会影响所有报表。</p>"),
        ],
        [
            ("single", "What is the default retention target?", "客户留存率的默认目标是多少？",
             [("At least 80 %", "不低于 80%", True), ("At least 50 %", "不低于 50%", False)]),
            ("true_false", "Open data-quality issues can distort reports.", "未处理的数据质量问题会影响报表准确性。",
             [("True", "正确", True), ("False", "错误", False)]),
        ],
    ),
]


def seed(apps, schema_editor):
    Course = apps.get_model("training", "Course")
    CourseModule = apps.get_model("training", "CourseModule")
    Question = apps.get_model("training", "Question")
    Choice = apps.get_model("training", "Choice")
    for code, audience, area, mode, titles, summaries, modules, questions in CATALOGUE:
        if Course.objects.filter(code=code).exists():
            continue
        course = Course.objects.create(
            code=code, audience=audience, area=area, mode=mode, title=titles[0], title_zh=titles[1],
            summary=summaries[0], summary_zh=summaries[1],
        )
        for position, (title, title_zh, body, body_zh) in enumerate(modules, start=1):
            CourseModule.objects.create(course=course, position=position, title=title, title_zh=title_zh,
                                        body=body, body_zh=body_zh)
        for position, (kind, text, text_zh, choices) in enumerate(questions, start=1):
            question = Question.objects.create(course=course, kind=kind, text=text, text_zh=text_zh,
                                               position=position)
            for choice_position, (choice, choice_zh, correct) in enumerate(choices, start=1):
                Choice.objects.create(question=question, text=choice, text_zh=choice_zh, is_correct=correct,
                                      position=choice_position)


def unseed(apps, schema_editor):
    Course = apps.get_model("training", "Course")
    Course.objects.filter(code__in=[row[0] for row in CATALOGUE], enrolments__isnull=True,
                          sessions__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("training", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
