#!/usr/bin/env python3
"""The crash harness: kills `publish`, `fetch`, `gc`, `mirror` and a
recording build with SIGKILL at named crash points, runs the same command
again, and checks that nothing was lost and nothing half-written was read.

    python3 scripts/crash.py [--seed N] [--kills N] [--work DIR] [--target-dir DIR]

It builds `cargo-ipfs` with the `failpoints` feature (see src/failpoint.rs),
sets up a publisher, a client, a collected client and a mirror around the
demo project, and runs each command once with every crash point logged.
Those hits are the candidates; the seed chooses which to kill at (one of
each named point a command reaches, then any), so a run with the same
seed kills at the same points. Per kill:

- right after the kill: `block verify` passes (no block is half-written),
  and for `publish` the index verifies and is the previous or the new
  version, never a mix;
- the same command run again succeeds, and its result is the reference's:
  the same blocks (fetch, gc, mirror), the same published entries (publish,
  and a build whose journal is published), the same versions pinned
  (mirror); the journal replays to the same entries;
- `gc --grace 1ms` then leaves no leftover of an interrupted write.

The seed, the kills per command and their total are printed; the exit
status is 1 when any check failed. A build runs many wrapper processes:
its kill points are `NAME#K@N`, the N-th process to reach the K-th hit of
NAME, counted in the order the processes arrive.
"""

import argparse
import collections
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 900
SHARES = {"build": 40, "publish": 45, "fetch": 45, "gc": 40, "mirror": 40}


class Failure(Exception):
    pass


def run(argv, env, cwd, timeout=TIMEOUT):
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


class Lab:
    def __init__(self, work, binary):
        self.work = work
        self.bin = binary
        self.cargo_home = os.path.join(work, "cargo-home")
        self.project = os.path.join(work, "demo")

    def env(self, store, target, extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_IPFS_")}
        for k in ("RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER", "CARGO_TARGET_DIR"):
            env.pop(k, None)
        env.update(CARGO_HOME=self.cargo_home, CARGO_TARGET_DIR=target, CARGO_IPFS_STORE=store)
        env.update(extra or {})
        return env

    def ipfs(self, store, args, extra=None, target=None, check=True):
        out = run([self.bin] + args, self.env(store, target or os.path.join(self.work, "target"), extra), self.project)
        if check and out.returncode != 0:
            raise Failure(f"`cargo ipfs {' '.join(args)}` exited {out.returncode}: {out.stderr.strip()[-2000:]}")
        return out


def copy(src, dst):
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True)


def blocks(store):
    root = os.path.join(store, "blocks")
    found = set()
    for dirpath, _, files in os.walk(root):
        found.update(f for f in files if not f.startswith("."))
    return found


def leftovers(store):
    found = []
    for dirpath, dirs, files in os.walk(store):
        found += [os.path.join(dirpath, n) for n in dirs + files if n.startswith((".tmp-", ".trash-"))]
    return found


def journal_keys(store):
    keys, torn = set(), 0
    try:
        text = open(os.path.join(store, "journal.jsonl")).read()
    except FileNotFoundError:
        return keys, 0
    for line in text.splitlines():
        if line.strip():
            try:
                keys.add(json.loads(line)["key"])
            except (ValueError, KeyError, TypeError):
                torn += 1
    return keys, torn


class Harness:
    def __init__(self, lab, rng):
        self.lab = lab
        self.rng = rng
        self.kills = collections.Counter()
        self.unreached = collections.Counter()
        self.failures = []
        self.snap = os.path.join(lab.work, "snapshots")
        self.key = None
        self.url = None

    # Setup and references ---------------------------------------------

    def build(self, store, target, extra=None, check=True):
        args = ["build", "--record", "--offline", "--locked"]
        out = self.lab.ipfs(store, args, extra, target=target, check=False)
        if out.returncode != 0 and "offline" in out.stderr and not (extra or {}).get("CARGO_IPFS_FAILPOINT"):
            fetched = run(["cargo", "fetch"], self.lab.env(store, target), self.lab.project)
            if fetched.returncode != 0:
                raise Failure(f"cargo fetch: {fetched.stderr}")
            out = self.lab.ipfs(store, args, extra, target=target, check=False)
        if check and out.returncode != 0:
            raise Failure(f"recording build exited {out.returncode}: {out.stderr.strip()[-2000:]}")
        return out

    def logged(self, name, step):
        log = os.path.join(self.lab.work, f"{name}.hits")
        if os.path.exists(log):
            os.remove(log)
        step({"CARGO_IPFS_FAILPOINT_LOG": log})
        arrivals = collections.Counter()
        with open(log) as f:
            for line in f:
                point, k = line.split()
                arrivals[(point, int(k))] += 1
        return sorted(f"{p}#{k}@{n}" for (p, k), count in arrivals.items() for n in range(1, count + 1))

    def setup(self):
        lab, w = self.lab, self.lab.work
        os.makedirs(self.snap, exist_ok=True)
        home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
        for part in ("index", "cache"):
            if os.path.isdir(os.path.join(home, "registry", part)):
                copy(os.path.join(home, "registry", part), os.path.join(lab.cargo_home, "registry", part))
        copy(os.path.join(ROOT, "tests/fixtures/projects/demo"), lab.project)

        a = os.path.join(w, "a")
        self.key = lab.ipfs(a, ["key", "gen", "ci"]).stdout.strip()
        lab.ipfs(a, ["index", "init", "--name", "demo-index", "--key", "ci"])
        copy(a, self.s("build"))
        target = os.path.join(w, "target")
        shutil.rmtree(target, ignore_errors=True)
        started = time.monotonic()
        self.points = {"build": self.logged("build", lambda e: self.build(a, target, e))}
        print(f"reference build: {time.monotonic() - started:.1f} s", flush=True)
        self.ref_journal = journal_keys(a)[0]
        copy(a, self.s("publish"))
        self.points["publish"] = self.logged("publish", lambda e: lab.ipfs(a, ["publish", "--name", "demo-index"], e))
        self.ref_entries = self.entries(a)
        self.ref_seq = self.seq(a)
        if not self.ref_entries or self.ref_seq != 2:
            raise Failure(f"reference publish: seq {self.ref_seq}, {len(self.ref_entries)} entries")
        copy(a, os.path.join(w, "served"))

        self.server = subprocess.Popen(
            [lab.bin, "serve", "--listen", "127.0.0.1:0", "--read-only"],
            env=lab.env(os.path.join(w, "served"), target), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.server.stdout.readline()
        match = re.match(r"listening on (\S+)", line)
        if not match:
            raise Failure(f"serve did not start: {line!r}")
        self.url = match.group(1)

        b = os.path.join(w, "b")
        lab.ipfs(b, ["trust", "add", "demo-index", self.key])
        copy(b, self.s("fetch"))
        self.points["fetch"] = self.logged("fetch", lambda e: lab.ipfs(b, self.args("fetch"), e))
        self.ref_fetch = self.result("fetch", b)
        lab.ipfs(b, ["trust", "rm", "demo-index"])
        copy(b, self.s("gc"))
        self.points["gc"] = self.logged("gc", lambda e: lab.ipfs(b, self.args("gc"), e, check=False))
        self.ref_gc = self.result("gc", b)

        m = os.path.join(w, "m")
        lab.ipfs(m, ["trust", "add", "demo-index", self.key])
        copy(m, self.s("mirror"))
        self.points["mirror"] = self.logged("mirror", lambda e: lab.ipfs(m, self.args("mirror"), e))
        self.ref_mirror = self.result("mirror", m)
        for command, points in self.points.items():
            print(f"{command}: {len(points)} crash points reached", flush=True)

    def s(self, command):
        return os.path.join(self.snap, command)

    def args(self, command):
        return {
            "fetch": ["fetch", "--gateway", self.url, "--json"],
            "gc": ["gc", "--max-size", "0", "--grace", "1ms", "--json"],
            "mirror": ["mirror", "demo-index", "--gateway", self.url, "--json"],
            "publish": ["publish", "--name", "demo-index"],
        }[command]

    def entries(self, store):
        out = self.lab.ipfs(store, ["index", "show", "demo-index", "--all", "--json"]).stdout
        return sorted(e["key"] for e in json.loads(out))

    def seq(self, store):
        out = self.lab.ipfs(store, ["index", "show", "demo-index", "--json"]).stdout
        return json.loads(out)["manifest"]["seq"]

    def result(self, command, store):
        """What a completed run of `command` leaves, to compare with the reference's."""
        if command == "mirror":
            pins = json.loads(self.lab.ipfs(store, ["pin", "ls", "--json"]).stdout)
            kept = sorted(p["cid"] for p in pins if p.get("reason") == "mirror")
            return blocks(store), kept
        keys = os.path.join(store, "wrapper", "keys")
        mapped = sorted(os.listdir(keys)) if os.path.isdir(keys) else []
        return blocks(store), mapped

    # Trials -----------------------------------------------------------

    def trial(self, command, point):
        lab, w = self.lab, self.lab.work
        store = os.path.join(w, "trial")
        copy(self.s(command), store)
        target = os.path.join(w, "trial-target")
        if command == "build":
            shutil.rmtree(target, ignore_errors=True)
        once = os.path.join(w, "once")
        for name in os.listdir(w):
            if name.startswith("once."):
                os.remove(os.path.join(w, name))
        fail = {"CARGO_IPFS_FAILPOINT": point, "CARGO_IPFS_FAILPOINT_ONCE": once}

        if command == "build":
            out = self.build(store, target, fail, check=False)
        else:
            out = lab.ipfs(store, self.args(command), fail, target=target, check=False)
        nth = point.rsplit("@", 1)[1]
        if not os.path.exists(f"{once}.{nth}"):
            self.unreached[command] += 1
            return
        if command != "build" and out.returncode != -9:
            raise Failure(f"expected a SIGKILL, got exit {out.returncode}: {out.stderr[-500:]}")
        self.kills[command] += 1

        # Right after the kill: every block whole; an index is old or new.
        lab.ipfs(store, ["block", "verify"])
        if command == "publish":
            seq = self.seq(store)
            if seq not in (1, 2):
                raise Failure(f"after the kill the index is at version {seq}")
            lab.ipfs(store, ["index", "verify", "demo-index"])

        # The same command again completes with the reference's result.
        if command == "build":
            self.build(store, target)
            keys, _torn = journal_keys(store)
            if keys != self.ref_journal:
                raise Failure(f"journal replays to {len(keys)} keys, the reference to {len(self.ref_journal)}")
            lab.ipfs(store, ["publish", "--name", "demo-index"])
            if self.entries(store) != self.ref_entries:
                raise Failure("the journal published other entries than the reference's")
            lab.ipfs(store, ["index", "verify", "demo-index"])
        elif command == "publish":
            lab.ipfs(store, self.args(command))
            if self.seq(store) != self.ref_seq or self.entries(store) != self.ref_entries:
                raise Failure(f"published version {self.seq(store)} with other entries than the reference's")
            lab.ipfs(store, ["index", "verify", "demo-index"])
        else:
            again = lab.ipfs(store, self.args(command), target=target, check=command != "gc")
            if command == "gc" and again.returncode not in (0, 1):
                raise Failure(f"gc again exited {again.returncode}: {again.stderr[-500:]}")
            expected = {"fetch": self.ref_fetch, "gc": self.ref_gc, "mirror": self.ref_mirror}[command]
            got = self.result(command, store)
            if got != expected:
                raise Failure(
                    f"after the rerun: {len(got[0])} blocks and {len(got[1])} mapped/pinned, "
                    f"the reference {len(expected[0])} and {len(expected[1])} "
                    f"(missing {sorted(expected[0] - got[0])[:3]}, extra {sorted(got[0] - expected[0])[:3]})")
        lab.ipfs(store, ["block", "verify"])

        # Leftovers of the interrupted write go with the next collection.
        lab.ipfs(store, ["gc", "--grace", "1ms"], check=False)
        left = leftovers(store)
        if left:
            raise Failure(f"gc left {left[:3]}")

    def run(self, total, only):
        scale = total / sum(SHARES.values())
        plan = [tuple(p.split("=", 1)) for p in only]
        for command, share in SHARES.items() if not plan else ():
            points = self.points[command]
            want = min(max(1, round(share * scale)), len(points))
            # Every named point the command reaches first, then the rest.
            names = sorted({p.split("#")[0] for p in points})
            chosen = [self.rng.choice([p for p in points if p.split("#")[0] == n]) for n in names][:want]
            rest = [p for p in points if p not in chosen]
            chosen += self.rng.sample(rest, want - len(chosen))
            plan += [(command, p) for p in chosen]
        for i, (command, point) in enumerate(plan, 1):
            try:
                self.trial(command, point)
                status = "ok"
            except (Failure, subprocess.TimeoutExpired) as e:
                self.failures.append((command, point, str(e)))
                status = f"FAILED: {e}"
            print(f"[{i}/{len(plan)}] {command} {point}: {status}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--kills", type=int, default=sum(SHARES.values()), help="kill points to choose in all")
    parser.add_argument("--work", default=None, help="working directory (default: a new temporary one)")
    parser.add_argument("--target-dir", default=os.path.join(ROOT, "target", "crash"))
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument("--point", action="append", default=[], metavar="COMMAND=NAME#K@N",
                        help="kill at this point only (repeatable), to replay one from an earlier run")
    opts = parser.parse_args()
    seed = opts.seed if opts.seed is not None else random.SystemRandom().randrange(1 << 32)
    print(f"seed {seed}", flush=True)

    env = dict(os.environ, CARGO_TARGET_DIR=opts.target_dir)
    subprocess.run(["cargo", "build", "--locked", "--features", "failpoints", "--bins"], cwd=ROOT, env=env, check=True)
    binary = os.path.join(opts.target_dir, "debug", "cargo-ipfs")

    work = opts.work or tempfile.mkdtemp(prefix="crash-")
    os.makedirs(work, exist_ok=True)
    harness = Harness(Lab(os.path.abspath(work), binary), random.Random(seed))
    started = time.monotonic()
    try:
        harness.setup()
        harness.run(opts.kills, opts.point)
    finally:
        server = getattr(harness, "server", None)
        if server:
            server.kill()
            server.wait()
        if not opts.keep and not opts.work:
            shutil.rmtree(work, ignore_errors=True)

    print(f"seed {seed}")
    for command in SHARES:
        print(f"{command}: {harness.kills[command]} kills, {harness.unreached[command]} points not reached again")
    total = sum(harness.kills.values())
    print(f"total: {total} kills, {len(harness.failures)} failed, {time.monotonic() - started:.0f} s")
    for command, point, error in harness.failures:
        print(f"FAILED {command} {point}: {error}")
    sys.exit(1 if harness.failures else 0)


if __name__ == "__main__":
    main()
