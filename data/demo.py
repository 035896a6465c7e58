"""The demonstration county: 方正县, every unit of its registry, 2019 … 2023.

:func:`generate_county` produces the workbooks the units "sent in": filled
self-assessment workbooks as real people make them (the official template,
home-made tables with title rows and other column orders, text dates,
full-width digits, merged 公开类别 cells, closing rows, legacy ``.xls``),
with received dates around each year's deadline. It is deterministic for a
seed and touches no database.

:func:`build_demo` loads the registry and ingests every file through the same
code path as an upload (:func:`data.ingest.ingest_bytes`), then plays the
reviewers' part (approvals, returns, score adjustments, one K1 penalty) and
creates the demonstration accounts. :func:`run_demo` is what
``python -m data demo`` calls.
"""
from __future__ import annotations

import datetime as dt
import io
import random
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Callable

from data.registry import Unit, parse_registry
from data.template import (stable_xlsx, AUTO_TEXT, FIRST_DATA_ROW, LEDGER_HEADERS, REQUEST_HEADERS, SHEET_INFO, SHEET_LEDGER,
                           SHEET_REQUESTS, SHEET_SCORES, build_workbook, county_of, num, workbook_bytes)
from core.vocab import APPLICANT_TYPES, RESULTS
from core.scheme import Scheme, load_catalogue, scheme_for, years

REGISTRY_FILE = Path(__file__).resolve().parent / "demo" / "fangzheng-units.csv"
DEMO_ACTOR = "演示数据"
REVIEWER = "shenhe"
SITE = "http://www.fangzheng.gov.cn"

#: demonstration accounts: (name, role, password, display)
STAFF_ACCOUNTS = (
    ("admin", "admin", "admin123", "管理员"),
    ("shenhe", "reviewer", "shenhe123", "考核组"),
    ("lingdao", "leader", "lingdao123", "领导"),
)
UNIT_PASSWORD = "demo123"


# =========================================================================== working days

@lru_cache(maxsize=None)
def _is_workday(d: dt.date) -> bool:
    try:
        import chinese_calendar

        return chinese_calendar.is_workday(d)
    except Exception:  # year not covered by the package: plain Monday–Friday is good enough for a demo
        return d.weekday() < 5


def add_workdays(d: dt.date, n: int) -> dt.date:
    """The n-th working day after d (d itself not counted); n = 0 gives d."""
    while n > 0:
        d += dt.timedelta(days=1)
        if _is_workday(d):
            n -= 1
    return d


def sub_workdays(d: dt.date, n: int) -> dt.date:
    """The n-th working day before d; n = 0 gives the last working day on or before d."""
    if n == 0:
        while not _is_workday(d):
            d -= dt.timedelta(days=1)
        return d
    while n > 0:
        d -= dt.timedelta(days=1)
        if _is_workday(d):
            n -= 1
    return d


def _workday_between(rng: random.Random, a: dt.date, b: dt.date) -> dt.date:
    """A random working day in [a, b] (b if there is none)."""
    for _ in range(20):
        d = a + dt.timedelta(days=rng.randint(0, max(0, (b - a).days)))
        if _is_workday(d):
            return d
    return b


# =========================================================================== the data of one workbook

@dataclass
class ScoreLine:
    code: str
    group: str
    text: str
    printed_max: Decimal
    auto: bool
    score: Decimal | None
    note: str = ""
    evidence: list[str] = field(default_factory=list)
    typed_in_auto: str = ""  # a number somebody typed into an automatic row (ignored with a warning)


@dataclass
class Item:
    title: str
    category: str  # code
    formed: dt.date
    published: dt.date | None
    channels: list[str]
    url: str
    label: str = ""  # the category as written (canonical name or an alias)


@dataclass
class Req:
    no: str
    applicant: str
    received: dt.date
    corrected: dt.date | None
    extended: bool
    answered: dt.date | None
    result: str
    review: str


@dataclass
class Filled:
    unit: Unit
    year: int
    reporter: str
    phone: str
    report_date: dt.date
    scores: list[ScoreLine]
    items: list[Item]
    requests: list[Req]


@dataclass(frozen=True)
class DemoFile:
    """One workbook as received by the county."""
    unit: str
    year: int
    file_name: str
    content: bytes
    received: dt.date
    version: int = 1          # 2 for the corrected resubmission
    tags: tuple[str, ...] = ()  # xls, template, late, very_late, resubmission, returned_first …

    @property
    def is_xls(self) -> bool:
        return self.file_name.lower().endswith(".xls")


@dataclass
class Profile:
    """A unit's habits, kept from year to year (the same clerk fills the form)."""
    unit: Unit
    index: int
    diligence: float
    reporter: str
    phone: str
    fmt: str              # template | custom | xls
    date_style: str       # date | iso | slash | cn | dot | compact | mixed
    fullwidth: bool
    alias_rate: float
    channel_sep: str
    evidence_sep: str
    no_style: int
    name_style: int
    request_level: int


# =========================================================================== word banks

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高于郑曲姜宋董韩冯邢鲁"
GIVEN = ["丽", "伟", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "海燕",
         "志强", "建华", "玉兰", "晓东", "春梅", "德胜", "立新", "红梅", "雪", "鹏", "宇", "淑华", "国庆", "丽娜"]
VILLAGES = ["民主村", "胜利村", "新兴村", "永安村", "长兴村", "东升村", "太平村", "红旗村", "建国村", "前进村",
            "和平村", "向阳村", "福兴村", "双龙村", "团结村", "丰收村", "德胜村", "富强村", "振兴村", "兴隆村"]
TOPICS = ["农村人居环境整治", "秸秆综合利用", "城乡环境卫生管理", "公共资源交易", "政府投资项目",
          "安全生产责任制", "河湖长制", "村级财务管理", "防汛抗旱", "营商环境优化", "居家养老服务",
          "冬季供热保障", "农村饮水安全", "森林防火", "燃气安全"]
PROJECTS = ["县城集中供热管网改造", "方正至大罗密公路改扩建", "县第二水厂", "城区污水处理厂提标改造",
            "高标准农田建设", "林下经济产业园", "县人民医院门诊楼", "松花江堤防加固", "老旧小区改造", "乡村道路硬化"]
PURCHASES = ["办公设备", "公务用车", "信息化平台运维服务", "物业管理服务", "课桌椅", "医疗设备",
             "环境监测设备", "路灯维修", "绿化养护服务", "档案数字化服务"]
DOCS = ["乡村振兴战略实施意见", "优化营商环境若干措施", "城乡居民医疗保险实施办法", "就业创业扶持政策",
        "农机购置补贴实施方案", "生态环境保护工作要点", "住房公积金管理办法", "困难群众救助办法"]
NUM_CN = "一二三四"


def _short(unit: Unit) -> str:
    n = unit.name
    if n.endswith("人民政府办公室"):
        return "县政府办"
    return n.replace("方正县", "县", 1) if n.startswith("方正县") else n


def _title_for(rng: random.Random, code: str, unit: Unit, year: int, formed: dt.date) -> str:
    u, y, m = _short(unit), year, formed.month
    v = rng.choice(VILLAGES)
    q = NUM_CN[(m - 1) // 3]
    n = rng.randint(1, 60)
    topic, proj, doc = rng.choice(TOPICS), rng.choice(PROJECTS), rng.choice(DOCS)
    bank = {
        "C01": [f"{u}机构职能及内设机构", f"{u}领导班子成员及分工调整", f"{u}办公地址、办公时间及联系方式",
                f"{u}内设机构职责"],
        "C02": [f"关于印发《{u}{topic}管理办法》的通知", f"关于进一步加强{topic}工作的通知",
                f"{u}行政规范性文件目录（{y}年）", f"{u}规范性文件清理结果"],
        "C03": [f"{u}{y}年工作要点", f"{u}{y}年工作计划", f"{u}{y}年上半年工作总结及下半年工作计划",
                f"{u}{y}年{topic}工作实施方案"],
        "C04": [f"{y}年{m}月主要统计数据", f"{y}年第{q}季度统计信息", f"方正县{y - 1}年国民经济和社会发展统计公报"],
        "C05": [f"{u}政务服务事项清单（{y}年版）", f"{u}行政许可事项办事指南", f"{u}“最多跑一次”事项目录",
                f"{u}{y}年{m}月行政许可办理结果公示"],
        "C06": [f"{u}{y}年{m}月行政处罚案件信息公示", f"{u}行政处罚决定书（〔{y}〕第{n}号）",
                f"{u}行政强制措施信息公示"],
        "C07": [f"{u}{y}年部门预算", f"{u}{y - 1}年部门决算", f"{u}{y}年“三公”经费预算情况说明",
                f"{u}{y - 1}年“三公”经费决算情况说明"],
        "C08": [f"{u}行政事业性收费项目目录", f"{u}涉企收费清单（{y}年）"],
        "C09": [f"{u}{rng.choice(PURCHASES)}采购项目公开招标公告", f"{u}{rng.choice(PURCHASES)}采购项目中标结果公告",
                f"{u}{y}年政府采购意向公开"],
        "C10": [f"{proj}项目批准信息", f"{proj}项目施工进展情况", f"{proj}项目招标投标信息", f"{proj}项目竣工验收信息"],
        "C11": [f"{y}年城乡居民基本医疗保险参保缴费政策", f"关于做好{y}年高校毕业生就业工作的通知",
                f"{y}年义务教育阶段招生入学政策", f"{y}年城乡居民养老保险待遇调整政策"],
        "C12": [f"{u}防汛抗旱应急预案", f"关于做好{y}年汛期安全防范工作的通知", f"{u}森林草原防火工作方案",
                f"{u}突发事件总体应急预案（修订）"],
        "C13": [f"{u}{y}年{m}月“双随机、一公开”抽查结果", f"{y}年第{q}季度安全生产检查情况通报",
                f"{u}{y}年{topic}专项检查结果"],
        "C14": [f"{u}{y}年公开招聘公益性岗位人员公告", f"{u}{y}年公开招聘工作人员拟聘用人员公示",
                f"{u}{y}年公务员招录体检结果公告"],
        "C15": [f"关于《{u}{topic}实施方案（征求意见稿）》公开征求意见的公告",
                f"关于《{u}{topic}管理办法（征求意见稿）》公开征求意见的通知",
                f"{u}{topic}实施方案意见收集和采纳情况"],
        "C16": [f"{u}权力清单和责任清单（{y}年调整）", f"{u}权责清单动态调整情况", f"{u}行政权力运行流程图"],
        "C17": [f"{u}行政执法主体及执法人员名单", f"{u}行政执法事项清单", f"{u}{y}年{m}月行政执法结果公示",
                f"{u}重大执法决定法制审核目录清单"],
        "C18": [f"{u}关于{y - 1}年度审计发现问题整改情况的报告", f"{u}{topic}督查反馈问题整改情况",
                f"{u}巡察反馈意见整改落实情况"],
        "C19": [f"《{doc}》政策解读", f"图解：{doc}", f"{u}关于《{doc}》的解读"],
        "C20": [f"{u}{y - 1}年政府信息公开工作年度报告"],
        "C21": [f"{y}年耕地地力保护补贴发放情况公示", f"{y}年玉米和大豆生产者补贴面积公示",
                f"{u}{y}年农机购置补贴发放情况", f"{u}{y}年惠农补贴“一卡通”发放情况"],
        "C22": [f"{v}{y}年农田水利工程建设项目公示", f"{u}{y}年小型农田水利设施维修养护情况",
                f"{v}灌溉渠道清淤工程公示"],
        "C23": [f"{v}土地承包经营权流转情况公示", f"{u}{y}年土地流转合同备案情况", f"{v}土地确权成果公示"],
        "C24": [f"{v}农户宅基地使用申请审核公示", f"{u}{y}年第{q}批宅基地审批结果公示"],
        "C25": [f"{u}{proj}征地补偿安置方案公告", f"{proj}项目房屋征收补偿决定", f"{u}{y}年土地征收启动公告"],
        "C26": [f"{v}{y}年一事一议筹资筹劳方案公示", f"{v}一事一议项目资金使用情况"],
        "C27": [f"{u}{y}年{m}月城乡低保发放名册", f"{u}{y}年{m}月特困人员供养金发放情况",
                f"{u}{y}年临时救助对象公示"],
        "C28": ([f"{u}{y}年扶贫项目计划公示", f"{u}{y}年扶贫资金使用情况公告", f"{v}{y}年产业扶贫项目验收公示"]
                if y <= 2020 else
                [f"{u}{y}年衔接推进乡村振兴补助资金项目计划公示", f"{u}{y}年衔接资金使用情况公告",
                 f"{v}{y}年帮扶产业项目验收公示"]),
        "C29": [f"{y}年县城道路维修改造工程公示", f"{y}年老旧小区改造计划", f"{y}年城区供排水管网改造情况"],
        "C30": [f"关于开展{topic}专项整治的通告", f"{y}年冬季道路交通安全管理通告", "关于办理居住证有关事项的公告"],
    }
    return rng.choice(bank[code])


REASONS = {
    "A1": "政务公开领导小组人员调整后未及时发文",
    "A2": "年度工作方案印发时间较晚",
    "A3": "工作人员为兼职，变动后交接不及时",
    "B1": "部分重大决策未在决策前公开草案",
    "B2": "意见采纳情况公布不完整",
    "B3": "个别决策公开不及时",
    "B4": "部分民生议题未邀请利益相关方列席",
    "C1": "重点工作进展公开更新不及时",
    "C2": "审计整改情况公开内容不够具体",
    "C3": "问责典型案例通报较少",
    "D1": "权责清单未按机构改革后职责及时调整",
    "D2": "执法结果公示不全",
    "D3": "监管信息公开栏目更新较慢",
    "D4": "专项资金分配结果公开不够细化",
    "E1": "落实结果公开内容偏少",
    "E2": "为民办实事项目进展公开不及时",
    "E3": "未开展第三方评估",
    "F1": "规范性文件清理结果未单独公开",
    "F2": "突发事件信息发布不够及时",
    "F3": "主动公开目录未完全覆盖",
    "G2": "个别答复书未告知救济途径",
    "I2": "培训次数偏少",
    "I3": "保密审查记录签署不全",
    "I4": "年度报告发布时间晚于规定",
}
EVIDENCE_DOCS = {
    "A1": "关于调整政务公开工作领导小组的通知.pdf",
    "A2": "{y}年政务公开工作要点.docx",
    "A3": "政务公开工作人员名单.xlsx",
    "B1": "重大决策预公开目录.xlsx",
    "C2": "审计整改报告.pdf",
    "D1": "权责清单.xlsx",
    "I2": "政务公开培训签到表.pdf",
    "I3": "保密审查登记簿（扫描件）.pdf",
}
FULL_NOTES = ["按要求完成", "已落实", "", "", "", "符合要求", "全面落实"]


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "0" <= ch <= "9" else ch for ch in s)


# =========================================================================== generation

def _units() -> list[Unit]:
    return parse_registry(REGISTRY_FILE.read_text(encoding="utf-8"), REGISTRY_FILE.name)


def _profile(rng: random.Random, unit: Unit, index: int) -> Profile:
    r = rng.random()
    fmt = "template" if r < 0.5 else ("custom" if r < 0.78 else "xls")
    heavy = unit.name in ("方正县自然资源局", "方正县住房和城乡建设局", "方正县公安局", "方正县人力资源和社会保障局",
                          "方正县农业农村局", "方正县生态环境局", "方正县市场监督管理局")
    return Profile(
        unit=unit, index=index,
        diligence=rng.uniform(0.35, 1.0),
        reporter=rng.choice(SURNAMES) + rng.choice(GIVEN),
        phone=f"0451-57{rng.randint(100000, 999999)}",
        fmt=fmt,
        date_style=rng.choice(["date", "date", "date", "iso", "slash", "cn", "dot", "compact", "mixed"]),
        fullwidth=rng.random() < 0.15,
        alias_rate=rng.choice([0.0, 0.0, 0.0, 0.1, 0.25]),
        channel_sep=rng.choice(["、", "、", "、", "，", ";"]),
        evidence_sep=rng.choice(["\n", "\n", "；", ";"]),
        no_style=rng.randint(0, 3),
        name_style=rng.randint(0, 4),
        request_level=2 if heavy else (1 if unit.unit_type == "乡镇" else rng.choice([0, 0, 1])),
    )


def _story(rng: random.Random, units: list[Unit], yrs: list[int]) -> dict:
    """Which unit does what when: the events a reviewer should find in the demo."""
    towns = [u.name for u in units if u.unit_type == "乡镇"]
    depts = [u.name for u in units if u.unit_type == "部门"]
    missing = {(rng.choice(depts), yrs[0])}
    if len(yrs) > 2:
        missing.add((rng.choice(towns), yrs[2]))
    if len(yrs) > 1:
        missing.add((rng.choice([d for d in depts if (d, yrs[0]) not in missing]), yrs[-1]))
    pool = [(u.name, y) for u in units for y in yrs if (u.name, y) not in missing]
    rng.shuffle(pool)
    resub = next(p for p in pool if p[1] == yrs[min(1, len(yrs) - 1)])
    very_late = next(p for p in pool if p[1] == yrs[min(2, len(yrs) - 1)] and p != resub)
    late: set[tuple[str, int]] = set()
    for y in yrs:
        cands = [p for p in pool if p[1] == y and p not in (resub, very_late)]
        late.update(cands[: (2 if y == yrs[0] else 1 + (y % 2))])
    old_form = None
    changed = [y for y in yrs[1:] if scheme_for(y).weights() != scheme_for(y - 1).weights()] if len(yrs) > 1 else []
    if changed:
        old_form = next(p for p in pool if p[1] == changed[0] and p not in late and p != very_late)
    corrected_review = next(p for p in pool if p[1] == yrs[min(1, len(yrs) - 1)] and p != resub)
    # two struggling units (one of each type) that start weak and catch up year by year
    weak = {rng.choice([t for t in towns if t != resub[0]]), rng.choice([d for d in depts if d != resub[0]])}
    return {"missing": missing, "resubmit": resub, "very_late": very_late, "late": late - {very_late},
            "old_form": old_form, "corrected_review": corrected_review, "weak": weak}


def _received_date(rng: random.Random, scheme: Scheme, kind: str) -> dt.date:
    c = scheme.cutoff
    if kind == "very_late":
        return add_workdays(c, rng.randint(scheme.late_submission_days + 2, scheme.late_submission_days + 9))
    if kind == "late":
        return add_workdays(c, rng.randint(1, scheme.late_submission_days))
    k = rng.choices([0, 1, 2, 3, 4, 5, 6, 8, 10, 13], weights=[14, 14, 12, 10, 9, 8, 6, 5, 4, 3])[0]
    return sub_workdays(c, k)


def _late_share(year_idx: int, diligence: float) -> float:
    """Share of items published after 20 working days: the county improves year after year."""
    base = 0.17 * (0.78 ** year_idx)
    return max(0.0, min(0.5, base * (1.7 - diligence) * (1.6 if diligence < 0.3 else 1.0)))


def _scores(rng: random.Random, prof: Profile, scheme: Scheme, year_idx: int, printed: Scheme,
            bonus: int, slug: str) -> list[ScoreLine]:
    out = []
    p_deduct = max(0.04, 0.10 + 0.28 * (1 - prof.diligence) - 0.015 * year_idx)
    amounts = ["0.5", "1", "1", "1", "1.5", "2"]
    if prof.diligence < 0.3:  # a struggling unit is honest about it
        p_deduct += 0.2
        amounts = ["1", "1", "1.5", "2", "2", "3"]
    for ind in scheme.indicators:
        pmax = printed.weights().get(ind.code, ind.max)
        if ind.type == "auto":
            out.append(ScoreLine(ind.code, ind.group, ind.text, pmax, True, None, AUTO_TEXT))
            continue
        if ind.type == "bonus":
            if bonus:
                note = rng.choice(["政务公开经验做法被市政务公开办转发推广", "获市级政务公开工作先进单位表彰",
                                   "“阳光村务”做法在全市推广"])
                ev = [f"哈尔滨市政务公开办关于推广经验做法的通知（{scheme.year}年）.pdf"]
                if bonus > 1:
                    note += "；另有一项做法被省级简报刊发"
                    ev.append(f"{SITE}/{slug}/{scheme.year}/jyzf.html")
                out.append(ScoreLine(ind.code, ind.group, ind.text, pmax, False, Decimal(bonus), note, ev))
            else:
                out.append(ScoreLine(ind.code, ind.group, ind.text, pmax, False, Decimal(0), rng.choice(["无", "", ""])))
            continue
        score, note = ind.max, rng.choice(FULL_NOTES)
        if rng.random() < p_deduct:
            d = Decimal(rng.choice(amounts))
            d = min(d, ind.max / 2)
            score = ind.max - d
            note = f"{REASONS.get(ind.code, '部分工作开展不够到位')}，扣{num(d)}分"
        ev = []
        if rng.random() < 0.85:
            doc = EVIDENCE_DOCS.get(ind.code)
            if doc and rng.random() < 0.6:
                ev.append(doc.format(y=scheme.year))
            ev.append(f"{SITE}/{slug}/{scheme.year}/{ind.code.lower()}_{rng.randint(100, 999)}.html")
        out.append(ScoreLine(ind.code, ind.group, ind.text, pmax, False, score, note, ev))
    return out


def _channels(rng: random.Random, unit: Unit) -> list[str]:
    if unit.unit_type == "乡镇":
        opts = [(["政府网站"], 40), (["政府网站", "公开栏"], 28), (["公开栏"], 14), (["政府网站", "政务新媒体"], 13),
                (["其他"], 3), (["政府网站", "政务新媒体", "公开栏"], 2)]
    else:
        opts = [(["政府网站"], 58), (["政府网站", "政务新媒体"], 30), (["政务新媒体"], 6), (["其他"], 3),
                (["政府网站", "公开栏"], 3)]
    return list(rng.choices([o for o, _ in opts], weights=[w for _, w in opts])[0])


def _publish(rng: random.Random, formed: dt.date, late_share: float, *, must: bool = False) -> dt.date | None:
    if not must and rng.random() < 0.02:
        return None  # never published
    if rng.random() < late_share:
        lag = rng.randint(21, 45)
    else:
        lag = rng.choices(range(0, 21), weights=[4, 10, 10, 9, 8, 7, 6, 6, 5, 5, 4, 4, 3, 3, 3, 2, 2, 2, 2, 2, 1])[0]
    return add_workdays(formed, lag)


def _ledger(rng: random.Random, prof: Profile, scheme: Scheme, year_idx: int, received: dt.date,
            slug: str, gaps: list[str]) -> list[Item]:
    cat = load_catalogue()
    unit, y = prof.unit, scheme.year
    required = list(scheme.required[unit.unit_type]) + [c for c in unit.extra_categories
                                                       if c not in scheme.required[unit.unit_type]]
    covered = [c for c in required if c not in gaps]
    optional_pool = {"乡镇": ["C02", "C05", "C11", "C12", "C19", "C06", "C09", "C04"],
                     "部门": ["C02", "C04", "C05", "C06", "C09", "C11", "C12", "C13", "C14", "C17", "C10", "C08"]}
    optional = [c for c in optional_pool[unit.unit_type] if c not in required]
    n = rng.randint(30, 80) if unit.unit_type == "乡镇" else rng.randint(30, 70)
    late = _late_share(year_idx, prof.diligence)
    last_formed = min(scheme.year_end, received - dt.timedelta(days=1))
    pub_limit = min(received, scheme.cutoff)
    items: list[Item] = []

    def formed_date(code: str, anchor: bool) -> dt.date:
        if code == "C20":  # the previous year's annual report, due by 31 January
            return _workday_between(rng, dt.date(y, 1, 8), dt.date(y, 1, 28))
        if code == "C07":
            return _workday_between(rng, dt.date(y, 2, 10), dt.date(y, 4, 20)) if rng.random() < 0.6 else \
                _workday_between(rng, dt.date(y, 7, 1), dt.date(y, 9, 15))
        if anchor:
            return _workday_between(rng, dt.date(y, 1, 15), dt.date(y, 10, 31))
        r = rng.random()
        if r < 0.07:  # late December: the 20 working days run into the next year
            return _workday_between(rng, dt.date(y, 12, 12), last_formed)
        return _workday_between(rng, dt.date(y, 1, 3), last_formed)

    def add(code: str, anchor: bool) -> None:
        formed = min(formed_date(code, anchor), last_formed)
        pub = _publish(rng, formed, late if not anchor else late * 0.6, must=anchor)
        if pub is not None and pub > received:
            pub = None  # still being prepared when the workbook was sent: pending
        if anchor and (pub is None or pub > pub_limit):
            pub = add_workdays(formed, rng.randint(1, 8))
        items.append(_item(rng, prof, code, y, formed, pub, slug, cat))

    for c in covered:
        add(c, True)
    weights = [(c, 4) for c in covered] + [(c, 1) for c in optional]
    caps = {"C20": 1, "C01": 3, "C07": 4, "C16": 2, "C08": 2, "C04": 6, "C14": 4}
    count: dict[str, int] = {}
    for it in items:
        count[it.category] = count.get(it.category, 0) + 1
    attempts = 0
    while len(items) < n and attempts < 2000:
        attempts += 1
        c = rng.choices([c for c, _ in weights], weights=[w for _, w in weights])[0]
        if count.get(c, 0) >= caps.get(c, 99):
            continue
        count[c] = count.get(c, 0) + 1
        add(c, False)
    # a gap category may still appear, but only as an item that never got published
    for c in gaps:
        if rng.random() < 0.3:
            formed = _workday_between(rng, dt.date(y, 3, 1), dt.date(y, 10, 31))
            items.append(_item(rng, prof, c, y, formed, None, slug, cat))
    # an item formed in the last days of the previous year (stored, not counted: a warning)
    if rng.random() < 0.12:
        formed = _workday_between(rng, dt.date(y - 1, 12, 20), dt.date(y - 1, 12, 30))
        items.append(_item(rng, prof, rng.choice(covered or required), y, formed,
                           add_workdays(formed, rng.randint(2, 10)), slug, cat))
    items.sort(key=lambda i: i.formed)
    return items


def _item(rng, prof: Profile, code: str, year: int, formed: dt.date, pub: dt.date | None, slug: str, cat) -> Item:
    title = _title_for(rng, code, prof.unit, year, formed)
    ch = _channels(rng, prof.unit) if pub else []
    url = ""
    if pub and "政府网站" in ch:
        url = f"{SITE}/{slug}/{pub:%Y%m}/t{pub:%Y%m%d}_{rng.randint(10000, 99999)}.html"
    elif pub and "政务新媒体" in ch and rng.random() < 0.7:
        url = "https://mp.weixin.qq.com/s/" + "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                                                   for _ in range(22))
    c = cat.by_code(code)
    label = c.name
    if c.aliases and rng.random() < prof.alias_rate:
        label = rng.choice(c.aliases)
    return Item(title, code, formed, pub, ch, url, label)


def _requests(rng: random.Random, prof: Profile, scheme: Scheme, year_idx: int, received_file: dt.date,
              force_corrected: bool) -> list[Req]:
    lvl = prof.request_level
    if lvl == 0:
        k = rng.choices([0, 1, 2], weights=[6, 3, 1])[0]
    elif lvl == 1:
        k = rng.choices([0, 1, 2, 3, 4, 5], weights=[3, 3, 3, 2, 1, 1])[0]
    else:
        k = rng.randint(3, 8)
    if force_corrected:
        k = max(k, 2)
    y = scheme.year
    last = min(scheme.year_end, received_file - dt.timedelta(days=1))
    dates = sorted(_workday_between(rng, dt.date(y, 1, 3), last) for _ in range(k))
    switch = [r.start for r in scheme.request_rules if scheme.year_start < r.start <= scheme.year_end]
    if switch and k >= 2 and dates[0] >= switch[0]:
        # a request received while the old rule (the 2008 条例, 15 working days) still applied
        dates[0] = _workday_between(rng, dt.date(y, 2, 18), switch[0] - dt.timedelta(days=5))
        dates.sort()
    out = []
    late_share = max(0.03, 0.22 * (0.75 ** year_idx) * (1.6 - prof.diligence))
    abbr = ["FZ", "YSQ", "GK"][prof.index % 3]
    for i, rec in enumerate(dates, start=1):
        no = [f"{abbr}-{y}-{i:03d}", f"{y}第{i}号", f"依申请〔{y}〕{i}号", f"{y}{i:03d}"][prof.no_style]
        applicant = rng.choices(APPLICANT_TYPES, weights=[70, 10, 3, 4, 8, 5])[0]
        corrected = add_workdays(rec, rng.randint(2, 8)) if rng.random() < 0.2 else None
        extended = rng.random() < 0.1
        rule = [r for r in scheme.request_rules if r.start <= rec][-1]
        days = rule.extended_days if extended else rule.days
        start = corrected or rec
        if rng.random() < late_share:
            ans = add_workdays(start, days + rng.randint(1, 12))
        else:
            ans = add_workdays(start, rng.randint(2, days))
        if corrected and corrected > received_file:
            corrected = None
        result = rng.choices(RESULTS, weights=[45, 12, 8, 22, 8, 5])[0]
        review = ""
        if ans > received_file:
            ans, result = None, ""
        else:
            r = rng.random()
            if r < 0.04:
                review = "维持"
            elif r < 0.05:
                review = "尚未审结"
            elif r < 0.055:
                review = "其他结果"
            elif r < 0.062:
                review = "纠正"
        out.append(Req(no, applicant, rec, corrected, extended, ans, result, review))
    if force_corrected and out:
        answered = [r for r in out if r.answered]
        if answered:
            answered[0].review = "纠正"
            answered[0].result = "不予公开"
    return out


def _slug(prof: Profile) -> str:
    return f"{'xz' if prof.unit.unit_type == '乡镇' else 'bm'}{prof.index:02d}"


def _fill(rng: random.Random, prof: Profile, scheme: Scheme, year_idx: int, received: dt.date, *,
          printed: Scheme, force_corrected: bool) -> Filled:
    slug = _slug(prof)
    required = list(scheme.required[prof.unit.unit_type]) + list(prof.unit.extra_categories)
    required = list(dict.fromkeys(required))
    p_gap = max(0.1, 0.5 - 0.07 * year_idx) * (1.5 - prof.diligence)
    gaps: list[str] = []
    if rng.random() < p_gap:
        k = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
        prefer = [c for c in required if c not in ("C01", "C07", "C20")]
        gaps = rng.sample(prefer, min(k, len(prefer)))
    bonus = 0
    if rng.random() < 0.05 + 0.15 * prof.diligence:
        bonus = rng.choice([1, 1, 1, 2])
    scores = _scores(rng, prof, scheme, year_idx, printed, bonus, slug)
    items = _ledger(rng, prof, scheme, year_idx, received, slug, gaps)
    reqs = _requests(rng, prof, scheme, year_idx, received, force_corrected)
    report_date = sub_workdays(received, rng.choice([0, 0, 0, 1, 1, 2, 3]))
    return Filled(prof.unit, scheme.year, prof.reporter, prof.phone, report_date, scores, items, reqs)


def _corrected_version(rng: random.Random, f: Filled, scheme: Scheme, received2: dt.date, slug: str,
                       category: str) -> Filled:
    """The resubmission: the unit adds the missing category's items and lowers B1 by one point."""
    cat = load_catalogue()
    v2 = replace(f, scores=[replace(s) for s in f.scores], items=list(f.items), requests=list(f.requests),
                 report_date=sub_workdays(received2, 1))
    y = scheme.year
    for k in range(2):
        formed = _workday_between(rng, dt.date(y, 4 + 3 * k, 1), dt.date(y, 5 + 3 * k, 28))
        pub = add_workdays(formed, rng.randint(2, 9))
        v2.items.append(Item(_title_for(rng, category, f.unit, y, formed), category, formed, pub, ["政府网站"],
                             f"{SITE}/{slug}/{pub:%Y%m}/t{pub:%Y%m%d}_{rng.randint(10000, 99999)}.html",
                             cat.by_code(category).name))
    v2.items.sort(key=lambda i: i.formed)
    for s in v2.scores:
        if s.code == "B1" and not s.auto and s.score is not None and s.score >= 1:
            s.score = s.score - Decimal(1)
            s.note = "经核查，部分重大决策未在决策前公开草案，扣1分"
            break
    return v2


# =========================================================================== rendering: a neutral grid

@dataclass
class Grid:
    name: str
    cells: dict[tuple[int, int], object] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r0, c0, r1, c1 (0-based)
    widths: dict[int, int] = field(default_factory=dict)
    bold: set[int] = field(default_factory=set)
    date_format: str = "yyyy-mm-dd"

    def row(self, r: int, values: list) -> None:
        for c, v in enumerate(values):
            if v is not None and v != "":
                self.cells[(r, c)] = v


def _date_value(d: dt.date | None, style: str, rng: random.Random, fullwidth: bool):
    if d is None:
        return None
    if style == "mixed":
        style = rng.choice(["date", "date", "iso", "slash", "cn", "datetime"])
    if style == "date":
        return d
    if style == "datetime":
        return dt.datetime(d.year, d.month, d.day, rng.randint(8, 17), rng.choice([0, 10, 20, 30, 45]))
    s = {"iso": f"{d:%Y-%m-%d}", "slash": f"{d.year}/{d.month}/{d.day}", "cn": f"{d.year}年{d.month}月{d.day}日",
         "dot": f"{d.year}.{d.month}.{d.day}", "compact": f"{d:%Y%m%d}"}[style]
    if fullwidth and style == "cn":
        s = _fullwidth(s)
    return s


def _score_value(v: Decimal | None, prof: Profile, rng: random.Random):
    if v is None:
        return None
    if prof.fullwidth and rng.random() < 0.3:
        return _fullwidth(str(num(v)))
    if prof.date_style in ("cn", "mixed") and rng.random() < 0.2:
        return f"{num(v)}分"
    return num(v)


def _custom_grids(rng: random.Random, prof: Profile, f: Filled, scheme: Scheme) -> list[Grid]:
    county = county_of(scheme)
    y = f.year
    title = f"{county}{y}年政务公开工作自评表"
    unit = f.unit
    grids = []

    # ---- 单位信息
    g = Grid(rng.choice([SHEET_INFO, SHEET_INFO, "单位信息 "]))
    typ = unit.unit_type
    if rng.random() < 0.4:
        typ = ("镇" if unit.name.endswith("镇") else "乡") if typ == "乡镇" else rng.choice(["县直部门", "县直单位", "部门"])
    year_v = rng.choice([y, y, f"{y}年", float(y)] + ([_fullwidth(str(y))] if prof.fullwidth else []))
    date_v = _date_value(f.report_date, prof.date_style if prof.date_style != "mixed" else "cn", rng, prof.fullwidth)
    pairs = [("单位名称", unit.name), ("单位类型", typ), ("考核年度", year_v), ("填报人", f.reporter),
             ("联系电话", f.phone), ("填报日期", date_v)]
    layout = prof.index % 3
    g.row(0, [title])
    if layout == 0:  # labels in A, values in B
        for r, (k, v) in enumerate(pairs, start=1):
            g.row(r, [k, v])
        g.merges.append((0, 0, 0, 1))
        g.widths = {0: 14, 1: 36}
    elif layout == 1:  # a blank row, labels with a colon in B, values in C; 填报单位 for 单位名称
        g.row(1, [])
        for r, (k, v) in enumerate(pairs, start=2):
            k = {"单位名称": "填报单位", "考核年度": "年度"}.get(k, k) if r % 2 == 0 else k
            g.row(r, [None, k + "：", v])
        g.merges.append((0, 0, 0, 3))
        g.widths = {0: 4, 1: 14, 2: 36}
    else:  # two pairs per row
        for i in range(0, 6, 2):
            (k1, v1), (k2, v2) = pairs[i], pairs[i + 1]
            g.row(1 + i // 2, [k1, v1, None, k2, v2])
        g.merges.append((0, 0, 0, 4))
        g.widths = {0: 12, 1: 30, 2: 3, 3: 12, 4: 22}
    g.bold.add(0)
    grids.append(g)

    # ---- 自评打分
    g = Grid(SHEET_SCORES)
    variant = rng.randint(0, 2)
    if variant == 0:
        heads = ["指标编号", "一级指标", "二级指标", "分值", "自评得分", "自评说明", "佐证材料"]
    elif variant == 1:
        heads = ["序号", "编号", "考核项目", "考核内容", "标准分", "自评分", "得分说明", "佐证材料链接"]
    else:
        heads = ["指标编号", "考核项目", "考核指标", "满分", "自评\n得分", "说明", "佐证"]
    keys = {"指标编号": "code", "编号": "code", "一级指标": "group", "考核项目": "group", "二级指标": "text",
            "考核内容": "text", "考核指标": "text", "分值": "max", "标准分": "max", "满分": "max",
            "自评得分": "score", "自评分": "score", "自评\n得分": "score", "自评说明": "note", "得分说明": "note",
            "说明": "note", "佐证材料": "ev", "佐证材料链接": "ev", "佐证": "ev", "序号": "seq"}
    r = 0
    g.row(r, [title])
    g.merges.append((0, 0, 0, len(heads) - 1))
    g.bold.add(0)
    r += 1
    if rng.random() < 0.5:
        g.row(r, [f"填报单位（盖章）：{unit.name}", None, None, None, f"填报日期：{f.report_date.year}年{f.report_date.month}月{f.report_date.day}日"])
        r += 1
    g.row(r, heads)
    g.bold.add(r)
    r += 1
    include_auto = rng.random() < 0.7
    typed_auto = rng.random() < 0.08
    seq = 0
    group_start: tuple[int, str] | None = None
    gcol = next((i for i, h in enumerate(heads) if keys[h] == "group"), None)
    total = Decimal(0)
    for s in f.scores:
        if s.auto and not include_auto:
            continue
        seq += 1
        vals = {"code": s.code, "group": s.group, "text": s.text, "max": num(s.printed_max), "seq": seq,
                "score": _score_value(s.score, prof, rng), "note": s.note,
                "ev": prof.evidence_sep.join(s.evidence)}
        if s.auto:
            vals["score"] = num(s.printed_max) if typed_auto and s.code in ("H1", "I1") else None
        if s.score is not None:
            total += s.score
        g.row(r, [vals[keys[h]] for h in heads])
        if gcol is not None:
            if group_start is None or group_start[1] != s.group:
                if group_start is not None and r - 1 > group_start[0]:
                    g.merges.append((group_start[0], gcol, r - 1, gcol))
                group_start = (r, s.group)
        r += 1
    if gcol is not None and group_start is not None and r - 1 > group_start[0]:
        g.merges.append((group_start[0], gcol, r - 1, gcol))
    if rng.random() < 0.6:
        sc = next(i for i, h in enumerate(heads) if keys[h] == "score")
        g.row(r, ["合计"] + [None] * (sc - 1) + [num(total), "自评得分合计（不含自动计算指标）"])
        r += 1
    if rng.random() < 0.3:
        g.row(r, ["备注：灰色为系统自动计算指标，不需自评。"])
    g.widths = {i: {"text": 46, "note": 30, "ev": 40, "group": 12}.get(keys[h], 9) for i, h in enumerate(heads)}
    grids.append(g)

    # ---- 主动公开台账
    g = Grid(rng.choice([SHEET_LEDGER, SHEET_LEDGER, "主动公开 台账"]))
    v = rng.randint(0, 3)
    if v == 0:
        heads = list(LEDGER_HEADERS)
    elif v == 1:
        heads = ["序号", "公开类别", "信息名称", "形成日期", "公开日期", "公开渠道", "链接", "责任股室"]
    elif v == 2:
        heads = ["序号", "公开事项", "信息类别", "成文日期", "发布日期", "发布渠道", "网址"]
    else:
        heads = ["信息标题", "类别", "形成日期\n（格式：2019-01-01）", "公开日期", "渠道", "备注"]
    lk = {"序号": "seq", "信息名称": "title", "公开事项": "title", "信息标题": "title", "公开类别": "cat",
          "信息类别": "cat", "类别": "cat", "形成日期": "formed", "成文日期": "formed",
          "形成日期\n（格式：2019-01-01）": "formed", "公开日期": "pub", "发布日期": "pub", "公开渠道": "ch",
          "发布渠道": "ch", "渠道": "ch", "链接": "url", "网址": "url", "责任股室": "dept", "备注": "remark"}
    merge_cats = prof.index % 4 == 1 or (v == 1 and rng.random() < 0.5)
    items = list(f.items)
    if merge_cats:
        order = load_catalogue().order
        items.sort(key=lambda i: (order[i.category], i.formed))
    r = 0
    g.row(r, [f"{unit.name}{y}年主动公开信息台账"])
    g.merges.append((0, 0, 0, len(heads) - 1))
    g.bold.add(0)
    r += 1
    g.row(r, heads)
    g.bold.add(r)
    r += 1
    ccol = next(i for i, h in enumerate(heads) if lk[h] == "cat")
    run: tuple[int, str] | None = None
    for n, it in enumerate(items, start=1):
        seq = _fullwidth(str(n)) if prof.fullwidth and n % 7 == 0 else n
        vals = {"seq": seq, "title": it.title, "cat": it.label, "formed": _date_value(it.formed, prof.date_style, rng, prof.fullwidth),
                "pub": _date_value(it.published, prof.date_style, rng, prof.fullwidth),
                "ch": prof.channel_sep.join(it.channels), "url": it.url,
                "dept": rng.choice(["办公室", "综合股", "业务股", ""]), "remark": "" if it.published else rng.choice(["", "待公开"])}
        row = [vals[lk[h]] for h in heads]
        if merge_cats:
            if run is not None and run[1] == it.label:
                row[ccol] = None
            else:
                if run is not None and r - 1 > run[0]:
                    g.merges.append((run[0], ccol, r - 1, ccol))
                run = (r, it.label)
        g.row(r, row)
        r += 1
        if n == len(items) // 2 and not merge_cats and rng.random() < 0.15:
            r += 1  # a blank row inside the table
    if merge_cats and run is not None and r - 1 > run[0]:
        g.merges.append((run[0], ccol, r - 1, ccol))
    closing = rng.random()
    if closing < 0.35:
        g.row(r, ["合计", f"共{len(items)}条"] if heads[0] == "序号" else [f"合计：共{len(items)}条"])
    elif closing < 0.55:
        g.row(r, [f"备注：本台账由{unit.name}办公室填写，统计截至{y}年12月31日。"])
    g.widths = {i: {"title": 46, "cat": 16, "formed": 13, "pub": 13, "ch": 18, "url": 44, "seq": 6}.get(lk[h], 10)
                for i, h in enumerate(heads)}
    grids.append(g)

    # ---- 依申请公开台账
    g = Grid(SHEET_REQUESTS)
    v = rng.randint(0, 2)
    if v == 0:
        heads = list(REQUEST_HEADERS)
    elif v == 1:
        heads = ["序号", "申请编号", "申请人类型", "收到申请日期", "补正后收到日期", "延期", "答复时间", "答复结果", "复议诉讼情况"]
    else:
        heads = ["申请编号", "收到日期", "答复日期", "办理结果", "是否延期", "补正日期", "申请人类型", "复议诉讼结果"]
    rk = {"序号": "seq", "申请编号": "no", "申请人类型": "app", "收到日期": "rec", "收到申请日期": "rec",
          "补正日期": "cor", "补正后收到日期": "cor", "是否延期": "ext", "延期": "ext", "答复日期": "ans",
          "答复时间": "ans", "办理结果": "res", "答复结果": "res", "复议诉讼结果": "rev", "复议诉讼情况": "rev"}
    yes, no = ("√", "") if prof.index % 5 == 2 else ("是", "否")
    g.row(0, [f"{unit.name}{y}年政府信息公开申请办理情况登记表"])
    g.merges.append((0, 0, 0, len(heads) - 1))
    g.row(1, heads)
    g.bold.update({0, 1})
    r = 2
    for n, q in enumerate(f.requests, start=1):
        vals = {"seq": n, "no": q.no, "app": q.applicant, "rec": _date_value(q.received, prof.date_style, rng, prof.fullwidth),
                "cor": _date_value(q.corrected, prof.date_style, rng, prof.fullwidth), "ext": yes if q.extended else no,
                "ans": _date_value(q.answered, prof.date_style, rng, prof.fullwidth), "res": q.result, "rev": q.review}
        g.row(r, [vals[rk[h]] for h in heads])
        r += 1
    if not f.requests and rng.random() < 0.5:
        g.row(r, [f"备注：{y}年度未收到政府信息公开申请。"])
    elif f.requests and rng.random() < 0.3:
        g.row(r, ["合计", f"{len(f.requests)}件"])
    g.widths = {i: 14 for i in range(len(heads))}
    grids.append(g)

    order = [0, 1, 2, 3]
    if rng.random() < 0.3:
        order = [1, 0, 2, 3]
    out = [grids[i] for i in order]
    if rng.random() < 0.2:
        out.append(Grid("Sheet1"))
    return out


def _grids_to_xlsx(grids: list[Grid]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="center")
    for g in grids:
        ws = wb.create_sheet(g.name)
        inside = {(r, c) for r0, c0, r1, c1 in g.merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)
                  if (r, c) != (r0, c0)}
        for (r, c), v in g.cells.items():
            if (r, c) in inside:
                continue
            cell = ws.cell(r + 1, c + 1, v)
            if isinstance(v, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(v, dt.date):
                cell.number_format = g.date_format
            elif isinstance(v, str) and "\n" in v:
                cell.alignment = wrap
            if r in g.bold:
                cell.font = bold
        for r0, c0, r1, c1 in g.merges:
            ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
        for c, w in g.widths.items():
            ws.column_dimensions[get_column_letter(c + 1)].width = w
    return workbook_bytes(wb)


def _grids_to_xls(grids: list[Grid]) -> bytes:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    plain = xlwt.easyxf("align: vert centre, wrap on")
    bold = xlwt.easyxf("font: bold on; align: vert centre, horiz centre")
    date_styles: dict[str, xlwt.XFStyle] = {}

    def dstyle(fmt: str) -> xlwt.XFStyle:
        if fmt not in date_styles:
            date_styles[fmt] = xlwt.easyxf("align: vert centre", num_format_str=fmt)
        return date_styles[fmt]

    def style(r, v, fmt):
        if isinstance(v, dt.datetime):
            return dstyle("yyyy-mm-dd hh:mm")
        if isinstance(v, dt.date):
            return dstyle(fmt)
        return bold if r in g.bold else plain

    for g in grids:
        ws = wb.add_sheet(g.name, cell_overwrite_ok=True)
        starts = {(r0, c0): (r1, c1) for r0, c0, r1, c1 in g.merges}
        inside = {(r, c) for r0, c0, r1, c1 in g.merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)
                  if (r, c) != (r0, c0)}
        for (r0, c0), (r1, c1) in starts.items():
            v = g.cells.get((r0, c0), "")
            ws.write_merge(r0, r1, c0, c1, v, style(r0, v, g.date_format))
        for (r, c), v in g.cells.items():
            if (r, c) in inside or (r, c) in starts:
                continue
            ws.write(r, c, v, style(r, v, g.date_format))
        for c, w in g.widths.items():
            ws.col(c).width = 256 * w
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _template_xlsx(rng: random.Random, prof: Profile, f: Filled, scheme: Scheme) -> bytes:
    """The official template, filled in (mostly as intended: real dates, one value per cell)."""
    from openpyxl.styles import Alignment

    wb = build_workbook(scheme, f.unit)
    ws = wb[SHEET_INFO]
    vals = {"单位名称": f.unit.name, "单位类型": f.unit.unit_type, "考核年度": f.year, "填报人": f.reporter,
            "联系电话": f.phone, "填报日期": f.report_date}
    for r in range(2, 10):
        label = ws.cell(r, 1).value
        if label in vals:
            ws.cell(r, 2).value = vals[label]
    ws = wb[SHEET_SCORES]
    by_code = {s.code: s for s in f.scores}
    wrap = Alignment(wrap_text=True, vertical="center")
    for r in range(FIRST_DATA_ROW, ws.max_row + 1):
        s = by_code.get(ws.cell(r, 1).value)
        if s is None:
            continue
        if s.auto:
            continue
        ws.cell(r, 5).value = num(s.score)
        ws.cell(r, 6).value = s.note or None
        ws.cell(r, 7).value = prof.evidence_sep.join(s.evidence) or None
        ws.cell(r, 7).alignment = wrap
    text_dates = prof.date_style in ("slash", "cn") and rng.random() < 0.5  # pasted from another table
    style = prof.date_style if text_dates else "date"
    ws = wb[SHEET_LEDGER]
    for n, it in enumerate(f.items, start=1):
        r = FIRST_DATA_ROW + n - 1
        row = [n, it.title, it.label, _date_value(it.formed, style, rng, False),
               _date_value(it.published, style, rng, False), "、".join(it.channels) or None, it.url or None]
        for c, v in enumerate(row, start=1):
            ws.cell(r, c).value = v
    ws = wb[SHEET_REQUESTS]
    for n, q in enumerate(f.requests, start=1):
        r = FIRST_DATA_ROW + n - 1
        row = [q.no, q.applicant, q.received, q.corrected, "是" if q.extended else "否", q.answered,
               q.result or None, q.review or None]
        for c, v in enumerate(row, start=1):
            ws.cell(r, c).value = v
    return workbook_bytes(wb)


def _file_name(prof: Profile, year: int, ext: str, version: int) -> str:
    u, s = prof.unit.name, _short(prof.unit)
    base = [f"{u}{year}年政务公开自检自评表", f"{year}年度{s}政务公开自评表", f"附件2：{u}{year}年政务公开工作自评表",
            f"{s}自评表{year}", f"{u}-{year}政务公开自检自评（{prof.reporter}）"][prof.name_style]
    if version > 1:
        base += ["（修改稿）", "_v2", "（更正）", "（修改后）", "-改"][prof.name_style]
    return base + ext


def _render(rng: random.Random, prof: Profile, f: Filled, scheme: Scheme, fmt: str) -> tuple[bytes, str]:
    saved = dt.datetime.combine(f.report_date, dt.time(9 + prof.index % 8, (prof.index * 7) % 60))
    if fmt == "template":
        return stable_xlsx(_template_xlsx(rng, prof, f, scheme), saved, f.reporter), ".xlsx"
    grids = _custom_grids(rng, prof, f, scheme)
    if fmt == "xls":
        return _grids_to_xls(grids), ".xls"
    return stable_xlsx(_grids_to_xlsx(grids), saved, f.reporter), ".xlsx"


def generate_county(seed: int = 2019, progress: Callable[[str], None] | None = None) -> list[DemoFile]:
    """Every workbook the demonstration county's units sent in, 2019 … the last scheme year.

    Deterministic for ``seed``. Ordered by year, then unit (registry order), then version.
    """
    rng = random.Random(seed)
    units = _units()
    yrs = years()
    profiles = [_profile(rng, u, i) for i, u in enumerate(units, start=1)]
    story = _story(rng, units, yrs)
    out: list[DemoFile] = []
    for yi, y in enumerate(yrs):
        scheme = scheme_for(y)
        if progress:
            progress(f"  生成 {y} 年度各单位自评表…")
        for prof in profiles:
            key = (prof.unit.name, y)
            if key in story["missing"]:
                continue
            if prof.unit.name in story["weak"]:
                prof = replace(prof, diligence=min(1.0, 0.02 + 0.1 * yi))
            else:
                prof = replace(prof, diligence=min(1.0, prof.diligence + 0.03 * yi))
            kind = "very_late" if key == story["very_late"] else ("late" if key in story["late"] else "normal")
            received = _received_date(rng, scheme, kind)
            printed = scheme_for(y - 1) if key == story["old_form"] else scheme
            f = _fill(rng, prof, scheme, yi, received, printed=printed,
                      force_corrected=key == story["corrected_review"])
            fmt = prof.fmt
            if fmt == "xls" and yi >= 3 and prof.index % 2 == 0:
                fmt = "custom"  # the office got a newer Excel
            if key == story["old_form"]:
                fmt = "xls" if fmt == "xls" else "custom"  # last year's home-made form, with last year's 分值
            tags = [kind] if kind != "normal" else []
            if key == story["resubmit"]:
                # v1 misses a required category the reviewer will point out
                scheme_req = list(dict.fromkeys(list(scheme.required[prof.unit.unit_type]) + list(prof.unit.extra_categories)))
                drop = next(c for c in reversed(scheme_req) if c not in ("C01", "C07", "C20"))
                v1 = replace(f, items=[i for i in f.items if i.category != drop])
                if not v1.items:
                    v1 = f
                content, ext = _render(rng, prof, v1, scheme, fmt)
                out.append(DemoFile(prof.unit.name, y, _file_name(prof, y, ext, 1), content, received, 1,
                                    tuple(tags + ["returned_first", fmt])))
                received2 = add_workdays(received, rng.randint(3, 6))
                v2 = _corrected_version(rng, v1, scheme, received2, _slug(prof), drop)
                content, ext = _render(rng, prof, v2, scheme, fmt)
                out.append(DemoFile(prof.unit.name, y, _file_name(prof, y, ext, 2), content, received2, 2,
                                    tuple(tags + ["resubmission", fmt])))
                continue
            content, ext = _render(rng, prof, f, scheme, fmt)
            if key == story["old_form"]:
                tags.append("old_form")
            out.append(DemoFile(prof.unit.name, y, _file_name(prof, y, ext, 1), content, received, 1,
                                tuple(tags + [fmt])))
    return out


def story_of(seed: int = 2019) -> dict:
    """The scripted events of :func:`generate_county` for ``seed`` (for tests and the summary)."""
    rng = random.Random(seed)
    units = _units()
    for i, u in enumerate(units, start=1):
        _profile(rng, u, i)
    return _story(rng, units, years())


# =========================================================================== loading into the database

def _decide(con, unit: str, year: int, action: str, comment: str | None, at: dt.datetime) -> None:
    """A reviewer's decision through :mod:`data.review` (the review screen's code path), dated ``at``."""
    from data.review import set_status

    mark = _max_audit(con)
    set_status(con, unit, year, action, comment, REVIEWER)
    con.execute("UPDATE workflow SET updated_at = ? WHERE unit = ? AND year = ?", [at, unit, year])
    _backdate_audit(con, at, since_id=mark)


def _backdate_audit(con, at: dt.datetime, since_id: int | None = None) -> None:
    """Give the audit rows just written the historical time of the demo event."""
    if since_id is None:
        con.execute("UPDATE audit SET at_time = ? WHERE id = (SELECT max(id) FROM audit)", [at])
    else:
        con.execute("UPDATE audit SET at_time = ? WHERE id > ?", [at, since_id])


def _max_audit(con) -> int:
    return con.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0]


def _at(d: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, rng.randint(8, 16), rng.randint(0, 59), rng.randint(0, 59))


def clear(con) -> None:
    """Delete every row of every table of the store (the schema stays)."""
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
    ).fetchall() if r[0] != "schema_version"]
    for t in tables:
        con.execute(f'DELETE FROM "{t}"')


def build_demo(con, progress: Callable[[str], None] | None = None, seed: int = 2019,
               files: list[DemoFile] | None = None) -> dict:
    """Load the demonstration county into ``con`` (expected empty). Returns a summary dict.

    ``files`` may pass the result of ``generate_county(seed)`` when the caller already has it.
    Keys of the summary: units, files, xls, outcomes ({outcome: count}), problems (files not
    accepted, expected empty), warnings, submissions, approved, returned, adjustments, penalty,
    missing, resubmitted, late, accounts ({name: (role, password)}), unit_accounts
    ({unit name: account name}), seconds.
    """
    from data.ingest import ingest_bytes
    from data.registry import load_units
    from data.users import create_user

    say = progress or (lambda s: None)
    t0 = time.monotonic()
    rng = random.Random(seed + 1)
    units = _units()
    load_units(con, units, actor=DEMO_ACTOR)
    first = scheme_for(years()[0])
    _backdate_audit(con, _at(sub_workdays(first.year_end - dt.timedelta(days=20), 0), rng))
    accounts = {u.name: f"unit{i:02d}" for i, u in enumerate(units, start=1)}
    say(f"已导入单位名录：{len(units)} 个单位")

    files = files if files is not None else generate_county(seed, progress=say)
    story = story_of(seed)
    say(f"已生成 {len(files)} 份自评表（{sum(f.is_xls for f in files)} 份 .xls），开始逐份导入…")
    order = sorted(range(len(files)), key=lambda i: (files[i].year, files[i].received, i))
    outcomes: dict[str, int] = {}
    problems: list[str] = []
    warnings = 0
    returned_comment: dict[tuple[str, int], str] = {}
    for n, i in enumerate(order, start=1):
        f = files[i]
        if f.version > 1:  # the reviewer returned version 1 before the unit sent the corrected one
            back = sub_workdays(f.received, 1)
            comment = _return_comment(con, f)
            returned_comment[(f.unit, f.year)] = comment
            _decide(con, f.unit, f.year, "return", comment, _at(back, rng))
        mark = _max_audit(con)
        res = ingest_bytes(con, f.file_name, f.content, received=f.received, actor=accounts.get(f.unit),
                           today=f.received)
        outcomes[res.outcome] = outcomes.get(res.outcome, 0) + 1
        if res.outcome != "accepted":
            problems.append(f"{f.file_name}: {res.outcome}: " + "；".join(
                f"{x.location} {x.message}" for x in res.report.errors[:3]))
            continue
        warnings += len(res.report.warnings)
        up = _at(f.received, rng)
        con.execute("UPDATE submissions SET uploaded_at = ? WHERE id = ?", [up, res.submission_id])
        con.execute("UPDATE workflow SET updated_at = ? WHERE unit = ? AND year = ?", [up, f.unit, f.year])
        _backdate_audit(con, up, since_id=mark)
        if n % 25 == 0:
            say(f"  已导入 {n}/{len(files)} 份")

    # ---- the reviewers' work, through data.review: score adjustments and the penalty first
    # (an approved unit-year is locked), then the decisions
    from data.review import set_penalties, set_review_score

    subs = con.execute("""SELECT s.unit, s.year, s.id, s.received FROM submissions s
                          WHERE s.version = (SELECT max(version) FROM submissions t WHERE t.unit = s.unit AND t.year = s.year)
                          ORDER BY s.year, s.unit""").fetchall()
    yrs = years()
    last = yrs[-1]
    current = {(u, y): (sid, rec) for u, y, sid, rec in subs}
    names = [u.name for u in units]
    keys = sorted(current, key=lambda k: (k[1], names.index(k[0])))
    still_returned = set()
    pending_prev = set()
    if len(yrs) > 1:
        prev = [k for k in keys if k[1] == yrs[-2] and k != story["resubmit"]]
        rng.shuffle(prev)
        still_returned.add(prev[0])
        pending_prev.add(prev[1])
    cur = [k for k in keys if k[1] == last and k != story["resubmit"]]
    rng.shuffle(cur)
    still_returned.add(cur[0])
    approved_last = set(cur[1: 1 + max(1, len(cur) // 4)])

    # reviewer score adjustments (absolute scores, with the reason the unit sees)
    adjustments = 0
    candidates = [k for k in keys if k not in still_returned]
    rng.shuffle(candidates)
    for k in candidates:
        if adjustments >= 7:
            break
        sid, rec = current[k]
        rows = con.execute("SELECT code, score FROM self_scores WHERE submission_id = ? ORDER BY code", [sid]).fetchall()
        scheme = scheme_for(k[1])
        j1 = next((sc for c, sc in rows if c == "J1"), None)
        if j1 is not None and j1 >= 2:
            code, new, reason = "J1", j1 - 1, "仅一项经验做法被市级推广有文件佐证，另一项不予加分"
        else:
            full = [(c, sc) for c, sc in rows if scheme.indicator(c).type == "self" and sc == scheme.indicator(c).max
                    and scheme.indicator(c).max >= 2]
            if not full:
                continue
            code, sc = rng.choice(full)
            new = sc - Decimal(1)
            reason = f"经核查，{REASONS.get(code, '相关工作佐证材料不足')}，扣1分"
        at = _at(add_workdays(rec, rng.randint(3, 8)), rng)
        mark = _max_audit(con)
        set_review_score(con, sid, code, new, reason, REVIEWER)
        con.execute("UPDATE review_scores SET updated_at = ? WHERE submission_id = ? AND code = ?", [at, sid, code])
        _backdate_audit(con, at, since_id=mark)
        adjustments += 1

    # one K1 penalty
    k1 = next(k for k in candidates if k[1] == yrs[min(1, len(yrs) - 1)])
    at = _at(add_workdays(current[k1][1], 6), rng)
    mark = _max_audit(con)
    set_penalties(con, k1[0], k1[1], 1, False,
                  f"{k1[1]}年被市政务公开办通报批评（政府网站信息公开栏目长期未更新）", REVIEWER)
    con.execute("UPDATE penalties SET updated_at = ? WHERE unit = ? AND year = ?", [at, k1[0], k1[1]])
    _backdate_audit(con, at, since_id=mark)

    n_approved = n_returned = 0
    for k in keys:
        sid, rec = current[k]
        if k in still_returned:
            comment = rng.choice(["佐证材料链接大部分无法打开，请补充有效链接后重新报送。",
                                  "依申请公开台账与年度报告数据不一致，请核对后重新报送。",
                                  "主动公开台账中多条信息未填写公开渠道和链接，请补充完善。"])
            _decide(con, k[0], k[1], "return", comment, _at(add_workdays(rec, rng.randint(3, 8)), rng))
            n_returned += 1
        elif (k[1] < last and k not in pending_prev) or k in approved_last:
            _decide(con, k[0], k[1], "approve", None, _at(add_workdays(rec, rng.randint(10, 25)), rng))
            n_approved += 1

    # ---- accounts
    for name, role, pw, _label in STAFF_ACCOUNTS:
        create_user(con, name, role, pw, demo=True, actor=DEMO_ACTOR)
    for unit, name in accounts.items():
        create_user(con, name, "unit", UNIT_PASSWORD, unit=unit, demo=True, actor=DEMO_ACTOR)

    missing = sorted(story["missing"], key=lambda k: k[1])
    summary = {
        "units": len(units),
        "files": len(files),
        "xls": sum(f.is_xls for f in files),
        "outcomes": outcomes,
        "problems": problems,
        "warnings": warnings,
        "submissions": len(current),
        "approved": n_approved,
        "returned": n_returned,
        "adjustments": adjustments,
        "penalty": k1,
        "missing": missing,
        "resubmitted": story["resubmit"],
        "late": sorted(story["late"] | {story["very_late"]}, key=lambda k: k[1]),
        "accounts": {**{n: (r, pw) for n, r, pw, _ in STAFF_ACCOUNTS},
                     **{name: ("unit", UNIT_PASSWORD) for name in accounts.values()}},
        "unit_accounts": accounts,
        "seconds": round(time.monotonic() - t0, 1),
    }
    return summary


def _return_comment(con, f: DemoFile) -> str:
    """The reviewer's comment on version 1 of the resubmitted workbook (read back from the store)."""
    cat = load_catalogue()
    scheme = scheme_for(f.year)
    unit = con.execute("SELECT unit_type, extra_categories FROM units WHERE name = ?", [f.unit]).fetchone()
    required = list(dict.fromkeys(list(scheme.required[unit[0]]) + list(unit[1] or [])))
    sid = con.execute("SELECT max(id) FROM submissions WHERE unit = ? AND year = ?", [f.unit, f.year]).fetchone()[0]
    have = {r[0] for r in con.execute("SELECT DISTINCT category FROM ledger_items WHERE submission_id = ? AND published IS NOT NULL",
                                      [sid]).fetchall()}
    missing = [cat.by_code(c).name for c in required if c not in have]
    parts = []
    if missing:
        parts.append(f"主动公开台账缺少“{'、'.join(missing)}”类信息")
    parts.append("B1 自评满分但未提供决策前公开草案的佐证材料")
    return "；".join(parts) + "，请核实修改后重新报送。"


def run_demo(con, reset: bool = False, if_empty: bool = False, progress: Callable[[str], None] | None = print) -> str:
    """``python -m data demo``: build the demonstration county; returns a one-line Chinese summary."""
    from data.store import is_empty

    if if_empty and not is_empty(con):
        return "数据库中已有数据，未生成演示数据（如需重建请使用 --reset）"
    if reset:
        clear(con)
    elif not is_empty(con):
        return "数据库中已有数据：请使用 --reset 清空后重新生成演示数据"
    s = build_demo(con, progress)
    yrs = years()
    acc = "admin/admin123（管理员）、shenhe/shenhe123（考核组）、lingdao/lingdao123（领导）、" \
          f"unit01…unit{len(s['unit_accounts']):02d}/{UNIT_PASSWORD}（按单位名录顺序）"
    line = (f"演示数据已生成：{s['units']} 个单位，{yrs[0]}–{yrs[-1]} 年度共 {s['files']} 份自评表"
            f"（其中 .xls {s['xls']} 份），{s['submissions']} 份报送，已审核 {s['approved']} 份、退回 {s['returned']} 份；"
            f"用时 {s['seconds']} 秒。演示账号：{acc}")
    if s["problems"]:
        line += f"。注意：{len(s['problems'])} 份文件未被接收：" + "；".join(s["problems"][:3])
    return line
