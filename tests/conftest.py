"""Fixtures shared by the test modules."""

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture
def on_host_devices():
    """``run(code, n)``: run ``code`` in a child Python whose JAX sees ``n`` XLA CPU devices and
    return the JSON its last line prints (the device count is fixed when JAX starts)."""
    def run(code: str, n: int):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}",
                   JAX_PLATFORMS="cpu")
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return run


pytest_plugins = ["pytester"]
