#!/usr/bin/env python3
"""Step caches on a real project: more-itertools' source on a Debian base with its test and
lint dependencies from the Python index, side by side in one run.

  1. the dependency step's rebuild after adding one package to requirements.txt (another
     each round), with a cache of the downloaded files (`pip download` into it, then
     `pip install --no-index --find-links` from it) vs without (pip --no-cache-dir);
  2. the apt step's rebuild after adding one package to apt.txt, with
     `/var/cache/apt/archives` as a cache vs without (apt-get clean);
  3. cold `devenv up` (empty caches) vs plain `docker build` (classic builder) of
     `devenv export dockerfile --no-caches` of the same manifest.

Step times are devenv's own "step N: done in X s" lines (run + commit of that step); the
cold case is wall time. Alternating runs, medians.

usage: bench/caches.py [--runs N] [--devenv PATH]     (prints Markdown rows)
Needs: Docker, pip on the host (to fetch the sdist), the Debian rootfs the integration
tests cache in /tmp/devenv-it-cache (or DEVENV_BENCH_DEBIAN=path.tar.gz), the host's CA
bundle (containers here reach the index only through a TLS-inspecting proxy). The bundle is
a step input, so plain `docker build` of the export reaches the index the same way.
Everything carries the label dev.devenv.project=devenv-bench-caches-<pid> and is removed.
"""

import argparse
import glob
import gzip
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = f"devenv-bench-caches-{os.getpid()}"
LABEL = f"dev.devenv.project={NAME}"
REQS = ["pytest", "coverage", "flake8", "mypy", "sphinx"]
# One new package per round (new to both variants: nothing shared with the lists above).
EXTRA_REQS = ["hypothesis", "requests", "rich", "tomlkit", "click"]
APT = ["python3", "python3-pip", "python3-venv", "git", "make"]
EXTRA_APTS = ["curl", "wget", "less", "jq", "zip"]


def sh(cmd, cwd=None, env=None, check=True):
    res = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    if check and res.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def host_ca():
    for candidate in [os.environ.get("PIP_CERT", ""), os.environ.get("SSL_CERT_FILE", ""),
                      "/etc/ssl/certs/ca-certificates.crt"]:
        if candidate and os.path.isfile(candidate):
            return candidate
    sys.exit("bench: no CA bundle found")


def unique_base(dest):
    """The Debian rootfs with one file added, so its digest (and every layer) is this
    benchmark's own: a cold build imports it and nothing shared is removed."""
    src = os.environ.get("DEVENV_BENCH_DEBIAN",
                         "/tmp/devenv-it-cache/debian-bookworm-minbase.tar.gz")
    if not os.path.isfile(src):
        sys.exit(f"bench: {src} missing: run the integration tests' Debian fixture first")
    raw = gzip.decompress(open(src, "rb").read())
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tin, tarfile.open(fileobj=out, mode="w") as tout:
        for m in tin.getmembers():
            tout.addfile(m, tin.extractfile(m) if m.isfile() else None)
        data = f"{NAME}\n".encode()
        info = tarfile.TarInfo("./etc/devenv-bench")
        info.size = len(data)
        tout.addfile(info, io.BytesIO(data))
    with open(dest, "wb") as f:
        f.write(gzip.compress(out.getvalue(), 1))


def manifest(cached):
    apt_cache = ('caches = [{ target = "/var/cache/apt/archives", id = "bench-apt", '
                 'sharing = "locked" }]\n') if cached else ""
    pip_cache = 'caches = ["/root/.cache/wheels"]\n' if cached else ""
    clean = "" if cached else "apt-get clean\n"
    # pip's own HTTP cache stays empty behind this machine's TLS-inspecting proxy (its
    # answers are not cacheable), so the cached variant keeps the downloaded files
    # themselves: `pip download` skips a file it already has, the install reads them.
    install = ("/opt/venv/bin/pip download -q -d /root/.cache/wheels -r requirements.txt\n"
               "/opt/venv/bin/pip install -q --no-index --find-links /root/.cache/wheels "
               "-r requirements.txt") if cached else \
        "/opt/venv/bin/pip install -q --no-cache-dir -r requirements.txt"
    return f'''name = "{NAME}"
[base]
rootfs = "debian.tar.gz"

[[step]]
name = "system packages"
inputs = ["apt.txt"]
{apt_cache}run = """
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $(cat apt.txt) >/dev/null
{clean}rm -rf /var/lib/apt/lists/*
"""

[[step]]
name = "dependencies"
inputs = ["requirements.txt", "ca.crt"]
env = {{ PIP_CERT = "/workspace/ca.crt" }}
{pip_cache}run = """
set -e
python3 -m venv /opt/venv
{install}
"""
'''


class Project:
    def __init__(self, devenv, tmp):
        self.devenv = devenv
        self.dir = os.path.join(tmp, "more-itertools")
        sdist = os.path.join(tmp, "sdist")
        sh(["pip", "download", "-q", "--no-binary", ":all:", "--no-deps", "more-itertools",
            "-d", sdist])
        archive = glob.glob(os.path.join(sdist, "*.tar.gz"))[0]
        with tarfile.open(archive) as t:
            t.extractall(tmp)
        src = [d for d in glob.glob(os.path.join(tmp, "more_itertools-*")) if os.path.isdir(d)][0]
        os.rename(src, self.dir)
        self.version = os.path.basename(archive)
        unique_base(os.path.join(self.dir, "debian.tar.gz"))
        shutil.copy(host_ca(), os.path.join(self.dir, "ca.crt"))
        self.reqs(REQS)
        self.apt(APT)

    def write(self, rel, text):
        with open(os.path.join(self.dir, rel), "w") as f:
            f.write(text)

    def reqs(self, names):
        self.write("requirements.txt", "\n".join(names) + "\n")

    def apt(self, names):
        self.write("apt.txt", " ".join(names) + "\n")

    def run(self, *args, check=True):
        # A client of its own: no cache of the user's is used, and `prune --caches` removes
        # only the benchmark's.
        env = {**os.environ, "DEVENV_CLIENT": NAME}
        res = sh([self.devenv, *args], cwd=self.dir, env=env, check=check)
        return res.stderr

    def step_time(self, *args, step):
        err = self.run(*args)
        found = re.findall(rf"step {step}: done in ([0-9.]+)s", err)
        if not found:
            sys.exit(f"bench: step {step} did not run:\n{err}")
        return float(found[-1])

def rebuild_case(p, runs, what, step, setter, base_list, extras):
    """Median time of step `step` rebuilt after adding one package (another each round, so
    no earlier layer is reused), with and without caches."""
    times = {True: [], False: []}
    for cached in (True, False):
        # Warm state: the list without the extras built (its cache filled when cached).
        p.write("devenv.toml", manifest(cached))
        setter(base_list)
        p.run("build")
    for extra in extras[:runs]:
        for cached in (True, False):
            p.write("devenv.toml", manifest(cached))
            setter(base_list + [extra])
            times[cached].append(p.step_time("build", step=step))
    a, b = statistics.median(times[True]), statistics.median(times[False])
    row = (f"{what} step rebuild after adding one package: with its cache vs without",
           a, b, a / b, 0.5)
    print_row(row)
    return row


def cold_case(p, runs, tmp):
    ours, theirs = [], []
    p.write("devenv.toml", manifest(True))
    p.reqs(REQS)
    p.apt(APT)
    p.run("build")
    export = os.path.join(tmp, "export")
    p.run("export", "dockerfile", "--no-caches", "-o", export, "--force")
    for _ in range(runs):
        wipe(p)
        start = time.perf_counter()
        p.run("up")
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        sh(["docker", "build", "--no-cache", "-q", "--label", LABEL, "-t",
            f"{NAME}:docker", export], env={**os.environ, "DOCKER_BUILDKIT": "0"})
        theirs.append(time.perf_counter() - start)
        sh(["docker", "rmi", f"{NAME}:docker"], check=False)
    a, b = statistics.median(ours), statistics.median(theirs)
    row = ("cold `devenv up` (empty caches) vs `docker build` of the export (classic builder)",
           a, b, a / b, 1.0)
    print_row(row)
    return row


def wipe(p):
    """Nothing of this project left: container, images (layers and the imported base),
    caches."""
    p.run("down", check=False)
    p.run("prune", "--caches", check=False)
    ids = sh(["docker", "images", "-aq", "--filter", f"label={LABEL}"]).stdout.split()
    if ids:
        sh(["docker", "rmi", "-f", *sorted(set(ids))], check=False)


def cleanup(p):
    if p is not None:
        wipe(p)
    for kind in ("container", "volume"):
        flag = ["-aq"] if kind == "container" else ["-q"]
        ids = sh(["docker", kind, "ls", *flag, "--filter", f"label={LABEL}"],
                 check=False).stdout.split()
        if ids:
            sh(["docker", kind, "rm", "-f", *ids], check=False)


def print_row(row):
    name, a, b, ratio, target = row
    ok = "ok" if ratio <= target else "MISSED"
    print(f"| {name} | {a:.1f} s | {b:.1f} s | {ratio:.2f}x | <= {target}x ({ok}) |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--devenv", default=os.path.join(ROOT, "target", "release", "devenv"))
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--only", choices=["pip", "apt", "cold"], default=None)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="devenv-bench-caches-")
    p = None
    try:
        p = Project(os.path.abspath(args.devenv), tmp)
        print(f"project: {p.version} on Debian bookworm minbase; requirements: "
              f"{', '.join(REQS)} (+ one of {', '.join(EXTRA_REQS[:args.runs])}); apt: "
              f"{' '.join(APT)} (+ one of {', '.join(EXTRA_APTS[:args.runs])}); "
              f"{args.runs} runs, medians", flush=True)
        print("| case | devenv | baseline | ratio | target |\n|---|---:|---:|---:|---:|", flush=True)
        if args.only in (None, "pip"):
            rebuild_case(p, args.runs, "dependency (pip)", 2, p.reqs, REQS, EXTRA_REQS)
        if args.only in (None, "apt"):
            rebuild_case(p, args.runs, "apt", 1, p.apt, APT, EXTRA_APTS)
        if args.only in (None, "cold") and not args.skip_cold:
            cold_case(p, args.runs, tmp)
    finally:
        cleanup(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
