"""What the demonstration county's units sent in: one workbook per unit and year.

:func:`generate_county` decides the county's story (:func:`story_of`: who is
strong, who improves, who gets worse, who is late or missing, which
categories some units never publish), fills each unit-year as a
:class:`data.validate.Submission` — the same objects the validator produces
when it reads a workbook — and has :mod:`demo.render` turn it into the bytes
of an ``.xlsx`` or ``.xls`` file as a real clerk would make it. It is
deterministic for a seed and touches no database.

Working days come from the project's calendar (:mod:`data.calendar`),
the words from ``words.toml``.
"""
from __future__ import annotations

import bisect
import datetime as dt
import random
import tomllib
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

from data.registry import Unit, parse_registry
from core.scheme import Scheme, scheme_for, years
from core.vocab import APPLICANT_TYPES, RESULTS
from data.validate import LedgerItem, RequestRow, ScoreRow, Submission

HERE = Path(__file__).resolve().parent
REGISTRY_FILE = HERE / "fangzheng-units.csv"
WORDS_FILE = HERE / "words.toml"
SEED = 2019

#: grades a unit-year is steered towards (the scheme's grade names, best first)
TIERS = ("优秀", "良好", "合格", "不合格")
#: per year (index from the first year): how many units are steered to 合格 and 良好
#: (one unit is 不合格 every year; the rest 优秀) — the county improves
N_PASS = (4, 3, 3, 2, 2)
N_GOOD = (8, 7, 6, 5, 4)
#: self-assessment points a unit of each tier gives away (range)
SELF_LOSS = {"优秀": (0, 4), "良好": (11, 14), "合格": (20, 26), "不合格": (42, 48)}
#: departments that publish late year after year (the timeliness page should point at them)
SLOW_DEPARTMENTS = ("方正县自然资源局", "方正县住房和城乡建设局", "方正县交通运输局")
#: (unit, category) pairs never published in any year: chronic coverage gaps
CHRONIC_GAPS = (("会发镇", "C26"), ("天门乡", "C25"), ("方正县审计局", "C18"))
#: the department that gets worse year after year and the township that catches up
WORSENING = "方正县文化广电和旅游局"
IMPROVING = "宝兴乡"
#: departments receiving many requests for information (3–8 a year)
HEAVY_REQUESTS = ("方正县自然资源局", "方正县住房和城乡建设局", "方正县公安局", "方正县人力资源和社会保障局",
                  "方正县农业农村局", "方正县生态环境局", "方正县市场监督管理局")


@lru_cache(maxsize=1)
def words() -> dict:
    """The word banks (``words.toml``)."""
    with open(WORDS_FILE, "rb") as fh:
        return tomllib.load(fh)


def units() -> list[Unit]:
    return parse_registry(REGISTRY_FILE.read_text(encoding="utf-8"), REGISTRY_FILE.name)


# =========================================================================== working days

class Workdays:
    """Working-day arithmetic over the project's calendar (:mod:`data.calendar`).

    Same convention as the scoring engine: the N-th working day *after* a day
    never counts the day itself.
    """

    def __init__(self, days: list[dt.date]):
        self.days = days
        self._set = frozenset(days)

    @classmethod
    def for_years(cls, first: int, last: int, con=None) -> "Workdays":
        """The calendar of ``first - 1`` … ``last + 1``: from ``con`` (a database
        opened for writing) or else from a private in-memory database."""
        from data.calendar import ensure_calendar, working_days

        own = con is None
        if own:
            from data.store import connect
            con = connect(":memory:")
        try:
            ensure_calendar(con, range(first - 1, last + 2))
            return cls(working_days(con, dt.date(first - 1, 1, 1), dt.date(last + 1, 12, 31)))
        finally:
            if own:
                con.close()

    def is_workday(self, d: dt.date) -> bool:
        return d in self._set

    def add(self, d: dt.date, n: int) -> dt.date:
        """The n-th working day after d (n = 0 gives d)."""
        if n <= 0:
            return d
        return self.days[bisect.bisect_right(self.days, d) + n - 1]

    def sub(self, d: dt.date, n: int) -> dt.date:
        """The n-th working day before d; n = 0 gives the last working day on or before d."""
        if n == 0:
            return self.days[bisect.bisect_right(self.days, d) - 1]
        return self.days[bisect.bisect_left(self.days, d) - n]

    def between(self, rng: random.Random, a: dt.date, b: dt.date) -> dt.date:
        """A random working day in [a, b] (the last one on or before b if there is none)."""
        lo, hi = bisect.bisect_left(self.days, a), bisect.bisect_right(self.days, b)
        if lo >= hi:
            return self.sub(b, 0)
        return self.days[rng.randrange(lo, hi)]


# =========================================================================== a unit's habits

@dataclass(frozen=True)
class DemoFile:
    """One workbook as received by the county."""
    unit: str
    year: int
    file_name: str
    content: bytes
    received: dt.date
    version: int = 1          # 2 for the corrected resubmission
    tags: tuple[str, ...] = ()  # xls, template, custom, late, very_late, resubmission, returned_first, old_form

    @property
    def is_xls(self) -> bool:
        return self.file_name.lower().endswith(".xls")


@dataclass(frozen=True)
class Profile:
    """A unit's habits, kept from year to year (the same clerk fills the form)."""
    unit: Unit
    index: int
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


def _profile(rng: random.Random, unit: Unit, index: int) -> Profile:
    w = words()
    r = rng.random()
    fmt = "template" if r < 0.5 else ("custom" if r < 0.78 else "xls")
    heavy = unit.name in HEAVY_REQUESTS
    return Profile(
        unit=unit, index=index,
        reporter=rng.choice(w["surnames"]) + rng.choice(w["given"]),
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


# =========================================================================== the story

@dataclass(frozen=True)
class Story:
    """The scripted events of the demonstration county (for the loader, the tests and the summary)."""
    years: tuple[int, ...]
    tiers: dict                 # (unit, year) -> 优秀 | 良好 | 合格 | 不合格
    missing: frozenset          # {(unit, year)}: never sent in
    late: frozenset             # {(unit, year)}: after the cut-off, within the grace period
    very_late: tuple            # (unit, year): after the grace period
    resubmit: tuple             # (unit, year): returned once, corrected version 2
    old_form: tuple | None      # (unit, year): filled last year's form (last year's 分值)
    corrected_review: tuple     # (unit, year): a request answer corrected on 复议 (G3)
    chronic_gaps: tuple         # ((unit, category code), …): never published
    slow: tuple                 # departments publishing late every year
    worsening: str
    improving: str
    penalty: tuple              # (unit, year): one K1 通报批评
    returned: frozenset         # (unit, year): returned by the reviewers, not yet resubmitted
    approved: frozenset         # (unit, year): 已审核 at the end of the build
    # 年报数据 (demo.annual): filled from ANNUAL_FROM on; two planted mistakes, one showcase
    annual_t1: tuple | None = None       # (unit, year): 上年结转 copied one too high (T1 fails by one)
    annual_l1: tuple | None = None       # (unit, year): a request counted that the ledger lacks (L1 fails)
    annual_perfect: str | None = None    # a unit with many requests whose reports pass every check


def _story(rng: random.Random, units_: list[Unit], yrs: list[int], seed: int = SEED) -> Story:
    names = [u.name for u in units_]
    towns = [u.name for u in units_ if u.unit_type == "乡镇"]
    depts = [u.name for u in units_ if u.unit_type == "部门"]
    worsening = WORSENING if WORSENING in depts else depts[-1]
    improving = IMPROVING if IMPROVING in towns else towns[-1]
    special = {worsening, improving}
    last = yrs[-1]
    # who is missing or late: never the two scripted units, never two events of one unit
    spare_d = [d for d in depts if d not in special and d not in SLOW_DEPARTMENTS]
    spare_t = [t for t in towns if t not in special]
    rng.shuffle(spare_d)
    rng.shuffle(spare_t)
    missing = {(spare_d.pop(), yrs[0]), (spare_d.pop(), last)}
    if len(yrs) > 2:
        missing.add((spare_t.pop(), yrs[2]))
    very_late = (spare_d.pop(), yrs[min(2, len(yrs) - 1)]) if len(yrs) > 2 else (spare_d.pop(), yrs[0])
    late = set()
    for y in yrs:
        if y == very_late[1] and y != yrs[0]:
            continue
        late.add((spare_t.pop() if y % 2 else spare_d.pop(), y))
    resubmit = (spare_t.pop(), yrs[min(1, len(yrs) - 1)])
    corrected_review = (spare_d.pop(), yrs[min(1, len(yrs) - 1)])
    old_form = None
    changed = [y for y in yrs[1:] if scheme_for(y).weights() != scheme_for(y - 1).weights()]
    if changed:
        old_form = (spare_d.pop(), changed[0])

    # quality of every unit-year, then grades by rank: one 不合格, a few 合格 and 良好, the rest 优秀
    base = {n: rng.uniform(0.5, 1.0) for n in names}
    tiers: dict[tuple[str, int], str] = {}
    for yi, y in enumerate(yrs):
        present = [n for n in names if (n, y) not in missing]
        q = {}
        for n in present:
            if n == improving:
                q[n] = -0.3 + 0.3 * yi
            elif n == worsening:
                q[n] = 1.1 - 0.35 * yi
            else:
                q[n] = base[n] + 0.06 * yi + rng.gauss(0, 0.08)
        ranked = sorted(present, key=lambda n: (q[n], names.index(n)))
        k = min(yi, len(N_PASS) - 1)
        cuts = [(1, "不合格"), (N_PASS[k], "合格"), (N_GOOD[k], "良好")]
        i = 0
        for count, tier in cuts:
            for n in ranked[i:i + count]:
                tiers[(n, y)] = tier
            i += count
        for n in ranked[i:]:
            tiers[(n, y)] = "优秀"

    # the reviewers' work: everything of past years approved; this year a third approved, one returned
    current = [(n, last) for n in names if (n, last) not in missing]
    good_last = [k for k in current if tiers[k] == "良好" and k[0] not in special and k not in late]
    penalty = good_last[0] if good_last else current[0]
    pool = [k for k in current if k != penalty and k not in late]
    rng.shuffle(pool)
    returned = {pool[0]}
    approved = {(n, y) for n in names for y in yrs[:-1] if (n, y) not in missing}
    approved |= set(pool[1: 1 + len(current) // 3])
    annual = _annual_story(random.Random(f"{seed}:annual-story"), names, yrs, missing, special, depts)
    return Story(years=tuple(yrs), tiers=tiers, missing=frozenset(missing), late=frozenset(late),
                 very_late=very_late, resubmit=resubmit, old_form=old_form, corrected_review=corrected_review,
                 chronic_gaps=tuple(g for g in CHRONIC_GAPS if g[0] in names), slow=tuple(d for d in SLOW_DEPARTMENTS
                                                                                       if d in depts),
                 worsening=worsening, improving=improving, penalty=penalty, returned=frozenset(returned),
                 approved=frozenset(approved), **annual)


def _annual_story(rng: random.Random, names: list[str], yrs: list[int], missing: set, special: set,
                  depts: list[str]) -> dict:
    """Who makes the two planted mistakes in 年报数据 and whose reports are the showcase
    (its own generator: the rest of the story does not depend on it)."""
    from demo.annual import ANNUAL_FROM

    filled = [y for y in yrs if y >= ANNUAL_FROM and scheme_for(y).annual_report != "none"]
    if len(filled) < 2:
        return {}
    t1_year, l1_year = filled[-2], filled[-1]

    def present(n: str, ys) -> bool:
        return all((n, y) not in missing for y in ys)

    heavy = [n for n in HEAVY_REQUESTS if n in depts and n not in special and present(n, filled)]
    others = [n for n in names if n not in special and n not in HEAVY_REQUESTS]
    perfect = heavy[0] if heavy else None
    t1 = rng.choice([n for n in others if present(n, [t1_year])])
    l1 = rng.choice([n for n in names if n not in special and n not in (t1, perfect)
                     and present(n, [l1_year - 1, l1_year])])
    return {"annual_t1": (t1, t1_year), "annual_l1": (l1, l1_year), "annual_perfect": perfect}


# =========================================================================== one unit-year's content

def _short(unit: Unit) -> str:
    n = unit.name
    if n.endswith("人民政府办公室"):
        return "县政府办"
    return n.replace("方正县", "县", 1) if n.startswith("方正县") else n


def _title_for(rng: random.Random, code: str, unit: Unit, year: int, formed: dt.date) -> str:
    w = words()
    bank = w["titles"][code]
    for start, titles in sorted(w.get("titles_from", {}).items()):
        if year >= int(start) and code in titles:
            bank = titles[code]
    fields = {"u": _short(unit), "y": year, "y1": year - 1, "m": formed.month, "q": "一二三四"[(formed.month - 1) // 3],
              "n": rng.randint(1, 60), "v": rng.choice(w["villages"]), "topic": rng.choice(w["topics"]),
              "proj": rng.choice(w["projects"]), "doc": rng.choice(w["docs"]), "purchase": rng.choice(w["purchases"])}
    return rng.choice(bank).format(**fields)


def slug(prof: Profile) -> str:
    return f"{'xz' if prof.unit.unit_type == '乡镇' else 'bm'}{prof.index:02d}"


class _Filler:
    """Fills one unit-year (a :class:`Submission`) from the story."""

    def __init__(self, rng: random.Random, cal: Workdays, story: Story, seed: int = SEED):
        self.rng, self.cal, self.story, self.seed = rng, cal, story, seed
        #: unit -> (year, [(申请人类型, 办理结果)]): its requests still open at the end of its last year filled
        self.carry: dict[str, tuple[int, list[tuple[str, str]]]] = {}

    # ---- self-assessment scores
    def scores(self, prof: Profile, scheme: Scheme, tier: str, bonus: int, extra_loss: int,
               year_idx: int) -> list[ScoreRow]:
        rng, w = self.rng, words()
        site, sl = w["site"], slug(prof)
        lo, hi = SELF_LOSS[tier]
        if tier == "优秀":  # the best get better too: fewer points given away year after year
            hi = max(lo, hi + 2 - year_idx)
        target = Decimal(max(0, rng.randint(lo, hi) - extra_loss))
        selfs = [i for i in scheme.indicators if i.type == "self"]
        deduct: dict[str, Decimal] = {}
        cap_share = Decimal(1) if tier == "不合格" else Decimal("0.5")
        amounts = ["0.5", "1", "1", "1", "1.5", "2"] if tier in ("优秀", "良好") else ["1", "1.5", "2", "2", "3"]
        order = list(selfs)
        rng.shuffle(order)
        lost = Decimal(0)
        guard = 0
        while lost < target and guard < 400:
            guard += 1
            ind = order[guard % len(order)]
            room = ind.max * cap_share - deduct.get(ind.code, Decimal(0))
            d = min(Decimal(rng.choice(amounts)), room, target - lost)
            d = (d * 2).to_integral_value(rounding="ROUND_FLOOR") / 2  # half points, as people score
            if d <= 0:
                continue
            deduct[ind.code] = deduct.get(ind.code, Decimal(0)) + d
            lost += d
        out = []
        for ind in scheme.indicators:
            if ind.type == "auto":
                continue
            if ind.type == "bonus":
                if bonus:
                    note = rng.choice(w["bonus"]["notes"]) + (w["bonus"]["second"] if bonus > 1 else "")
                    ev = [w["bonus"]["evidence"].format(y=scheme.year)]
                    if bonus > 1:
                        ev.append(f"{site}/{sl}/{scheme.year}/jyzf.html")
                    out.append(ScoreRow(ind.code, Decimal(bonus), note, ev, 0))
                else:
                    out.append(ScoreRow(ind.code, Decimal(0), rng.choice(["无", "", ""]), [], 0))
                continue
            d = deduct.get(ind.code, Decimal(0))
            if d:
                note = f"{w['reasons'].get(ind.code, w['reasons']['default'])}，扣{_num(d)}分"
            else:
                note = rng.choice(w["full_notes"])
            ev = []
            if rng.random() < (0.9 if tier == "优秀" else 0.6):
                doc = w["evidence_docs"].get(ind.code)
                if doc and rng.random() < 0.6:
                    ev.append(doc.format(y=scheme.year))
                ev.append(f"{site}/{sl}/{scheme.year}/{ind.code.lower()}_{rng.randint(100, 999)}.html")
            out.append(ScoreRow(ind.code, ind.max - d, note, ev, 0))
        return out

    # ---- ledger
    def channels(self, unit: Unit) -> list[str]:
        if unit.unit_type == "乡镇":
            opts = [(["政府网站"], 40), (["政府网站", "公开栏"], 28), (["公开栏"], 14), (["政府网站", "政务新媒体"], 13),
                    (["其他"], 3), (["政府网站", "政务新媒体", "公开栏"], 2)]
        else:
            opts = [(["政府网站"], 58), (["政府网站", "政务新媒体"], 30), (["政务新媒体"], 6), (["其他"], 3),
                    (["政府网站", "公开栏"], 3)]
        return list(self.rng.choices([o for o, _ in opts], weights=[w for _, w in opts])[0])

    def publish(self, formed: dt.date, late_share: float, *, must: bool = False) -> dt.date | None:
        rng = self.rng
        if not must and rng.random() < 0.015:
            return None  # never published
        if rng.random() < late_share:
            lag = rng.randint(21, 50)
        else:
            lag = rng.choices(range(0, 21), weights=[4, 10, 10, 9, 8, 7, 6, 6, 5, 5, 4, 4, 3, 3, 3, 2, 2, 2, 2, 2, 1])[0]
        return self.cal.add(formed, lag)

    def item(self, prof: Profile, code: str, year: int, formed: dt.date, pub: dt.date | None) -> LedgerItem:
        rng = self.rng
        title = _title_for(rng, code, prof.unit, year, formed)
        ch = self.channels(prof.unit) if pub else []
        url = ""
        if pub and "政府网站" in ch:
            url = f"{words()['site']}/{slug(prof)}/{pub:%Y%m}/t{pub:%Y%m%d}_{rng.randint(10000, 99999)}.html"
        elif pub and "政务新媒体" in ch and rng.random() < 0.7:
            url = "https://mp.weixin.qq.com/s/" + "".join(
                rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(22))
        return LedgerItem(0, "", title, code, formed, pub, ch, url)

    def ledger(self, prof: Profile, scheme: Scheme, received: dt.date, late: float, gaps: list[str]) -> list[LedgerItem]:
        rng, cal = self.rng, self.cal
        unit, y = prof.unit, scheme.year
        required = required_of(scheme, unit)
        covered = [c for c in required if c not in gaps]
        optional_pool = {"乡镇": ["C02", "C05", "C11", "C12", "C19", "C06", "C09", "C04"],
                         "部门": ["C02", "C04", "C05", "C06", "C09", "C11", "C12", "C13", "C14", "C17", "C10", "C08"]}
        optional = [c for c in optional_pool[unit.unit_type] if c not in required]
        n = rng.randint(30, 80) if unit.unit_type == "乡镇" else rng.randint(30, 70)
        last_formed = min(scheme.year_end, received - dt.timedelta(days=1))
        pub_limit = min(received, scheme.cutoff)
        items: list[LedgerItem] = []

        def formed_date(code: str, anchor: bool) -> dt.date:
            if code == "C20":  # the previous year's annual report, due by 31 January
                return cal.between(rng, dt.date(y, 1, 8), dt.date(y, 1, 28))
            if code == "C07":
                return cal.between(rng, dt.date(y, 2, 10), dt.date(y, 4, 20)) if rng.random() < 0.6 else \
                    cal.between(rng, dt.date(y, 7, 1), dt.date(y, 9, 15))
            if anchor:
                return cal.between(rng, dt.date(y, 1, 15), dt.date(y, 10, 31))
            if rng.random() < 0.07:  # late December: the 20 working days run into the next year
                return cal.between(rng, dt.date(y, 12, 12), last_formed)
            return cal.between(rng, dt.date(y, 1, 3), last_formed)

        def add(code: str, anchor: bool) -> None:
            formed = min(formed_date(code, anchor), last_formed)
            pub = self.publish(formed, late if not anchor else late * 0.6, must=anchor)
            if pub is not None and pub > received:
                pub = None  # still being prepared when the workbook was sent: pending
            if anchor and (pub is None or pub > pub_limit):
                pub = cal.add(formed, rng.randint(1, 8))
            items.append(self.item(prof, code, y, formed, pub))

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
                formed = cal.between(rng, dt.date(y, 3, 1), dt.date(y, 10, 31))
                items.append(self.item(prof, c, y, formed, None))
        # an item formed in the last days of the previous year (stored, not counted: a warning)
        if rng.random() < 0.12:
            formed = cal.between(rng, dt.date(y - 1, 12, 20), dt.date(y - 1, 12, 30))
            items.append(self.item(prof, rng.choice(covered or required), y, formed, cal.add(formed, rng.randint(2, 10))))
        items.sort(key=lambda i: i.formed)
        return items

    # ---- requests
    def requests(self, prof: Profile, scheme: Scheme, late_share: float, received_file: dt.date,
                 force_corrected: bool) -> list[RequestRow]:
        rng, cal = self.rng, self.cal
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
        dates = sorted(cal.between(rng, dt.date(y, 1, 3), last) for _ in range(k))
        switch = [r.start for r in scheme.request_rules if scheme.year_start < r.start <= scheme.year_end]
        if switch and k >= 2 and dates[0] >= switch[0]:
            # a request received while the old rule (the 2008 条例, 15 working days) still applied
            dates[0] = cal.between(rng, dt.date(y, 2, 18), switch[0] - dt.timedelta(days=5))
            dates.sort()
        out = []
        for i, rec in enumerate(dates, start=1):
            no = _request_no(prof, y, i)
            applicant = rng.choices(APPLICANT_TYPES, weights=[70, 10, 3, 4, 8, 5])[0]
            corrected = cal.add(rec, rng.randint(2, 8)) if rng.random() < 0.2 else None
            extended = rng.random() < 0.1
            rule = [r for r in scheme.request_rules if r.start <= rec][-1]
            days = rule.extended_days if extended else rule.days
            start = corrected or rec
            if rng.random() < late_share:
                ans = cal.add(start, days + rng.randint(1, 12))
            else:
                ans = cal.add(start, rng.randint(2, days))
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
            out.append(RequestRow(0, no, applicant, rec, corrected, extended, ans, result, review))
        if force_corrected and out:
            answered = [r for r in out if r.answered]
            if answered:
                answered[0].review_result = "纠正"
                answered[0].result = "不予公开"
        return out

    # ---- the whole unit-year
    def fill(self, prof: Profile, scheme: Scheme, year_idx: int, received: dt.date) -> Submission:
        rng, story = self.rng, self.story
        key = (prof.unit.name, scheme.year)
        tier = story.tiers[key]
        required = required_of(scheme, prof.unit)
        gaps = [c for u, c in story.chronic_gaps if u == prof.unit.name and c in required]
        prefer = [c for c in required if c not in ("C01", "C07", "C20") and c not in gaps]
        k = {"优秀": 0, "良好": 1 if rng.random() < 0.15 else 0, "合格": 1 if rng.random() < 0.6 else 0, "不合格": 2}[tier]
        gaps += rng.sample(prefer, min(k, len(prefer)))
        slow = prof.unit.name in story.slow
        decline = 0.85 ** year_idx
        if slow:
            late = 0.45 - 0.03 * year_idx
        else:
            late = {"优秀": 0.01, "良好": 0.03, "合格": 0.06, "不合格": 0.15}[tier] * decline
        bonus = 0
        if tier == "优秀" and rng.random() < 0.25:
            bonus = rng.choice([1, 1, 1, 2])
        # what the timeliness of a slow department costs it anyway (H1), not given away again in self scores
        scores = self.scores(prof, scheme, tier, bonus, extra_loss=4 if slow else 0, year_idx=year_idx)
        items = self.ledger(prof, scheme, received, late, gaps)
        req_late = {"优秀": 0.03, "良好": 0.08, "合格": 0.15, "不合格": 0.3}[tier] * decline
        reqs = self.requests(prof, scheme, req_late, received, key == story.corrected_review)
        report_date = self.cal.sub(received, rng.choice([0, 0, 0, 1, 1, 2, 3]))
        annual = self.annual(prof, scheme, reqs, received)
        return Submission(unit=prof.unit.name, unit_type=prof.unit.unit_type, year=scheme.year,
                          reporter=prof.reporter, phone=prof.phone, report_date=report_date,
                          scores=scores, items=items, requests=reqs, annual=annual)

    # ---- 年报数据 (demo.annual)
    def annual(self, prof: Profile, scheme: Scheme, reqs: list[RequestRow], received: dt.date):
        """Tables 三 and 四 of the unit's published report, from its ledger (from ANNUAL_FROM on;
        else None). Keeps the requests open at the end of the year for next year's 上年结转.
        Its own generator: the rest of the county does not depend on it."""
        from demo import annual as da

        name, y = prof.unit.name, scheme.year
        arng = random.Random(f"{self.seed}:annual:{name}:{y}")
        if self.story.annual_l1 == (name, y + 1) and not da.open_at_year_end(reqs, y):
            reqs.append(self._december_request(arng, prof, y, len(reqs) + 1, received))
        last, carried_in = self.carry.pop(name, (None, []))
        if last != y - 1:  # no workbook last year: the report states no carry-over
            carried_in = []
        self.carry[name] = (y, da.open_at_year_end(reqs, y))
        if y < da.ANNUAL_FROM or scheme.annual_report == "none":
            return None
        v = da.report_values(arng, y, reqs, carried_in)
        if self.story.annual_t1 == (name, y):
            da.plant_t1(arng, v)
        if self.story.annual_l1 == (name, y):
            da.plant_l1(v)
        return da.as_report(v)

    def _december_request(self, rng: random.Random, prof: Profile, y: int, i: int, received: dt.date) -> RequestRow:
        """A request received in the last days of December and answered in January (or not yet
        when the workbook is sent): next year's report has a request carried over."""
        cal = self.cal
        rec = cal.between(rng, dt.date(y, 12, 15), min(dt.date(y, 12, 31), received - dt.timedelta(days=1)))
        ans = cal.add(max(rec, dt.date(y, 12, 31)), rng.randint(1, 5))
        result = rng.choices(RESULTS, weights=[45, 12, 8, 22, 8, 5])[0]
        if ans > received:
            ans, result = None, ""
        return RequestRow(0, _request_no(prof, y, i), rng.choices(APPLICANT_TYPES, weights=[70, 10, 3, 4, 8, 5])[0],
                          rec, None, False, ans, result, "")

    def corrected_version(self, prof: Profile, sub: Submission, scheme: Scheme, received2: dt.date,
                          category: str) -> Submission:
        """The resubmission: the unit adds the missing category's items and lowers B1 by one point."""
        rng, cal = self.rng, self.cal
        v2 = replace(sub, scores=[replace(s) for s in sub.scores], items=list(sub.items), requests=list(sub.requests),
                     report_date=cal.sub(received2, 1))
        y = scheme.year
        for k in range(2):
            formed = cal.between(rng, dt.date(y, 4 + 3 * k, 1), dt.date(y, 5 + 3 * k, 28))
            pub = cal.add(formed, rng.randint(2, 9))
            v2.items.append(LedgerItem(0, "", _title_for(rng, category, prof.unit, y, formed), category, formed, pub,
                                       ["政府网站"],
                                       f"{words()['site']}/{slug(prof)}/{pub:%Y%m}/t{pub:%Y%m%d}_{rng.randint(10000, 99999)}.html"))
        v2.items.sort(key=lambda i: i.formed)
        for s in v2.scores:
            if s.code == "B1" and s.score >= 1:
                s.score = s.score - Decimal(1)
                s.note = words()["review"]["corrected_b1"]
                break
        return v2


def _request_no(prof: Profile, y: int, i: int) -> str:
    """The i-th request number of the year, in the unit's own numbering style."""
    abbr = ["FZ", "YSQ", "GK"][prof.index % 3]
    return [f"{abbr}-{y}-{i:03d}", f"{y}第{i}号", f"依申请〔{y}〕{i}号", f"{y}{i:03d}"][prof.no_style]


def required_of(scheme: Scheme, unit: Unit) -> list[str]:
    """The categories a unit must publish in the scheme's year (its type's plus its own extra ones)."""
    return list(dict.fromkeys(list(scheme.required[unit.unit_type]) + list(unit.extra_categories)))


def _num(v: Decimal) -> str:
    return format(v.normalize(), "f")


def _received_date(rng: random.Random, cal: Workdays, scheme: Scheme, kind: str) -> dt.date:
    c = scheme.cutoff
    if kind == "very_late":
        return cal.add(c, rng.randint(scheme.late_submission_days + 2, scheme.late_submission_days + 9))
    if kind == "late":
        return cal.add(c, rng.randint(1, scheme.late_submission_days))
    k = rng.choices([0, 1, 2, 3, 4, 5, 6, 8, 10, 13], weights=[14, 14, 12, 10, 9, 8, 6, 5, 4, 3])[0]
    return cal.sub(c, k)


def _file_name(prof: Profile, year: int, ext: str, version: int) -> str:
    u, s = prof.unit.name, _short(prof.unit)
    base = [f"{u}{year}年政务公开自检自评表", f"{year}年度{s}政务公开自评表", f"附件2：{u}{year}年政务公开工作自评表",
            f"{s}自评表{year}", f"{u}-{year}政务公开自检自评（{prof.reporter}）"][prof.name_style]
    if version > 1:
        base += ["（修改稿）", "_v2", "（更正）", "（修改后）", "-改"][prof.name_style]
    return base + ext


# =========================================================================== the county

def story_of(seed: int = SEED) -> Story:
    """The scripted events of :func:`generate_county` for ``seed``."""
    rng = random.Random(seed)
    us = units()
    for i, u in enumerate(us, start=1):
        _profile(rng, u, i)
    return _story(rng, us, years(), seed)


def _render_job(job: tuple) -> tuple[bytes, str]:
    """Render one workbook (in a worker process): its own random generator, so the bytes
    do not depend on which process renders it or in which order."""
    from demo.render import render

    render_seed, prof, sub, year, fmt, printed_year = job
    return render(random.Random(render_seed), prof, sub, scheme_for(year), fmt, scheme_for(printed_year))


def _render_all(jobs: list[tuple], workers: int | None, fn: Callable[[tuple], tuple] = _render_job,
                progress: Callable[[str], None] | None = None) -> list[tuple[bytes, str]]:
    """Every job rendered, in order (see :func:`_render_iter`)."""
    return list(_render_iter(jobs, workers, fn, progress))


def start_renderers() -> None:
    """Start the fork server the rendering processes come from (:func:`_render_iter`), importing
    the renderer, now: its start overlaps the caller's own preparations (imports, the new
    database). Nothing happens when it is already running or the platform has no fork server."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(["demo.render"])
    try:
        forkserver.ensure_running()
    except OSError:  # the processes are started (or the jobs rendered here) later, as without this
        pass


def _render_iter(jobs: list[tuple], workers: int | None, fn: Callable[[tuple], tuple] = _render_job,
                 progress: Callable[[str], None] | None = None) -> Iterator[tuple[bytes, str]]:
    """Render every job on up to ``workers`` processes (default: the machine's cores, at most 4),
    yielding the results in the jobs' order as soon as each is ready (the caller may use the first
    ones while the processes render the rest). The processes start, and take the jobs, when this
    is called, not when the first result is asked for: the caller's own preparations overlap
    their start. (:class:`_Rendering` takes the jobs one by one, as they are made.)"""
    r = _Rendering(workers, len(jobs), fn)
    for j in jobs:
        r.add(j)
    return r.results(progress)


def _render_chunk(fn: Callable[[tuple], tuple], jobs: list[tuple]) -> list[tuple]:
    return [fn(j) for j in jobs]


class _Rendering:
    """Jobs rendered on up to ``workers`` processes (default: the machine's cores, at most 4), each
    handed to them as soon as it is made (:meth:`add`), in small chunks: the processes render the
    first workbooks while the later ones are still being made. :meth:`results` yields the results
    in the jobs' order as soon as each is ready. Few jobs (``total`` < 8) or one worker: rendered
    here, when the results are asked for.

    The processes come from a fork server: a fresh, single-threaded interpreter, so they inherit
    none of the caller's threads, locks or database connections (forking a busy app or test process
    directly can leave a child that dies at once); it imports the renderer once, before forking
    them. Should a rendering process die all the same, the jobs not yet yielded are rendered here,
    one after another: the same bytes, only slower."""

    def __init__(self, workers: int | None, total: int, fn: Callable[[tuple], tuple] = _render_job):
        import multiprocessing
        import os

        self.fn = fn
        self.jobs: list[tuple] = []
        self._pending: list[tuple] = []
        self._futures: list = []
        self._pool = None
        self._error: BaseException | None = None
        n = workers if workers is not None else min(4, os.cpu_count() or 1)
        # small chunks: the first results come early, and the processes stay evenly busy
        self._chunk = max(1, total // (8 * max(n, 1)))
        method = next((m for m in ("forkserver", "spawn") if m in multiprocessing.get_all_start_methods()), None)
        if n <= 1 or total < 8 or method is None:
            return
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["demo.render"])  # no effect when the fork server is already running
        try:
            self._pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx)
        except (BrokenProcessPool, OSError) as e:
            self._error = e

    def add(self, job: tuple) -> None:
        self.jobs.append(job)
        if self._pool is None:
            return
        self._pending.append(job)
        if len(self._pending) >= self._chunk:
            self._submit()

    def _submit(self) -> None:
        from concurrent.futures.process import BrokenProcessPool

        chunk, self._pending = self._pending, []
        try:
            self._futures.append((self._pool.submit(_render_chunk, self.fn, chunk), len(chunk)))
        except (BrokenProcessPool, OSError, RuntimeError) as e:  # RuntimeError: the pool was shut down
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._error = None, e

    def results(self, progress: Callable[[str], None] | None = None) -> Iterator[tuple[bytes, str]]:
        if self._pool is not None and self._pending:
            self._submit()
        if self._pool is None:
            if self._error is not None:
                return _render_here(self.jobs, self.fn, progress, self._error)
            return map(self.fn, self.jobs)
        return self._results(progress)

    def _results(self, progress: Callable[[str], None] | None) -> Iterator[tuple[bytes, str]]:
        from concurrent.futures.process import BrokenProcessPool

        done = 0
        try:
            try:
                for future, _n in self._futures:
                    for out in future.result():
                        done += 1
                        yield out
            finally:
                self._pool.shutdown(wait=True, cancel_futures=True)
        except (BrokenProcessPool, OSError) as e:
            yield from _render_here(self.jobs[done:], self.fn, progress, e)


def _render_here(jobs: list[tuple], fn: Callable[[tuple], tuple], progress: Callable[[str], None] | None,
                 e: BaseException) -> Iterator[tuple[bytes, str]]:
    if progress:
        progress(f"  并行生成中断（{type(e).__name__}），改为逐份生成…")
    return map(fn, jobs)


def generate_county(seed: int = SEED, progress: Callable[[str], None] | None = None,
                    cal: Workdays | None = None, workers: int | None = None) -> list[DemoFile]:
    """Every workbook the demonstration county's units sent in, first … last scheme year.

    Deterministic for ``seed`` (whatever ``workers``, the number of rendering processes).
    Ordered by year, then unit (registry order), then version.
    """
    _n, files = county_files(seed, progress, cal, workers)
    return list(files)


def county_files(seed: int = SEED, progress: Callable[[str], None] | None = None,
                 cal: Workdays | None = None, workers: int | None = None) -> tuple[int, Iterator[DemoFile]]:
    """:func:`generate_county` as a stream: (how many files, the files in the same order, each
    yielded as soon as it is rendered while the processes render the next ones)."""
    rng = random.Random(seed)
    us = units()
    yrs = years()
    cal = cal or Workdays.for_years(yrs[0], yrs[-1])
    profiles = [_profile(rng, u, i) for i, u in enumerate(us, start=1)]
    story = _story(rng, us, yrs, seed)
    filler = _Filler(rng, cal, story, seed)
    # one workbook per unit-year sent in, two for the resubmission
    total = sum((p.unit.name, y) not in story.missing for y in yrs for p in profiles) + 1
    # the processes start now, and render each workbook as soon as its content is made
    rendering = _Rendering(workers, total)
    meta: list[tuple] = []  # (unit, year, file name, received, version, tags) of each job

    def job(prof: Profile, sub: Submission, y: int, fmt: str, printed: int, received: dt.date, version: int,
            tags: list[str]) -> None:
        ext = ".xls" if fmt == "xls" else ".xlsx"
        rendering.add((f"{seed}:{prof.unit.name}:{y}:{version}", prof, sub, y, fmt, printed))
        meta.append((prof.unit.name, y, _file_name(prof, y, ext, version), received, version, tuple(tags + [fmt])))

    for yi, y in enumerate(yrs):
        scheme = scheme_for(y)
        for prof in profiles:
            key = (prof.unit.name, y)
            if key in story.missing:
                continue
            kind = "very_late" if key == story.very_late else ("late" if key in story.late else "normal")
            received = _received_date(rng, cal, scheme, kind)
            sub = filler.fill(prof, scheme, yi, received)
            printed = y - 1 if key == story.old_form else y
            fmt = prof.fmt
            if fmt == "xls" and yi >= 3 and prof.index % 2 == 0:
                fmt = "custom"  # the office got a newer Excel
            if key == story.old_form:
                fmt = "xls" if fmt == "xls" else "custom"  # last year's home-made form, with last year's 分值
            tags = [kind] if kind != "normal" else []
            if key == story.resubmit:
                # v1 misses a required category the reviewer will point out
                drop = next(c for c in reversed(required_of(scheme, prof.unit)) if c not in ("C01", "C07", "C20"))
                v1 = replace(sub, items=[i for i in sub.items if i.category != drop])
                job(prof, v1, y, fmt, printed, received, 1, tags + ["returned_first"])
                received2 = cal.add(received, rng.randint(3, 6))
                v2 = filler.corrected_version(prof, v1, scheme, received2, drop)
                job(prof, v2, y, fmt, printed, received2, 2, tags + ["resubmission"])
                continue
            job(prof, sub, y, fmt, printed, received, 1, tags + (["old_form"] if key == story.old_form else []))
    assert len(meta) == total, (len(meta), total)
    if progress:
        progress(f"  生成 {yrs[0]}–{yrs[-1]} 年度各单位自评表（{total} 份）…")
    rendered = rendering.results(progress)

    def stream() -> Iterator[DemoFile]:
        for (unit, y, name, received, version, tags), (content, _ext) in zip(meta, rendered):
            yield DemoFile(unit, y, name, content, received, version, tags)

    return total, stream()
