"""The JavaScript clients (Codex CLI, Vercel AI SDK), installed from npm once and cached.

`tests/clients/node/package.json` + its lock file pin the versions. They are installed with
`npm ci` into a cache folder keyed by the lock file's hash (`$OPENAI_BRIDGE_TEST_CACHE`, default
`~/.cache/openai-bridge-tests`), so a second run, and CI on the same machine, reuse them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

NODE_PROJECT = Path(__file__).resolve().parents[1] / "clients" / "node"


def cache_root() -> Path:
    return Path(os.environ.get("OPENAI_BRIDGE_TEST_CACHE", Path.home() / ".cache" / "openai-bridge-tests"))


def node_modules() -> Path:
    """Path of an installed node_modules for tests/clients/node; installs on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are needed for the JavaScript client tests")
    lock = (NODE_PROJECT / "package-lock.json").read_bytes()
    key = hashlib.sha256(lock + (NODE_PROJECT / "package.json").read_bytes()).hexdigest()[:16]
    target = cache_root() / f"node-{key}"
    done = target / ".installed"
    if done.exists():
        return target / "node_modules"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lockfile:
        fcntl.flock(lockfile, fcntl.LOCK_EX)  # parallel test processes install once
        if not done.exists():
            for name in ("package.json", "package-lock.json"):
                shutil.copy(NODE_PROJECT / name, target / name)
            result = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=target, capture_output=True, text=True, timeout=900,
            )
            if result.returncode != 0:
                raise RuntimeError(f"npm ci failed in {target}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
            done.write_text(key)
    return target / "node_modules"
