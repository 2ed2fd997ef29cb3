#!/usr/bin/env python3
"""The warm path at the engine's floor: `devenv run -- true` on an up-to-date environment
(local engine, bind workspace) next to the raw API exec floor (bench/exec_floor.py: create,
start attached, inspect, from an already running process) and `docker exec C true`, in one
run, alternating, for three projects:

  plain        one step, no services
  3 services   three busybox httpd services with ready probes
  10,000 files a project of 10,000 files whose step takes one of them as input
  10,000 inputs the same project with all 10,000 files as the step's inputs (the stat
               cache checks each on every command: the input-heavy worst case)

usage: bench/warm.py [--runs N] [--devenv PATH]      prints Markdown rows
Everything carries the label dev.devenv.project=devenv-bench-warm-<pid>-* and is removed.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import exec_floor  # noqa: E402
import services  # noqa: E402  (its busybox rootfs)


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def timed(args, **kw):
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def project(kind, name, work):
    os.makedirs(work)
    services.NAME = name
    services.rootfs(os.path.join(work, "base.tar"))
    body = f'name = "{name}"\n[base]\nrootfs = "base.tar"\n'
    if kind in ("files", "inputs"):
        for i in range(10_000):
            d = os.path.join(work, "src", f"d{i % 100:02d}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"f{i:05d}.txt"), "w") as f:
                f.write(f"file {i}\n")
        inputs = "src" if kind == "inputs" else "src/d00/f00000.txt"
        body += f'[[step]]\ninputs = ["{inputs}"]\nrun = "ls -R src | wc -l > /count"\n'
    else:
        body += '[[step]]\nrun = "echo built > /built"\n'
    if kind == "services":
        tag = f"{name}:base"
        sh("docker", "import", "--change", f"LABEL dev.devenv.project={name}",
           os.path.join(work, "base.tar"), tag)
        for i, port in enumerate([8091, 8092, 8093]):
            body += (f'[services.s{i}]\nimage = "{tag}"\n'
                     f'command = ["httpd", "-f", "-p", "{port}", "-h", "/www"]\n'
                     f'ready = "wget -q -O /dev/null http://127.0.0.1:{port}/"\n')
    with open(os.path.join(work, "devenv.toml"), "w") as f:
        f.write(body)


def cleanup(name, work, devenv, env):
    subprocess.run([devenv, "down"], cwd=work, env=env, capture_output=True)
    label = f"label=dev.devenv.project={name}"
    for ids in (sh("docker", "ps", "-aq", "--filter", label, check=False).stdout.split(),):
        if ids:
            sh("docker", "rm", "-f", *ids, check=False)
    refs = sh("docker", "images", "--filter", label, "--format", "{{.Repository}}:{{.Tag}}",
              check=False).stdout.split()
    refs = [r for r in refs if "<none>" not in r]
    if refs:
        sh("docker", "rmi", *refs, check=False)
    ids = sh("docker", "images", "-q", "--filter", label, check=False).stdout.split()
    if ids:
        sh("docker", "rmi", *sorted(set(ids)), check=False)


def case(kind, devenv, runs, tmp):
    name = f"devenv-bench-warm-{os.getpid()}-{kind}"
    work = os.path.join(tmp, kind)
    env = dict(os.environ, NO_COLOR="1")
    env.pop("CI", None)
    try:
        project(kind, name, work)
        subprocess.run([devenv, "up"], cwd=work, env=env, check=True, capture_output=True)
        dev = sh("docker", "ps", "-q", "--filter", f"label=dev.devenv.project={name}",
                 "--filter", "label=dev.devenv.role=env").stdout.split()[0]
        # Services are current once the engine's healthchecks say so; until then the
        # warm path waits for them (measured apart: that is not the steady state).
        deadline = time.time() + 60
        while time.time() < deadline:
            status = sh("docker", "ps", "--filter", f"label=dev.devenv.project={name}",
                        "--filter", "label=dev.devenv.role=service",
                        "--format", "{{.Status}}").stdout.split("\n")
            if all("(healthy)" in st for st in status if st):
                break
            time.sleep(0.5)
        sock = exec_floor.sock_path()
        ours, floor, cli = [], [], []
        for _ in range(3):  # warm the stat cache and the engine
            timed([devenv, "run", "--", "true"], cwd=work, env=env)
        for _ in range(runs):
            ours.append(timed([devenv, "run", "--", "true"], cwd=work, env=env))
            floor.append(exec_floor.one(sock, dev))
            cli.append(timed(["docker", "exec", dev, "true"]))
        return [statistics.median(x) * 1000 for x in (ours, floor, cli)]
    finally:
        cleanup(name, work, devenv, env)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--devenv", default=os.path.join(ROOT, "target", "release", "devenv"))
    args = ap.parse_args()
    devenv = os.path.abspath(args.devenv)
    tmp = tempfile.mkdtemp(prefix="devenv-bench-warm-")
    print("| project | `devenv run -- true` | API exec floor | `docker exec C true` | "
          "devenv / floor | target |\n|---|---:|---:|---:|---:|---:|")
    for kind, label in [("plain", "one step"), ("services", "3 services"),
                        ("files", "10,000 files, 1 input"),
                        ("inputs", "10,000 files, all inputs")]:
        ours, floor, cli = case(kind, devenv, args.runs, tmp)
        ratio = ours / floor
        ok = "ok" if ratio <= 1.05 else "MISSED"
        print(f"| {label} | {ours:.1f} ms | {floor:.1f} ms | {cli:.1f} ms | {ratio:.2f}x "
              f"| <= 1.05x ({ok}) |", flush=True)


if __name__ == "__main__":
    main()
