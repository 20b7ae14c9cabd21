"""``search.strategy: tpe``: Optuna's TPE sampler for the no-key planner, fed from the ledger.

Why the ledger feeds the study (not Optuna's own storage): the ledger is the one truth of what
ran, so a restarted controller rebuilds the study from it and continues where it stopped. New
trials are read a page at a time after the last row seen, so a THINK reads only what is new.
A proposal stays a RUNNING trial of the study until its result is in the ledger (TPE's constant
liar keeps parallel proposals apart), and one some trial already ran or runs is never returned.
Optuna is an optional extra (``pip install 'tui-researcher[optuna]'``); config.py says so when it
is missing, before anything runs.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

from .errors import ResearcherError
from .ledger import params_key
from .trial import Trial, TrialStatus

if TYPE_CHECKING:
    from .planner import OfflinePlanner

INSTALL = "pip install 'tui-researcher[optuna]'"
RESAMPLES = 24
"""Proposals asked of TPE before an untried point is taken at random (a small space runs out)."""
STARTUP = 4
"""Random proposals before TPE models the results (Optuna's default of 10 wastes a short run)."""


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise ResearcherError(f"search.strategy tpe needs Optuna: {INSTALL}") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) and values == sorted(values)


class TPESearch:
    """One study per planner, rebuilt from the ledger at the first THINK after a start."""

    def __init__(self, planner: "OfflinePlanner") -> None:
        self.optuna = _optuna()
        self.planner = planner
        self.space = planner.space
        self.keys = [k for k in planner.keys if len(self.space[k]) > 1]
        """The axes TPE searches; a one-value axis is fixed and left out of the study."""
        self.distributions = {k: self._distribution(k) for k in self.keys}
        goal = planner.config.metric.goal
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # multivariate and constant_liar are flagged experimental
            sampler = self.optuna.samplers.TPESampler(seed=planner.config.search.seed, n_startup_trials=STARTUP,
                                                      multivariate=True, constant_liar=True)
        self.study = self.optuna.create_study(direction="maximize" if goal == "max" else "minimize", sampler=sampler)
        self.after = 0
        """The last ledger row read into the study."""
        self.asked: dict[str, Any] = {}
        """Proposals waiting for their result, by configuration key."""
        self.fed = 0
        self.unfinished: set[str] = set()

    def _distribution(self, key: str) -> Any:
        values = self.space[key]
        dist = self.optuna.distributions
        if _numeric(values):
            return dist.IntDistribution(0, len(values) - 1)      # the index: TPE sees the values' order
        return dist.CategoricalDistribution([str(v) for v in values])

    def _encode(self, params: dict[str, Any]) -> dict[str, Any] | None:
        out = {}
        for k in self.keys:
            values = self.space[k]
            if params.get(k) not in values:
                return None                     # a configuration outside the space (a directive, an older space)
            out[k] = values.index(params[k]) if _numeric(values) else str(params[k])
        return out

    def _decode(self, sampled: dict[str, Any]) -> dict[str, Any]:
        params = {k: self.space[k][0] for k in self.planner.keys}
        for k in self.keys:
            values = self.space[k]
            params[k] = values[sampled[k]] if _numeric(values) else values[[str(v) for v in values].index(sampled[k])]
        return params

    # fed from the ledger ----------------------------------------------------------------------

    def feed(self) -> None:
        """Every finished trial not yet in the study: the new rows, and those unfinished when last read
        (at most experiment.max_parallel of them), each by its id."""
        ledger = self.planner.ledger
        for tid in list(self.unfinished):
            trial = ledger.get(tid)
            if trial is None or trial.finished:
                self.unfinished.discard(tid)
                if trial is not None:
                    self._add(trial)
        while rows := ledger.store.page(self.after, 500):
            for row, data in rows:
                self.after = row
                trial = Trial.from_dict(data)
                if trial.finished:
                    self._add(trial)
                else:
                    self.unfinished.add(trial.id)

    def _add(self, trial: Trial) -> None:
        encoded = self._encode(trial.params)
        if encoded is None or trial.status == TrialStatus.INTERRUPTED:
            return
        state = self.optuna.trial.TrialState
        done = trial.metric is not None and math.isfinite(trial.metric) and trial.status in (
            TrialStatus.KEEP, TrialStatus.DISCARD)
        pending = self.asked.pop(self._key(trial.params), None)
        if pending is not None:
            self.study.tell(pending, trial.metric if done else None, state=state.COMPLETE if done else state.FAIL)
        else:
            self.study.add_trial(self.optuna.trial.create_trial(
                params=encoded, distributions=self.distributions, value=trial.metric if done else None,
                state=state.COMPLETE if done else state.FAIL))
        self.fed += 1

    def _key(self, params: dict[str, Any]) -> str:
        return params_key({k: params.get(k) for k in self.planner.keys})

    # proposals ---------------------------------------------------------------------------------

    def propose(self) -> dict[str, Any] | None:
        """An untried configuration TPE asks for, or None when it only asks for tried ones."""
        self.feed()
        state = self.optuna.trial.TrialState
        for _ in range(RESAMPLES):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                asked = self.study.ask(self.distributions)
            params = self._decode(asked.params)
            key = self._key(params)
            if key in self.asked or self.planner.ledger.tried([params]):
                self.study.tell(asked, state=state.FAIL)     # already ran, or runs: never proposed again
                continue
            self.asked[key] = asked
            return params
        return None


def tpe_choice(planner: "OfflinePlanner", pool: Any, best: Trial | None) -> tuple[dict | None, str, str | None]:
    """The offline planner's tpe branch: TPE's proposal, or a random untried point when TPE has none."""
    if planner.tpe is None:
        planner.tpe = TPESearch(planner)
    params = planner.tpe.propose()
    parent = best.id if best else None
    if params is None:
        return pool.any(), "tpe proposed only tried configurations: a random untried one", parent
    n = planner.tpe.fed
    return params, f"tpe: the configuration TPE expects best after {n} finished trial{'s' * (n != 1)}", parent
