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
        auth_token_env: null, max_cycles: -1, max_steps_per_cycle: 20, cooldown_interval: 60,
        no_progress_fallback_threshold: 5, max_usd_per_day: 25.0}
memory: {brief_max_chars: 3000, log_max_chars: 2000, milestone_max_chars: 1200, max_recent_entries: 15}
gpu: {auto_detect: true, reserve_last: true}
monitor: {poll_interval: 60, stall_timeout: 1800, zero_llm: true, notify_on_complete: true}
experiment: {mandatory_dry_run: true, dry_run_command: "python train.py --dry-run", max_runtime: 86400,
             log_tail_lines: 50}
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
    assert config.agent.max_cycles == 0           # -1 is the reference system's "run forever"
    assert not any("obsidian" in n or "notify_on_complete" in n for n in config.notices)   # both act now
    assert config.obsidian.vault_path == "~/vault" and config.monitor.notify_on_complete is True


def test_reference_config_is_accepted_by_run(tmp_path: Path):
    """max_cycles: -1 and an LLM provider without search.command: the loop's own check passes too."""
    path = tmp_path / "config.yaml"
    path.write_text(REFERENCE)
    assert load_config(path, to_run=True).agent.max_cycles == 0


def test_each_key_not_acted_on_gets_its_notice_when_it_asks_for_something(tmp_path: Path):
    notices = load_config(_write(tmp_path, REFERENCE)).notices
    assert "config.yaml: agent.cooldown_interval is accepted, but there is no pause between cycles yet" in notices
    assert any(n.startswith("config.yaml: experiment.log_tail_lines is accepted") for n in notices)
    assert not any("zero_llm" in n for n in notices)           # true is what the monitor does anyway
    assert any("monitor.zero_llm is accepted" in n for n in load_config(
        _write(tmp_path, "monitor: {zero_llm: false}\n")).notices)
    quiet = "agent: {cooldown_interval: 0}\nobsidian: {enabled: false, vault_path: null}\nmonitor: {zero_llm: true}\n"
    assert load_config(_write(tmp_path, quiet)).notices == []


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


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
    ("monitor:\n  progress: '(unclosed'\n", "monitor.progress", "not a valid regular expression"),
    ("monitor:\n  progress: 'epoch'\n", "monitor.progress", "needs a group for the progress"),
    ("monitor:\n  prune: mean\n", "monitor.prune", "one of none, median, got 'mean' (line 2)"),
    ("monitor:\n  prune_min_trials: 0\n", "monitor.prune_min_trials", "(line 2)"),
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
    ("agent:\n  max_cycles: -2\n", "agent.max_cycles", "must not be negative (line 2)"),
    ("", "search.command", "the offline planner has nothing to launch"),
    ("agent:\n  provider: offline\n", "search.command", "nothing to launch without it"),
    ("agent:\n  provider: offline\nsearch:\n  space: {lr: [1]}\n", "search.command", "(line 3)"),
    ("metric:\n  name: a\nmetric:\n  goal: max\n", "metric: duplicate key", "first given on line 1; "
     "only one may be given (line 3)"),
    ("metric:\n  name: a\n  goal: max\n  name: b\n", "metric.name: duplicate key", "(line 4)"),
    ("monitor:\n  poll_interval: .nan\n", "monitor.poll_interval", "must be a finite number, got nan (line 2)"),
    ("monitor:\n  poll_interval: .inf\n", "monitor.poll_interval", "must be a finite number, got inf (line 2)"),
    ("search:\n  command: x\n  exploration: -.inf\n", "search.exploration", "finite number, got -inf (line 3)"),
    ("agent:\n  pricing:\n    m: {input: .nan, output: 1}\n", "agent.pricing.m.input", "got nan (line 3)"),
    ("search:\n  command: x {lr}\n  space: {lr: [1, .nan]}\n", "search.space.lr", "finite numbers, got nan"),
    ("metric:\n  gates: {acc: .inf}\n", "metric.gates.acc", "finite number, got inf (line 2)"),
    ("search:\n  command: 'python3 t.py --lr {lr} --wd {wd}'\n  space: {lr: [1]}\n", "search.command",
     "{wd} is filled by no search.space key (keys: lr) (line 2)"),
    ("search:\n  command: 'x {lr}'\n  space: {lr: [1]}\nexperiment:\n  dry_run_command: 'x {bs}'\n",
     "experiment.dry_run_command", "{bs} is filled by no search.space key (keys: lr) (line 5)"),
    ("metric:\n  name: ''\n", "metric.name", "must not be empty"),
    ("metric:\n  name: '  '\n", "metric.name", "must not be empty"),
    ("search:\n  space:\n    lr: &a [1, *a]\n", "search.space.lr", "refers to the value that contains it, so it never ends (line 3)"),
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
    config = _load(tmp_path, "agent:\n  cooldown_interval: 5\nmonitor:\n  notify_on_complete: true\n")
    assert config.path == tmp_path / "config.yaml"
    assert config.notices == ["config.yaml: agent.cooldown_interval is accepted, but there is no pause between "
                              "cycles yet"]
    assert "notices: unknown key" in _error(tmp_path, "notices: [x]\n")


def _laughs(levels: int) -> str:
    """An alias fan-out under a key that takes anything: 9 ** levels values from a few hundred bytes."""
    rows = ["  command: x {lr}", "  space: {lr: [1]}", "  baseline:", '    l0: &l0 ["lol", "lol", "lol", "lol", '
            '"lol", "lol", "lol", "lol", "lol"]']
    rows += [f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "search:\n" + "\n".join(rows) + "\n"


def test_an_alias_fan_out_is_refused_naming_where_it_blows_up(tmp_path: Path):
    """9 ** 6 values: the loader would build them; the budget stops it at l5, the first over 100,000."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "config.yaml").write_text(_laughs(6))
    proc = cli("run", str(project), "--no-ui", "--max-cycles", "1")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.strip().endswith("config.yaml: search.baseline.l5: aliases expand to more than 100,000 "
                                        "values; a config never needs that many (an alias bomb?) (line 10)")
    assert sorted(p.name for p in project.iterdir()) == ["config.yaml"]


def test_a_billion_laughs_is_refused_without_being_built(tmp_path: Path):
    """9 ** 12 values could never be built; the refusal counts the aliases instead of expanding them."""
    message = _error(tmp_path, _laughs(12))
    assert "search.baseline.l5: aliases expand to more than 100,000 values" in message


def test_a_few_aliases_are_fine(tmp_path: Path):
    config = _load(tmp_path, "search:\n  command: x {lr}\n  space: {lr: &v [1, 2]}\n  baseline: {lr: 1}\n"
                             "metric: &m {name: acc, goal: max}\n")
    assert config.search.space == {"lr": [1, 2]} and config.metric.name == "acc"


def test_run_without_a_config_file_refuses_the_offline_planner_but_status_reads_defaults(tmp_path: Path):
    """A missing file is still the defaults for status and doctor; run says what is missing."""
    assert load_config(tmp_path / "config.yaml").search.command == ""
    with pytest.raises(ConfigError, match=r"config.yaml: search.command: the offline planner .* no such file"):
        load_config(tmp_path / "config.yaml", to_run=True)
    assert load_config(tmp_path / "config.yaml", to_run=True, provider="anthropic").agent.provider == "anthropic"


def test_the_provider_override_is_applied_before_the_check(tmp_path: Path):
    path = _write(tmp_path, "agent: {provider: anthropic}\n")
    with pytest.raises(ConfigError, match="search.command"):
        load_config(path, to_run=True, provider="offline")
    offline = _write(tmp_path, "agent:\n")
    assert load_config(offline, to_run=True, provider="openai").agent.provider == "openai"


def test_max_cycles_minus_one_means_no_limit(tmp_path: Path):
    assert _load(tmp_path, "agent:\n  max_cycles: -1\n").agent.max_cycles == 0
    assert _load(tmp_path, "agent:\n  max_cycles: 3\n").agent.max_cycles == 3


def test_the_sample_and_the_init_starter_load_to_run(tmp_path: Path):
    from tests.helpers import SAMPLE
    from tui_researcher.config.starter import CONFIG

    assert load_config(SAMPLE / "config.yaml", to_run=True).search.command
    assert load_config(_write(tmp_path, CONFIG), to_run=True).metric.name == "val_loss"


def test_notify_urls_are_checked_by_apprise_and_name_the_key_and_line(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    error = _error(tmp_path, "notify:\n  urls:\n    - ntfy://topic\n    - bogus://x\n")
    assert "notify.urls.1: Apprise does not understand 'bogus'" in error and error.endswith("(line 4)")
    unset = "notify:\n  urls: ['ntfy://topic', 'ntfy://${NO_SUCH_TOKEN}']\nsearch: {command: 'x {lr}', space: {lr: [1]}}\n"
    assert _load(tmp_path, unset).notify.urls[1] == "ntfy://${NO_SUCH_TOKEN}"     # status, report: no token needed
    with pytest.raises(ConfigError) as refused:
        load_config(_write(tmp_path, unset), to_run=True)                         # run: the token must be there
    assert str(refused.value).endswith("notify.urls.1: uses ${NO_SUCH_TOKEN}, which is not set in the environment "
                                       "(export it before `run`; the secret stays out of this file) (line 2)")
    monkeypatch.setenv("NO_SUCH_TOKEN", "t")
    config = _load(tmp_path, "notify: {urls: ['ntfy://${NO_SUCH_TOKEN}'], crash_streak: 2}\n")
    assert config.notify.urls == ["ntfy://${NO_SUCH_TOKEN}"] and config.notify.crash_streak == 2
    assert "notify.crash_streak" in _error(tmp_path, "notify: {crash_streak: 0}\n")
