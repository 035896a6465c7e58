"""`python -m data users add NAME --role ROLE [--unit UNIT]`: password from standard input."""
import io

import pytest

from data.__main__ import main
from data.access import SYSTEM
from data.registry import load_units, parse_registry
from data.store import connect
from data.users import authenticate

REG = "单位名称,单位类型,附加必公开类别\n方正镇,乡镇,\n"


@pytest.fixture
def db(tmp_path):
    p = tmp_path / "u.duckdb"
    con = connect(p)
    load_units(con, parse_registry(REG), actor=SYSTEM)
    con.close()
    return str(p)


def run(monkeypatch, args, password="s3cret-pw"):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["users", "add", *args])


def test_add_reviewer_reads_password_from_stdin_and_it_signs_in(db, monkeypatch, capsys):
    assert run(monkeypatch, ["张三", "--role", "reviewer", "--db", db]) == 0
    assert "已创建用户 张三" in capsys.readouterr().out
    con = connect(db)
    assert authenticate(con, "张三", "s3cret-pw") == {"name": "张三", "role": "reviewer", "unit": None}
    assert authenticate(con, "张三", "wrong-pw") is None
    stored = con.execute("SELECT password_hash FROM users WHERE name = '张三'").fetchone()[0]
    assert "s3cret-pw" not in stored and stored.startswith("sha256-bcrypt$$2")


def test_add_unit_account_is_bound_to_its_unit(db, monkeypatch):
    assert run(monkeypatch, ["zhen", "--role", "unit", "--unit", "方正镇", "--db", db]) == 0
    assert authenticate(connect(db), "zhen", "s3cret-pw")["unit"] == "方正镇"


@pytest.mark.parametrize("args, password, words", [
    (["zhen", "--role", "unit"], "s3cret-pw", "--unit"),
    (["zhen", "--role", "unit", "--unit", "不存在镇"], "s3cret-pw", "不在名录"),
    (["李四", "--role", "leader"], "1234567", "至少 8 个字符"),
    (["admin\u200b", "--role", "admin"], "s3cret-pw", "不可见"),
    (["x" * 40, "--role", "admin"], "s3cret-pw", "最长 32"),
])
def test_bad_account_requests_exit_2_with_a_chinese_message(db, monkeypatch, capsys, args, password, words):
    assert run(monkeypatch, [*args, "--db", db], password) == 2
    assert words in capsys.readouterr().err
    assert connect(db).execute("SELECT count(*) FROM users").fetchone()[0] == 0


def test_an_existing_name_is_refused(db, monkeypatch, capsys):
    assert run(monkeypatch, ["张三", "--role", "admin", "--db", db]) == 0
    assert run(monkeypatch, ["张三", "--role", "leader", "--db", db]) == 2
    assert "已存在" in capsys.readouterr().err


def test_an_unknown_role_is_a_usage_error(db, monkeypatch):
    with pytest.raises(SystemExit) as e:
        run(monkeypatch, ["王五", "--role", "boss", "--db", db])
    assert e.value.code == 2


def test_a_password_over_72_bytes_is_accepted_without_a_traceback(db, monkeypatch, capsys):
    pw = "政务公开" * 10  # 40 characters, 120 bytes
    assert run(monkeypatch, ["长密码", "--role", "leader", "--db", db], pw) == 0
    assert authenticate(connect(db), "长密码", pw)["role"] == "leader"
