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
    ("agent:\n  pricing:\n    m: {input: 1}\n", "agent.pricing.m", "output is required"),
    ("execution:\n  ssh_host: h\n  ssh_args: ['-p', 'x']\n", "execution.ssh_args",
     "cannot read ssh option '-p' (line 3)"),
    ("execution:\n  ssh_args: 3\n", "execution.ssh_args", "expected a list or a string, got an integer 3"),
    ("search:\n  space:\n    lr: []\n", "search.space.lr", "needs at least one value (line 3)"),
    ("search:\n  command: \"python 'x\"\n", "search.command", "cannot be split into arguments"),
    ("agent:\n  max_cycles: -1\n", "agent.max_cycles", "must not be negative (line 2)"),
    ("path: elsewhere.yaml\n", "path", "unknown key; known keys: project, execution"),
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


def _load(tmp_path: Path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    return str(info.value)


def test_a_wrong_type_is_reported_before_a_wrong_value_elsewhere(tmp_path: Path):
    message = _error(tmp_path, "monitor:\n  stall_timeout: -1\nagent:\n  max_cycles: x\n")
    assert message.endswith("agent.max_cycles: expected an integer, got a string 'x' (line 4)")


def test_of_two_wrong_types_the_first_in_the_file_is_reported(tmp_path: Path):
    message = _error(tmp_path, "memory:\n  log_max_chars: x\nagent:\n  max_cycles: y\n")
    assert message.endswith("memory.log_max_chars: expected an integer, got a string 'x' (line 2)")


def test_each_type_is_named_as_a_person_would(tmp_path: Path):
    assert _error(tmp_path, "agent:\n  max_usd_per_day: cheap\n").endswith(
        "agent.max_usd_per_day: expected a number, got a string 'cheap' (line 2)")
    assert _error(tmp_path, "agent:\n  model: 5\n").endswith(
        "agent.model: expected a string, got an integer 5 (line 2)")
    assert _error(tmp_path, "agent:\n  max_cycles: true\n").endswith("expected an integer, got a boolean True (line 2)")
    assert _error(tmp_path, "execution:\n  hosts: {a: 1}\n").endswith(
        "execution.hosts: expected a list, got a mapping {'a': 1} (line 2)")
    assert "monitor.poll_interval: must be greater than 0, got -1.5 (line 2)" in _error(
        tmp_path, "monitor:\n  poll_interval: -1.5\n")


def test_an_unreadable_ssh_args_string_is_an_error_not_a_crash(tmp_path: Path):
    message = _error(tmp_path, "execution:\n  ssh_host: h\n  ssh_args: \"-o 'Port\"\n")
    assert message.endswith("execution.ssh_args: cannot be split into arguments: No closing quotation (line 3)")


def test_ssh_args_as_a_string_is_read_like_the_list(tmp_path: Path):
    [host] = _load(tmp_path, "execution:\n  ssh_host: h\n  ssh_args: '-p2200 -o Port=2222 -l bob'\n").execution.hosts
    assert (host.host, host.port, host.user, host.name) == ("h", 2222, "bob", "h")


def test_empty_sections_are_defaults_and_numbers_are_floats_where_a_float_is_expected(tmp_path: Path):
    config = _load(tmp_path, "agent:\nexecution:\n  hosts:\n    - null\nmonitor:\n  poll_interval: 5\n")
    assert config.agent.max_cycles == 0 and config.execution.hosts[0].host == "localhost"
    assert config.monitor.poll_interval == 5.0 and isinstance(config.monitor.poll_interval, float)


def test_agent_keys_the_planner_reads_are_declared_with_defaults(tmp_path: Path):
    agent = load_config(tmp_path / "none.yaml").agent
    assert (agent.max_retries, agent.tool_timeout, agent.paper_search_url) == (
        2, 120.0, "https://export.arxiv.org/api/query")
    agent = _load(tmp_path, "agent:\n  max_retries: 0\n  tool_timeout: 5\n  paper_search_url: http://x/q\n").agent
    assert (agent.max_retries, agent.tool_timeout, agent.paper_search_url) == (0, 5.0, "http://x/q")


def test_path_and_notices_are_set_by_the_loader_not_by_the_file(tmp_path: Path):
    config = _load(tmp_path, "obsidian:\n  enabled: false\nmonitor:\n  notify_on_complete: true\n")
    assert config.path == tmp_path / "config.yaml"
    assert config.notices == ["config.yaml: monitor.notify_on_complete is accepted, but desktop notifications "
                              "are not sent yet"]
    assert "notices: unknown key" in _error(tmp_path, "notices: [x]\n")
