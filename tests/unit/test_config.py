"""config.yaml: defaults, the reference system's keys, and bad input that names the key and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_researcher.config import load_config
from tui_researcher.errors import ConfigError
from tests.helpers import cli


def test_missing_config_file_gives_defaults(tmp_path: Path):
    config = load_config(tmp_path / "config.yaml")
    assert config.agent.provider == "offline"
    assert (config.memory.brief_max_chars, config.memory.log_max_chars) == (3000, 2000)
    assert (config.memory.milestone_max_chars, config.memory.max_recent_entries) == (1200, 15)
    assert config.experiment.max_parallel == 1 and config.experiment.mandatory_dry_run is True


REFERENCE = """
project: {name: cifar, brief: PROJECT_BRIEF.md, workspace: workspace}
execution:
  mode: ssh
  ssh_host: alice@gpu-box
  remote_workspace: /data/alice/cifar
  remote_python: /opt/conda/bin/python
  ssh_args: ["-p", "2222", "-i", "~/.ssh/id_lab", "-o", "UserKnownHostsFile=/tmp/kh", "-J", "bastion"]
agent: {provider: anthropic, model: claude-x, base_url: null, api_key_env: ANTHROPIC_API_KEY,
        auth_token_env: null, max_cycles: 100, max_steps_per_cycle: 20, cooldown_interval: 60,
        no_progress_fallback_threshold: 5, max_usd_per_day: 25.0}
memory: {brief_max_chars: 3000, log_max_chars: 2000, milestone_max_chars: 1200, max_recent_entries: 15}
gpu: {auto_detect: true, reserve_last: true}
monitor: {poll_interval: 60, stall_timeout: 1800, zero_llm: true, notify_on_complete: true}
experiment: {mandatory_dry_run: true, dry_run_command: "python train.py --dry-run", max_runtime: 86400}
obsidian: {enabled: true, vault_path: ~/vault, project_subdir: cifar, dashboard_note: Dash,
           daily_dir: daily, auto_append_daily: true, local_fallback_dir: notes}
"""


def test_reference_config_is_read_unchanged_with_notices_for_keys_not_acted_on(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text(REFERENCE)
    config = load_config(path)
    [host] = config.execution.hosts
    assert (host.host, host.user, host.port, host.workspace) == ("gpu-box", "alice", 2222, "/data/alice/cifar")
    assert (host.python, host.identity_file, host.known_hosts, host.jump_host) == (
        "/opt/conda/bin/python", "~/.ssh/id_lab", "/tmp/kh", "bastion")
    assert config.agent.max_usd_per_day == 25.0 and config.gpu.reserve_last is True
    assert any("obsidian.enabled" in n for n in config.notices)
    assert any("monitor.notify_on_complete" in n for n in config.notices)


BAD = [
    ("agent:\n  max_cycles: many\n", "agent.max_cycles", "line 2"),
    ("agent:\n  provder: offline\n", "agent.provder", "did you mean 'provider'"),
    ("agnet:\n  provider: offline\n", "agnet", "did you mean 'agent'"),
    ("monitor:\n  poll_interval: -1\n", "monitor.poll_interval", "greater than 0"),
    ("metric:\n  goal: up\n", "metric.goal", "one of max, min"),
    ("execution:\n  mode: kubernetes\n", "execution.mode", "one of local, ssh, slurm"),
    ("search:\n  space:\n    lr: 0.1\n", "search.space.lr", "a list"),
    ("experiment:\n  mandatory_dry_run: sometimes\n", "experiment.mandatory_dry_run", "true or false"),
    ("agent: [1, 2]\n", "agent", "a mapping"),
    ("metric:\n  pattern: '(unclosed'\n", "metric.pattern", "regular expression"),
    ("metric:\n  gates:\n    val_acc: about 0.9\n", "metric.gates.val_acc", "gate"),
    ("monitor:\n  poll_interval: 1\n   stall_timeout: 2\n", "not valid YAML", "line"),
    ("execution:\n  hosts:\n    - host: a\n      port: twenty\n", "execution.hosts.0.port", "line 4"),
    ("execution:\n  mode: ssh\n", "execution.hosts", "at least one host"),
    ("- just\n- a list\n", "mapping of sections", ""),
    ("execution:\n  hosts:\n    - {host: a, name: x}\n    - {host: b, name: x}\n", "execution.hosts.1.name", "used twice"),
]


@pytest.mark.parametrize("text, key, detail", BAD, ids=[b[1] for b in BAD])
def test_bad_config_exits_2_naming_file_and_key_and_writes_nothing(tmp_path: Path, text: str, key: str, detail: str):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "config.yaml").write_text(text)
    before = sorted(p.name for p in project.rglob("*"))
    proc = cli("run", str(project), "--no-ui", "--max-cycles", "1")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "config.yaml" in lines[0] and key in lines[0] and detail in lines[0]
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in project.rglob("*")) == before


def test_config_error_is_a_researcher_error_with_line(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("memory:\n  log_max_chars: 2000\n  max_recent_entries: '15'\n")
    with pytest.raises(ConfigError, match=r"memory.max_recent_entries: expected an integer, got a string '15' \(line 3\)"):
        load_config(path)


def test_hosts_sharing_an_address_are_named_by_port(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text("execution:\n  hosts:\n    - {host: box, port: 22}\n    - {host: box, port: 2200}\n    - {host: other}\n")
    assert [h.name for h in load_config(path).execution.hosts] == ["box:22", "box:2200", "other"]
