"""The deploy kit is valid: Alertmanager's own checker accepts its config, and the compose
file mounts files that exist and points Alertmanager at the receiver's webhook."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent


def test_alertmanager_config_passes_amtool() -> None:
    amtool = shutil.which("amtool")
    require(amtool is not None, "amtool is not installed (apt-get install prometheus-alertmanager)")
    assert amtool is not None
    config = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
    result = subprocess.run(
        [amtool, "check-config", str(config)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    webhook = yaml.safe_load(config.read_text())["receivers"][0]["webhook_configs"][0]
    assert webhook == {"url": "http://receiver:5001/alerts", "send_resolved": True}


def test_compose_mounts_existing_files() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    assert compose["services"]["receiver"]["ports"] == ["5001:5001"]


def test_receiver_config_and_runbooks_pass_check_config(tmp_path: Path) -> None:
    """The kit's receiver.yml, with its runbooks folder where compose mounts it."""
    text = (ROOT / "deploy" / "receiver" / "receiver.yml").read_text()
    config = tmp_path / "receiver.yml"
    config.write_text(
        text.replace("/etc/alert-receiver/runbooks", str(ROOT / "deploy" / "runbooks"))
    )
    result = subprocess.run(
        [sys.executable, "-m", "receiver", "check-config", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "runbooks: 15 from" in result.stdout
