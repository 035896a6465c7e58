"""``python -m deploy.run_cluster`` (``make run-cluster``): the province setup on one machine.

Starts, in this order, and stops them all again on Ctrl-C (or when one of them ends):

1. a private PostgreSQL cluster in ``var/cluster/pgdata`` (initdb on first use; as the
   ``postgres`` OS user when run as root), listening on 127.0.0.1 only, and its
   database ``gongkai``;
2. the demonstration county in that database, built once (``python -m demo --if-missing``);
3. two dashboard replicas (``streamlit run``) on free ports of 127.0.0.1, with
   ``GONGKAI_DB`` naming the database and one shared ``server.cookieSecret``
   (generated once, kept in ``var/cluster/cookie_secret``, mode 0600);
4. HAProxy with ``deploy/haproxy.cfg`` on ``--port`` (default 8080).

For a look at the setup only: the cluster trusts every local connection. A real
deployment is described in docs/deployment.md.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from deploy.pgcluster import Cluster, ClusterUnavailable, free_port

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DIR = PROJECT_DIR / "var" / "cluster"
HAPROXY_CFG = PROJECT_DIR / "deploy" / "haproxy.cfg"
DATABASE = "gongkai"
REPLICAS = 2
EXIT_OK, EXIT_FAILED = 0, 1


class Stop(Exception):
    """Ctrl-C, SIGTERM, or one of the processes ended."""


def say(line: str) -> None:
    print(line, flush=True)


def find_haproxy() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
                                            if os.access(p, os.X_OK)), None)


def backend_supports_postgresql() -> bool:
    return importlib.util.find_spec("data.pg") is not None


def cookie_secret(directory: Path) -> str:
    """The replicas' shared ``server.cookieSecret``: generated on first use, then read (file mode 0600)."""
    path = directory / "cookie_secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="ascii").strip()


def ensure_database(admin_url: str, name: str) -> bool:
    """Create database ``name`` when missing (UTF-8, C collation); True when it was created."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as c:
        if c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        c.execute(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' LC_COLLATE \'C\' LC_CTYPE \'C\' TEMPLATE template0')
        return True


def wait_healthy(port: int, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Stop(f"看板副本（端口 {port}）启动失败，退出码 {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise Stop(f"看板副本（端口 {port}）在 {seconds:.0f} 秒内没有就绪")


def start(cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    """A child in its own process group (its helpers stop with it; Ctrl-C reaches only us)."""
    out = open(log, "ab")
    try:
        return subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()


def stop(proc: subprocess.Popen, seconds: float = 15) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m deploy.run_cluster",
                                description="在本机启动省级部署的样子：本地 PostgreSQL、两个看板副本和 HAProxy（按 Ctrl-C 全部停止）。")
    p.add_argument("--port", type=int, default=8080, help="浏览器访问的端口（HAProxy，默认 8080）")
    p.add_argument("--host", default="127.0.0.1",
                   help="HAProxy 监听的地址（默认 127.0.0.1，仅本机；0.0.0.0 允许其他电脑访问）")
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="数据库和日志所在目录（默认 var/cluster）")
    p.add_argument("--no-demo", action="store_true", help="不写入演示县（数据库保持为空）")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    haproxy = find_haproxy()
    if haproxy is None:
        say("未找到 haproxy。请先安装（Debian/Ubuntu：sudo apt-get install haproxy），再运行 make run-cluster。")
        return EXIT_FAILED
    if not backend_supports_postgresql():
        say("此版本的数据层还不支持 PostgreSQL 数据库（缺少 data/pg.py），无法启动多副本部署。")
        return EXIT_FAILED
    directory = args.dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)

    def on_signal(signum, frame):
        raise Stop("收到停止信号")

    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even where it was inherited ignored
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    procs: list[tuple[str, subprocess.Popen]] = []
    cluster = None
    try:
        cluster = Cluster(directory / "pgdata", free_port())
        if cluster.exists() and cluster.running():  # left running by an interrupted run
            cluster.stop()
        if not cluster.exists():
            say(f"初始化 PostgreSQL 数据目录 {cluster.data_dir} …")
            cluster.init()
        cluster.start()
        url = cluster.url(DATABASE)
        created = ensure_database(cluster.url(), DATABASE)
        say(f"PostgreSQL 已启动：GONGKAI_DB={url}" + ("（新建数据库）" if created else ""))

        if not args.no_demo:
            say("写入演示县（已有演示数据时不作更改）…")
            r = subprocess.run([sys.executable, "-m", "demo", "--if-missing", "--db", url], cwd=PROJECT_DIR)
            if r.returncode != 0:
                say(f"演示县未能写入 PostgreSQL 数据库（python -m demo 退出码 {r.returncode}，原因见上）。"
                    "看板仍会启动，但演示数据没有或不完整；重建：.venv/bin/python -m demo --reset --db " + url)

        env = dict(os.environ, GONGKAI_DB=url, STREAMLIT_SERVER_COOKIE_SECRET=cookie_secret(directory))
        ports = []
        for i in range(1, REPLICAS + 1):
            port = free_port()
            cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
                   "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
            procs.append((f"看板副本 app{i}", start(cmd, directory / f"app{i}.log", env)))
            ports.append(port)
        for (_, proc), port in zip(procs, ports):
            wait_healthy(port, proc)

        henv = dict(os.environ, GONGKAI_PROXY_BIND=f"{args.host}:{args.port}",
                    **{f"GONGKAI_APP{i}": f"127.0.0.1:{p}" for i, p in enumerate(ports, 1)})
        check = subprocess.run([haproxy, "-c", "-q", "-f", str(HAPROXY_CFG)], env=henv, capture_output=True, text=True)
        if check.returncode != 0:
            raise Stop(f"HAProxy 配置有误：{(check.stderr or check.stdout).strip()}")
        procs.append(("HAProxy", start([haproxy, "-db", "-f", str(HAPROXY_CFG)], directory / "haproxy.log", henv)))
        time.sleep(1)

        shown = "localhost" if args.host in ("127.0.0.1", "0.0.0.0", "") else args.host
        say("")
        say(f"省级部署已启动：http://{shown}:{args.port}")
        say(f"  两个看板副本：127.0.0.1:{ports[0]}、127.0.0.1:{ports[1]}（浏览器由 HAProxy 的 SRV Cookie 固定在其中一个上）")
        say(f"  日志：{directory}/app1.log、app2.log、haproxy.log、pgdata.log")
        say("按 Ctrl-C 停止全部进程。")
        while True:
            for name, proc in procs:
                if proc.poll() is not None:
                    raise Stop(f"{name} 已退出（退出码 {proc.returncode}），日志见 {directory}")
            time.sleep(1)
    except KeyboardInterrupt:
        say("\n正在停止 …")
        return EXIT_OK
    except Stop as e:
        say(f"{e}；正在停止 …")
        return EXIT_FAILED
    except ClusterUnavailable as e:
        say(f"无法启动 PostgreSQL：{e}")
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        for _, proc in reversed(procs):
            stop(proc)
        if cluster is not None:
            cluster.stop()
        say("已停止。")


if __name__ == "__main__":
    sys.exit(main())
