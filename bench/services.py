#!/usr/bin/env python3
"""Services benchmark (run by bench/run.sh after run.py, or alone with DEVENV=path).

1. warm `devenv run -- true` with three services running vs `docker exec C true`;
2. `devenv up` of three services with `ready` probes (new containers, image built) vs
   `docker-compose up -d` of the same containers plus polling the same probes with
   `docker exec` until all pass.
Prints markdown table rows on stdout.
"""

import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import io
import time

DEVENV = os.environ.get("DEVENV", os.path.abspath("target/release/devenv"))
RUNS = int(os.environ.get("RUNS", "15"))
UP_RUNS = int(os.environ.get("UP_RUNS", "5"))
NAME = f"bench-svc-{os.getpid()}"
LABEL = f"dev.devenv.project={NAME}"
PROBE = "wget -q -O /dev/null http://127.0.0.1:{port}/"


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def rootfs(path):
    busybox = "/bin/busybox" if os.path.exists("/bin/busybox") else "/usr/bin/busybox"
    applets = sh(busybox, "--list").stdout.split()
    with tarfile.open(path, "w") as tar:
        for d, mode in [("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("root", 0o700), ("www", 0o755)]:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(busybox, "bin/busybox")
        for a in applets:
            if a == "busybox":
                continue
            info = tarfile.TarInfo(f"bin/{a}")
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(info)
        for name, text in [("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
                           ("etc/group", "root:x:0:\n"), ("www/index.html", "ok\n"),
                           ("etc/bench", NAME + "\n")]:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


def median_ms(samples):
    return statistics.median(samples) * 1000


def timed(args, **kw):
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def main():
    work = tempfile.mkdtemp(prefix="devenv-bench-svc-")
    tag = f"devenv-bench-svc:{os.getpid()}"
    rootfs(os.path.join(work, "base.tar"))
    sh("docker", "import", "--change", f"LABEL {LABEL}", os.path.join(work, "base.tar"), tag)
    services = ""
    for i, port in enumerate([8081, 8082, 8083]):
        services += (f'[services.s{i}]\nimage = "{tag}"\n'
                     f'command = ["httpd", "-f", "-p", "{port}", "-h", "/www"]\n'
                     f'ready = "{PROBE.format(port=port)}"\n')
    with open(os.path.join(work, "devenv.toml"), "w") as f:
        f.write(f'name = "{NAME}"\n[base]\nrootfs = "base.tar"\n{services}')
    env = dict(os.environ, NO_COLOR="1")
    env.pop("CI", None)
    run = lambda *a: subprocess.run([DEVENV, *a], cwd=work, env=env, check=True, capture_output=True, text=True)
    try:
        run("up")
        dev = sh("docker", "ps", "-q", "--filter", f"label={LABEL}", "--filter", "label=dev.devenv.role=env").stdout.split()[0]
        warm, exe = [], []
        for _ in range(RUNS):
            warm.append(timed([DEVENV, "run", "--", "true"], cwd=work, env=env))
            exe.append(timed(["docker", "exec", dev, "true"]))
        rows = [("warm `devenv run -- true` with 3 services vs `docker exec C true`",
                 median_ms(warm), median_ms(exe), 1.2)]
        # The same containers under plain Compose, without devenv's ordering/waiting.
        image = sh("docker", "inspect", "--format", "{{.Config.Image}}", dev).stdout.strip()
        compose = os.path.join(work, "plain-compose.yml")
        with open(compose, "w") as f:
            f.write('version: "2.4"\nservices:\n')
            f.write(f'  dev:\n    image: "{image}"\n    command: ["/bin/sh"]\n    stdin_open: true\n'
                    f'    init: true\n    labels: {{"dev.devenv.project": "{NAME}"}}\n')
            for i, port in enumerate([8081, 8082, 8083]):
                f.write(f'  s{i}:\n    image: "{tag}"\n    command: ["httpd", "-f", "-p", "{port}", "-h", "/www"]\n'
                        f'    labels: {{"dev.devenv.project": "{NAME}"}}\n')
        up, base = [], []
        cproj = NAME.replace("-", "")
        for _ in range(UP_RUNS):
            run("down")
            up.append(timed([DEVENV, "up"], cwd=work, env=env))
            run("down")
            start = time.perf_counter()
            sh("docker-compose", "-p", cproj, "-f", compose, "up", "-d")
            for i, port in enumerate([8081, 8082, 8083]):
                cid = sh("docker-compose", "-p", cproj, "-f", compose, "ps", "-q", f"s{i}").stdout.strip()
                while sh("docker", "exec", cid, "sh", "-c", PROBE.format(port=port), check=False).returncode != 0:
                    time.sleep(0.1)
            base.append(time.perf_counter() - start)
            sh("docker-compose", "-p", cproj, "-f", compose, "down", "-t", "1")
        rows.append(("`devenv up` of 3 services with probes vs `docker-compose up -d` + polling the probes",
                     median_ms(up), median_ms(base), 1.2))
        for case, a, b, target in rows:
            ratio = a / b
            verdict = "ok" if ratio <= target else "MISSED"
            print(f"| {case} | {a:.1f} ms | {b:.1f} ms | {ratio:.2f}x | <= {target}x ({verdict}) |")
    finally:
        subprocess.run([DEVENV, "down", "--volumes"], cwd=work, env=env, capture_output=True)
        for cid in sh("docker", "ps", "-aq", "--filter", f"label={LABEL}").stdout.split():
            sh("docker", "rm", "-f", cid, check=False)
        for img in sh("docker", "images", "-q", "--filter", f"label={LABEL}").stdout.split():
            sh("docker", "rmi", "-f", img, check=False)
        sh("docker", "rmi", "-f", tag, check=False)


if __name__ == "__main__":
    sys.exit(main())
