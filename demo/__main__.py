"""``python -m demo [--db PATH] [--reset | --if-missing] [--seed N]``: build the demonstration county.

Thin: parse arguments, call :func:`demo.database.create_demo_database`, turn its
refusal into a Chinese message and exit code 2.
"""
from __future__ import annotations

import argparse
import sys

from core.cli import Parser

EXIT_OK, EXIT_USAGE = 0, 2


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m demo",
                description="生成演示县（方正县，各年度自评表、审核记录和演示账号）。演示数据只写入新文件或已标记为演示的数据库。")
    p.add_argument("--db", help="演示数据库文件（默认 var/demo.duckdb；不使用环境变量 GONGKAI_DB）")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--reset", action="store_true", help="重建已有的演示数据库（在新文件中生成后整体替换）")
    g.add_argument("--if-missing", action="store_true", help="演示数据库已存在时不作任何更改")
    p.add_argument("--seed", type=int, default=None, help="随机种子（默认 2019；同一种子生成完全相同的数据）")
    return p


def main(argv: list[str] | None = None) -> int:
    from demo.database import DemoRefused, create_demo_database
    from demo.generate import SEED

    args = build_parser().parse_args(argv)
    try:
        line, _ = create_demo_database(args.db, reset=args.reset, if_missing=args.if_missing,
                                       seed=SEED if args.seed is None else args.seed, progress=print)
    except DemoRefused as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    print(line)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
