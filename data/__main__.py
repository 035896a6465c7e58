"""Command line: ``python -m data <verb> ...`` (see the spec's cli.md).

Thin: parse arguments, call one function of ``data``, turn named exceptions
into Chinese messages and exit codes (0 ok, 1 some file rejected, 2 usage or
bad input).
"""
from __future__ import annotations

import argparse
import logging
import datetime as dt
import getpass
import sys

from core.cli import Parser, date_arg
from core.errors import print_error
from core.logs import configure as configure_logging
from core.vocab import Role

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


def _db_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="数据库文件（默认：环境变量 GONGKAI_DB，或项目内置数据库）")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m data", description="政务公开年度考核：单位名录、自评表导入、模板与用户账号")
    sub = p.add_subparsers(dest="verb", parser_class=Parser)
    sub.required = True

    units = sub.add_parser("units", help="单位名录")
    usub = units.add_subparsers(dest="action", parser_class=Parser)
    usub.required = True
    load = usub.add_parser("load", help="导入（新增或更新）单位名录 CSV")
    load.add_argument("file")
    _db_arg(load)

    ing = sub.add_parser("ingest", help="校验并保存自评表")
    ing.add_argument("files", nargs="+")
    ing.add_argument("--received", type=date_arg, help="文件送达县里的日期（默认今天）")
    ing.add_argument("--by", help="操作人（记入审计日志）")
    _db_arg(ing)

    tpl = sub.add_parser("template", help="生成官方空白自评表")
    tpl.add_argument("--unit", required=True)
    tpl.add_argument("--year", required=True, type=int)
    tpl.add_argument("-o", "--output", required=True)
    _db_arg(tpl)

    bk = sub.add_parser("backup", help="备份数据库（看板运行时也可执行；副本经打开校验）")
    bk.add_argument("output", metavar="OUT", help="备份文件，或已存在的文件夹（在其中按时间命名）")
    _db_arg(bk)

    rs = sub.add_parser("restore", help="用备份文件替换数据库（先校验；被替换的数据库保留在旁边）")
    rs.add_argument("file", metavar="FILE", help="备份文件")
    _db_arg(rs)

    users = sub.add_parser("users", help="用户账号")
    ussub = users.add_subparsers(dest="action", parser_class=Parser)
    ussub.required = True
    add = ussub.add_parser("add", help="新增用户（密码从提示或标准输入读取）")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=list(Role))
    add.add_argument("--unit")
    _db_arg(add)
    return p


def cmd_units_load(args) -> int:
    from data.access import SYSTEM
    from data.registry import RegistryError, load_registry_file
    from data.store import connect

    con = connect(args.db)
    try:
        added, updated = load_registry_file(con, args.file, actor=SYSTEM)
    except (FileNotFoundError, IsADirectoryError):
        print(f"{args.file}: 文件不存在", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"{args.file}: 无法读取（{e.strerror or e}）", file=sys.stderr)
        return EXIT_USAGE
    except RegistryError as e:
        print_error(e)
        print("单位名录未导入（未作任何更改）", file=sys.stderr)
        return EXIT_USAGE
    finally:
        con.close()
    print(f"单位名录已导入：新增 {added} 个，更新 {updated} 个")
    return EXIT_OK


def print_result(res, out=None) -> None:
    """One line for the file, then one line per error and per warning (cli.md)."""
    out = out or sys.stdout  # looked up at call time (not bound when the module was imported)
    print(res.summary(), file=out)
    print_error([*res.report.errors, *res.report.warnings], source=res.file_name, file=out)


def cmd_ingest(args) -> int:
    from data.store import connect

    con = connect(args.db)
    try:
        return _ingest_all(con, args)
    finally:
        con.close()


def _ingest_all(con, args) -> int:
    from data.db import checkpoint, is_file_failure
    from data.ingest import REJECTED, ingest_many, read_input

    received = args.received or dt.date.today()
    code = EXIT_OK
    # the files are read and validated in worker processes on every core (each with a memory and a
    # time limit); results come back in order and are stored one by one
    files = [(f, lambda f=f: read_input(f)) for f in args.files]
    results = ingest_many(con, files, received=received, actor=args.by or "命令行")
    for n, f in enumerate(args.files):
        try:
            res = next(results)
        except Exception as e:  # an internal error: reported for this file, the batch goes on with the rest
            if is_file_failure(e):
                raise  # the database itself cannot be used: stop (exit 2)
            logging.getLogger("data").exception("导入 %s 失败", f)
            print(f"{f}: 处理失败（程序内部错误，未保存任何数据）：{type(e).__name__}: {e}")
            code = EXIT_REJECTED
            results = ingest_many(con, files[n + 1:], received=received, actor=args.by or "命令行")
            continue
        checkpoint(con)  # into the file before "accepted" is printed: damaged blocks fail here
        print_result(res)
        sys.stdout.flush()
        if res.outcome == REJECTED:
            code = EXIT_REJECTED
    return code


def cmd_template(args) -> int:
    from data.registry import get_units
    from data.store import connect
    from data.template import build_template
    from core.normalize import norm_key
    from core.scheme import scheme_for

    scheme = scheme_for(args.year)
    if scheme is None:
        print(f"没有 {args.year} 年度的考核指标体系", file=sys.stderr)
        return EXIT_USAGE
    con = connect(args.db)
    try:
        unit = get_units(con).get(norm_key(args.unit, label=False))
    finally:
        con.close()
    if unit is None:
        print(f"单位“{args.unit}”不在单位名录中", file=sys.stderr)
        return EXIT_USAGE
    try:
        with open(args.output, "wb") as fh:
            fh.write(build_template(scheme, unit))
    except OSError as e:
        print(f"{args.output}: 无法写入（{e.strerror or e}）：请检查文件夹是否存在、文件是否正在 Excel 中打开",
              file=sys.stderr)
        return EXIT_USAGE
    print(f"已生成 {unit.name} {args.year}年度自评表：{args.output}")
    return EXIT_OK


def cmd_users_add(args) -> int:
    from data.store import connect
    from data.access import SYSTEM
    from data.users import UserError, create_user

    if args.role == "unit" and not args.unit:
        print("填报单位账号需要 --unit 单位名称", file=sys.stderr)
        return EXIT_USAGE
    if sys.stdin.isatty():
        pw = getpass.getpass("密码：")
        if getpass.getpass("再次输入密码：") != pw:
            print("两次输入的密码不一致", file=sys.stderr)
            return EXIT_USAGE
    else:
        pw = sys.stdin.readline().rstrip("\r\n")
    con = connect(args.db)
    try:
        name = create_user(con, args.name, args.role, pw, unit=args.unit, actor=SYSTEM)
    except UserError as e:
        print_error(e)
        return EXIT_USAGE
    print(f"已创建用户 {name}（{args.role}）")
    return EXIT_OK


def cmd_backup(args) -> int:
    from data.backup import BackupRefused, backup
    from data.store import db_path

    try:
        res = backup(db_path(args.db), args.output)
    except BackupRefused as e:
        print(f"未备份：{e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"{args.output}: 无法写入备份（{e.strerror or e}）", file=sys.stderr)
        return EXIT_USAGE
    print(f"已备份到 {res.path}（已打开校验：{res.tables} 张表，共 {res.rows} 行，结构版本 {res.schema_version}）")
    return EXIT_OK


def cmd_restore(args) -> int:
    from data.backup import BackupRefused, restore
    from data.store import db_path

    target = db_path(args.db)
    try:
        res = restore(target, args.file)
    except BackupRefused as e:
        print(f"未恢复（数据库未作任何更改）：{e}", file=sys.stderr)
        return EXIT_REJECTED
    except FileNotFoundError as e:
        print(f"{args.file}: 文件不存在" if not str(e).startswith("文件") else str(e), file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"未恢复：{e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    kept = f"；原数据库已保留为 {res.kept}" if res.kept else ""
    print(f"已从 {args.file} 恢复数据库 {res.path}（结构版本 {res.schema_version}，共 {res.rows} 行）{kept}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    from data.db import describe_failure, is_file_failure
    from data.store import DatabaseProblem

    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except DatabaseProblem as e:  # busy after waiting, foreign, newer, damaged, missing: exit 2
        print(f"无法使用数据库：{e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # damaged blocks met while working
        if not is_file_failure(e):
            raise
        print(f"无法使用数据库：{describe_failure(e, getattr(args, 'db', None))}", file=sys.stderr)
        return EXIT_USAGE


def _dispatch(args) -> int:
    if args.verb == "units":
        return cmd_units_load(args)
    if args.verb == "ingest":
        return cmd_ingest(args)
    if args.verb == "template":
        return cmd_template(args)
    if args.verb == "users":
        return cmd_users_add(args)
    if args.verb == "backup":
        return cmd_backup(args)
    if args.verb == "restore":
        return cmd_restore(args)
    return EXIT_USAGE  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
