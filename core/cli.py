"""What the three command lines (``python -m data``, ``python -m metrics``,
``python -m demo``) share: an argument parser whose usage errors are Chinese
and exit 2 (cli.md), and the date argument."""
from __future__ import annotations

import argparse
import datetime as dt
import re
import sys

#: exit code of a usage error (cli.md)
USAGE_ERROR = 2

_ARGPARSE_ZH = [
    (r"the following arguments are required: (.*)", r"缺少必需的参数：\1"),
    (r"argument (\S+): invalid int value: '(.*)'", r"参数 \1 的值“\2”不是整数"),
    (r"argument (\S+): invalid choice: '?(.*?)'? \(choose from (.*)\)", r"参数 \1 的值“\2”无效（可选：\3）"),
    (r"argument (\S+): expected one argument", r"参数 \1 需要一个值"),
    (r"unrecognized arguments: (.*)", r"无法识别的参数：\1"),
]


def usage_message(message: str) -> str:
    """argparse's English usage error in Chinese (unknown ones unchanged)."""
    for pat, rep in _ARGPARSE_ZH:
        if re.fullmatch(pat, message):
            return re.sub(pat, rep, message)
    return message


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors print the usage and
    "<prog>：用法错误：<Chinese message>" on standard error and exit 2."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"{self.prog}：用法错误：{usage_message(message)}\n")


def date_arg(s: str) -> dt.date:
    """An argument ``YYYY-MM-DD`` (``type=date_arg``)."""
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期“{s}”应为 YYYY-MM-DD 格式")
