"""Command line of the scoring engine (cli.md).

    python -m metrics scorecard --year YEAR --csv OUT.csv [--snapshot live|published|final] [--db PATH]
    python -m metrics summary --year YEAR [--csv OUT.csv] [--snapshot live|published|final] [--db PATH]
    python -m metrics report --year YEAR -o OUT.xlsx [--db PATH]
    python -m metrics unit-report --year YEAR --unit NAME -o OUT.xlsx [--db PATH]
    python -m metrics reconcile --year YEAR [--csv OUT.csv] [--db PATH]
    python -m metrics calendar load --year YEAR FILE.csv [--actor NAME] [--db PATH]
    python -m metrics calendar status [--db PATH]
    python -m metrics stage --year YEAR [--start-review | --back --reason TEXT] [--db PATH]
    python -m metrics publish --year YEAR [--date D] [--db PATH]
    python -m metrics finalize --year YEAR [--early --reason TEXT] [--db PATH]
    python -m metrics notice --year YEAR -o OUT.docx [--snapshot live|published|final] [--db PATH]

Exit codes: 0 done, 1 failure while working, 2 usage error (unknown year,
missing database, bad arguments, bad calendar file).
"""
from __future__ import annotations

import argparse
import logging
import csv
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from core.cli import Parser, date_arg
from core.errors import GongkaiError, print_error
from core.logs import configure as configure_logging
from core.vocab import UNIT_TYPES, Status

USAGE_ERROR, FAILURE = 2, 1

def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m metrics", description="政务公开年度考核：计分、计分表导出、考核结果报表、工作日历")
    sub = p.add_subparsers(dest="verb", metavar="命令", parser_class=Parser)
    sub.required = True

    def db(sp):
        sp.add_argument("--db", metavar="PATH", help="数据库文件（默认：环境变量 GONGKAI_DB，或项目内置数据库）")

    def snapshot(sp):  # a missing snapshot is a GongkaiError (SnapshotMissing): exit 1 with its message
        sp.add_argument("--snapshot", choices=["live", "published", "final"], default=None,
                        help="结果来源：live 实时计算、published 公示稿、final 定稿（默认：最新的结果稿，没有则实时，与看板相同）")

    sc = sub.add_parser("scorecard", help="导出计分表 CSV（UTF-8 带 BOM）")
    sc.add_argument("--year", type=int, required=True, metavar="YEAR", help="考核年度")
    sc.add_argument("--csv", required=True, metavar="OUT.csv", help="输出文件")
    snapshot(sc)
    db(sc)

    sm = sub.add_parser("summary", help="全县汇总数字（与看板“总览”相同）：报送率、平均分、等次分布、及时率、覆盖率及与上年比较")
    sm.add_argument("--year", type=int, required=True, metavar="YEAR", help="考核年度")
    sm.add_argument("--csv", metavar="OUT.csv", help="另存为 CSV（UTF-8 带 BOM；比率为小数）")
    snapshot(sm)
    db(sm)

    stg = sub.add_parser("stage", help="查看年度所处阶段（填报、审核、公示及公示期、定稿）")
    stg.add_argument("--year", type=int, required=True, metavar="YEAR", help="考核年度")
    stg.add_argument("--start-review", action="store_true", help="结束填报、开始审核（填报 → 审核）")
    stg.add_argument("--back", action="store_true", help="退回上一阶段（需 --reason）")
    stg.add_argument("--reason", metavar="TEXT", help="退回的理由")
    stg.add_argument("--by", metavar="NAME", help="操作人（记入审计日志，默认“命令行”）")
    db(stg)

    pb = sub.add_parser("publish", help="发布考核结果（生成公示稿，进入公示期）")
    pb.add_argument("--year", type=int, required=True, metavar="YEAR", help="考核年度")
    pb.add_argument("--date", type=date_arg, metavar="YYYY-MM-DD", help="发布日期（默认今天；公示期从这天起算）")
    pb.add_argument("--by", metavar="NAME", help="操作人（记入审计日志，默认“命令行”）")
    db(pb)

    fz = sub.add_parser("finalize", help="考核结果定稿")
    fz.add_argument("--year", type=int, required=True, metavar="YEAR", help="考核年度")
    fz.add_argument("--early", action="store_true", help="公示期未结束或仍有未答复申诉时提前定稿（需 --reason）")
    fz.add_argument("--reason", metavar="TEXT", help="提前定稿的理由")
    fz.add_argument("--date", type=date_arg, metavar="YYYY-MM-DD", help="定稿日期（默认今天）")
    fz.add_argument("--by", metavar="NAME", help="操作人（记入审计日志，默认“命令行”）")
    db(fz)

    nt = sub.add_parser("notice", help="生成考核结果通报（.docx 草稿）")
    nt.add_argument("--year", type=int, required=True, metavar="YEAR", help="考核年度")
    nt.add_argument("-o", "--output", required=True, metavar="OUT.docx", help="输出文件")
    snapshot(nt)
    db(nt)

    rp = sub.add_parser("report", help="导出考核结果工作簿（xlsx，按乡镇、部门分表）")
    rp.add_argument("--year", type=int, required=True, metavar="YEAR", help="考核年度")
    rp.add_argument("-o", "--output", required=True, metavar="OUT.xlsx", help="输出文件")
    db(rp)

    ur = sub.add_parser("unit-report", help="导出单个单位的得分表（xlsx）")
    ur.add_argument("--year", type=int, required=True, metavar="YEAR", help="考核年度")
    ur.add_argument("--unit", required=True, metavar="NAME", help="单位名称")
    ur.add_argument("-o", "--output", required=True, metavar="OUT.xlsx", help="输出文件")
    db(ur)

    rc = sub.add_parser("reconcile", help="年报勾稽：列出各单位年报数据的勾稽问题（可导出 CSV，UTF-8 带 BOM）")
    rc.add_argument("--year", type=int, required=True, metavar="YEAR", help="考核年度")
    rc.add_argument("--csv", metavar="OUT.csv", help="输出文件（列：unit,rule,location,expected,actual,message）")
    db(rc)

    cal = sub.add_parser("calendar", help="工作日历：查看状态、导入某年节假日和调休上班日")
    csub = cal.add_subparsers(dest="cal_verb", metavar="操作", parser_class=Parser)
    csub.required = True
    cl = csub.add_parser("load", help="导入一年的节假日 CSV（列：日期,类型；类型为 节假日 或 调休上班）")
    cl.add_argument("--year", type=int, required=True, metavar="YEAR")
    cl.add_argument("file", metavar="FILE.csv")
    cl.add_argument("--actor", default=None, metavar="NAME", help="操作人（记入审计日志）")
    db(cl)
    cs = csub.add_parser("status", help="列出各年度日历来源")
    db(cs)

    rs = sub.add_parser("rescore", help="重新计算并保存各年度得分和台账汇总（更换指标体系后使用；平时每次保存后自动更新）")
    rs.add_argument("--year", type=int, action="append", metavar="YEAR", help="只重算该年度（可重复；默认全部年度）")
    db(rs)
    return p


def _open(db_arg):
    """Open the database (waiting a few seconds while the dashboard or another
    command holds it); a busy, foreign or damaged file is a usage error (exit 2)."""
    from data.store import DatabaseProblem, connect, db_path

    path = db_path(db_arg)
    if isinstance(path, Path) and str(path) != ":memory:" and not path.exists():
        print(f"数据库文件不存在：{path}（请用 --db 指定，或先导入数据）", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)
    try:
        return connect(path, create=False)
    except DatabaseProblem as e:
        print(f"无法使用数据库：{e}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)


def _write(path: str, data: bytes) -> bool:
    """Write an output file; say why in Chinese when it cannot be written."""
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        print(f"无法写入 {path}：{e.strerror}", file=sys.stderr)
        return False
    return True


def _check_year(year: int):
    from core.scheme import scheme_for, years

    s = scheme_for(year)
    if s is None:
        have = "、".join(str(y) for y in years()) or "无"
        print(f"没有{year}年度的考核指标体系；已有年度：{have}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)
    return s


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, Decimal):
        return f"{v:f}"
    return str(v)


def write_scorecard_csv(df, columns: list[str], out) -> None:
    """Write the scorecard rows (``columns`` only) to a text stream opened with
    ``encoding='utf-8-sig', newline=''``."""
    from data.exports import csv_cell

    w = csv.writer(out)
    w.writerow(columns)
    for row in df[columns].itertuples(index=False, name=None):
        w.writerow([csv_cell(_cell(v)) for v in row])  # a unit name is never a formula


def _warn_provisional(df) -> None:
    if df.attrs.get("provisional"):
        print(f"注意：{df.attrs.get('provisional_reason')}", file=sys.stderr)


def cmd_scorecard(args) -> int:
    from metrics import engine

    _check_year(args.year)
    from metrics.closing import results

    con = _open(args.db)
    df = results(con, args.year, args.snapshot)
    snap = df.attrs.get("snapshot")
    cols = engine.SCORECARD_COLUMNS + list(snap["codes"]) if snap else engine.scorecard_columns(args.year)
    out = Path(args.csv)
    try:
        with open(out, "w", encoding="utf-8-sig", newline="") as f:
            write_scorecard_csv(df, cols, f)
    except OSError as e:
        print(f"无法写入 {args.csv}：{e.strerror}", file=sys.stderr)
        return FAILURE
    n_missing = int((df["status"] == Status.MISSING).sum())
    by_type = "、".join(f"{t} {int((df['unit_type'] == t).sum())} 个" for t in UNIT_TYPES)
    print(f"已写出 {args.csv}：{args.year}年度计分表（{df.attrs.get('label', '实时数据')}），共 {len(df)} 个单位"
          f"（{by_type}；未报送 {n_missing} 个）")
    _warn_provisional(df)
    return 0


def cmd_report(args) -> int:
    from metrics import engine
    from metrics.report import build_report

    _check_year(args.year)
    con = _open(args.db)
    data = build_report(con, args.year)
    if not _write(args.output, data):
        return FAILURE
    print(f"已写出 {args.output}：{args.year}年度考核结果（乡镇、部门两张表）")
    st = engine.year_status(con, args.year)
    if st["provisional"]:
        print(f"注意：{st['reason']}", file=sys.stderr)
    return 0


def _fmt(key: str, v) -> str:
    """A summary figure as 总览 shows it: rates as percent with one decimal, points with two."""
    from metrics.summary import COUNTS, RATES

    if v is None:
        return "—"
    if key in RATES:
        return f"{(Decimal(str(v)) * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
    if key in COUNTS or key.startswith("等次"):
        return str(int(v))
    return f"{Decimal(str(v)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def _csv_number(v) -> str:
    if v is None:
        return ""
    if isinstance(v, int):
        return str(v)
    return f"{Decimal(str(v)).quantize(Decimal('0.000001'), rounding=ROUND_HALF_UP).normalize():f}"


def cmd_summary(args) -> int:
    from metrics.summary import LABELS, summary_table, summary_with_change

    _check_year(args.year)
    con = _open(args.db)
    s = summary_with_change(con, args.year, args.snapshot)
    keys = list(LABELS) + [f"等次·{g}" for g in s["current"]["grades"]]
    table = summary_table(s)
    prev = s["previous_year"] if s["previous"] else None
    print(f"{args.year}年度全县汇总（{s['current']['label']}）"
          + (f"（与{prev}年比较）" if prev else "（无上年数据可比）"))
    for key, (label, cur, old, ch) in zip(keys, table.itertuples(index=False, name=None)):
        line = f"  {label}：{_fmt(key, cur)}"
        if prev is not None:
            line += f"（{prev}年 {_fmt(key, old)}）"
        print(line)
    if s["current"]["provisional"]:
        print(f"注意：{s['current']['provisional_reason']}", file=sys.stderr)
    if args.csv:
        try:
            with open(args.csv, "w", encoding="utf-8-sig", newline="") as f:
                w = csv.writer(f)
                w.writerow(["key", "指标", f"{args.year}年", f"{prev}年" if prev else "上年", "变化"])
                for key, (label, cur, old, ch) in zip(keys, table.itertuples(index=False, name=None)):
                    w.writerow([key, label, _csv_number(cur), _csv_number(old), _csv_number(ch)])
        except OSError as e:
            print(f"无法写入 {args.csv}：{e.strerror}", file=sys.stderr)
            return FAILURE
        print(f"已写出 {args.csv}")
    return 0


def cmd_unit_report(args) -> int:
    from metrics.report import build_unit_scorecard

    _check_year(args.year)
    con = _open(args.db)
    try:
        data = build_unit_scorecard(con, args.year, args.unit)
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return USAGE_ERROR
    if not _write(args.output, data):
        return FAILURE
    print(f"已写出 {args.output}：{args.unit} {args.year}年度得分表")
    return 0


def cmd_reconcile(args) -> int:
    from metrics import reconcile

    _check_year(args.year)
    con = _open(args.db)
    df = reconcile.findings(con, args.year)
    n = reconcile.year_counts(con, args.year)
    summary = (f"{args.year}年度年报勾稽：{n['filled']} 个单位填报了年报数据，其中 {n['consistent']} 个一致、"
               f"{n['inconsistent']} 个有问题，共 {len(df)} 条")
    if args.csv:
        if not _write(args.csv, reconcile.findings_csv(df)):
            return FAILURE
        print(f"已写出 {args.csv}：{summary}")
        return 0
    for row in df.itertuples(index=False):
        print(f"{row.unit}: {row.location}: {row.rule} {row.message}")
    print(summary)
    return 0


def cmd_calendar(args) -> int:
    from data.access import SYSTEM, Actor
    from data.calendar import CalendarError, calendar_status, load_calendar_csv

    con = _open(args.db)
    if args.cal_verb == "status":  # opened for writing: the calendar is built (data.calendar.prepare_calendar)
        for r in calendar_status(con):
            print(f"{r['year']}\t{r['label']}\t工作日 {r['workdays']} 天")
        return 0
    p = Path(args.file)
    try:
        raw = p.read_bytes()
    except OSError as e:
        print(f"{args.file}: 无法读取：{e.strerror}", file=sys.stderr)
        return USAGE_ERROR
    try:
        res = load_calendar_csv(con, args.year, raw, actor=Actor(args.actor or SYSTEM.name, "system"))
    except CalendarError as e:
        print_error(e, source=args.file)
        print(f"{args.file}: 未导入任何数据", file=sys.stderr)
        return USAGE_ERROR
    print(f"已导入 {args.file}：{res['year']}年 节假日 {res['holidays']} 天，调休上班 {res['makeup_days']} 天，"
          f"全年工作日 {res['workdays']} 天")
    return 0


def _actor(args):
    # the shell is the county IT operator's: an administrator's rights (data.access.SYSTEM), named by --by
    from data.access import SYSTEM, Actor

    by = (args.by or "").strip()
    return Actor(by, SYSTEM.role) if by else SYSTEM


def cmd_stage(args) -> int:
    from data.closing import get_stage
    from metrics.closing import go_back, start_review

    _check_year(args.year)
    con = _open(args.db)
    if args.start_review and args.back:
        print("--start-review 与 --back 不能同时使用", file=sys.stderr)
        return USAGE_ERROR
    if args.start_review:
        start_review(con, args.year, _actor(args))
    elif args.back:
        go_back(con, args.year, _actor(args), args.reason)
    st = get_stage(con, args.year)
    line = f"{args.year}年度：{st['stage']}"
    if st["stage"] == "公示" and st["publicity_end"]:
        line += f"（公示期 {st['publicity_start']:%Y-%m-%d} 至 {st['publicity_end']:%Y-%m-%d}）"
    print(line)
    return 0


def cmd_publish(args) -> int:
    from data.closing import get_snapshot
    from metrics.closing import publish

    _check_year(args.year)
    con = _open(args.db)
    sid = publish(con, args.year, _actor(args), today=args.date)
    snap = get_snapshot(con, sid)
    print(f"已发布{args.year}年度考核结果（公示稿第{sid}号），公示期 {snap['publicity_start']:%Y-%m-%d} 至 "
          f"{snap['publicity_end']:%Y-%m-%d}")
    return 0


def cmd_finalize(args) -> int:
    from metrics.closing import finalize

    _check_year(args.year)
    if args.early and not (args.reason or "").strip():
        print("提前定稿（--early）必须用 --reason 说明理由", file=sys.stderr)
        return USAGE_ERROR
    con = _open(args.db)
    sid = finalize(con, args.year, _actor(args), today=args.date, early=args.early, reason=args.reason)
    print(f"{args.year}年度考核结果已定稿（定稿第{sid}号）")
    return 0


def cmd_notice(args) -> int:
    from metrics.notice import build_notice

    _check_year(args.year)
    con = _open(args.db)
    data = build_notice(con, args.year, args.snapshot)
    if not _write(args.output, data):
        return FAILURE
    print(f"已写出 {args.output}：关于{args.year}年度政务公开工作考核结果的通报（草稿）")
    return 0


def cmd_rescore(args) -> int:
    from metrics.engine import rescore

    years = [_check_year(y).year for y in args.year] if args.year else None
    con = _open(args.db)
    for year, n in rescore(con, years).items():
        print(f"{year}年度：已重新计算并保存 {n} 个单位的得分")
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = _parser().parse_args(argv)
    handler = {"scorecard": cmd_scorecard, "summary": cmd_summary, "report": cmd_report,
               "unit-report": cmd_unit_report, "reconcile": cmd_reconcile, "calendar": cmd_calendar,
               "stage": cmd_stage, "publish": cmd_publish, "finalize": cmd_finalize, "notice": cmd_notice,
               "rescore": cmd_rescore}[args.verb]
    try:
        return handler(args)
    except SystemExit:
        raise
    except GongkaiError as e:
        print_error(e)
        return FAILURE
    except Exception as e:  # a bug of ours: the traceback goes to the log, one Chinese line to the user
        from data.db import describe_failure, is_file_failure
        if is_file_failure(e):  # damaged blocks met while working: the database cannot be used
            print(f"无法使用数据库：{describe_failure(e, args.db)}", file=sys.stderr)
            return USAGE_ERROR
        logging.getLogger("metrics").exception("命令 %s 失败", args.verb)
        print(f"处理失败（程序内部错误）：{type(e).__name__}: {e}", file=sys.stderr)
        return FAILURE


if __name__ == "__main__":
    sys.exit(main())
