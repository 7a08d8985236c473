"""Complete, valid objects of every tradeplane kind (every spec field set), reusable by other tests.

``example(kind)`` returns a fresh deep copy, so a test can mutate it into an invalid variant.
"""

from __future__ import annotations

import copy
from typing import Any

API_VERSION = "tradeplane.io/v1alpha1"
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32

VENUE: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "Venue",
    "metadata": {"name": "bingx-paper"},
    "spec": {
        "exchange": "bingx",
        "mode": "paper",
        "endpoints": {"rest": "http://127.0.0.1:18080", "websocket": "ws://127.0.0.1:18081/swap-market"},
        "credentials": {
            "secretRef": {"name": "bingx-api"},
            "apiKeyKey": "apiKey",
            "secretKeyKey": "secretKey",
        },
        "refresh": {"metadata": "1h", "fees": "24h", "account": "1m"},
        "deadManTimeout": "30s",
        "recvWindow": "5s",
    },
}

INSTRUMENT: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "Instrument",
    "metadata": {"name": "xaut-usdt"},
    "spec": {
        "venueRef": {"name": "bingx-paper"},
        "symbol": "XAUT-USDT",
        "exposureGroup": "gold",
        "streams": {
            "klines": {"intervals": ["1m", "15m", "1h"]},
            "trades": True,
            "depth": {"enabled": True, "levels": 20, "incremental": True},
            "markPrice": True,
            "funding": True,
        },
        "backfillFrom": "2026-01-01T00:00:00Z",
        "gapHealing": {"enabled": True, "lookback": "24h", "maxConcurrentBackfills": 2},
        "metadataMaxAge": "24h",
        "journal": {"enabled": True, "retention": "24h"},
        "retention": {"depth": "168h", "trades": "2160h"},
    },
}

FEATURESET: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "FeatureSet",
    "metadata": {"name": "gold-1m"},
    "spec": {
        "instrumentRefs": [{"name": "xaut-usdt"}],
        "baseInterval": "1m",
        "contextIntervals": ["15m", "1h"],
        "features": [
            {"name": "ret_1", "transform": "log_return", "params": {"n": 1}},
            {"name": "rsi_14", "transform": "rsi", "params": {"n": 14}},
            {
                "name": "bb_pct_b_1h",
                "transform": "bollinger.percent_b",
                "interval": "1h",
                "params": {"k": "2"},
            },
        ],
        "normalization": {"method": "zscore", "clip": 5.0},
        "window": 64,
        "snapshotRetention": 5,
        "snapshot": {"range": "24h", "schedule": "24h", "mode": "production"},
    },
}

MODEL: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "Model",
    "metadata": {"name": "gold-ppo"},
    "spec": {
        "instrumentRef": {"name": "xaut-usdt"},
        "featureSetRef": {"name": "gold-1m"},
        "venueRef": {"name": "bingx-paper"},
        "algorithm": {
            "name": "PPO",
            "policy": "MlpPolicy",
            "hyperparameters": {
                "learning_rate": 0.0003,
                "n_steps": 2048,
                "policy_kwargs": {"net_arch": [64, 64]},
            },
            "totalTimesteps": 200000,
            "seed": 7,
        },
        "trainingWindow": {"lookback": "2160h"},
        "walkForward": {"folds": 5, "testSpan": "168h", "purge": "1h", "embargo": "30m", "anchored": False},
        "promotionGates": {
            "minPsr": 0.95,
            "minDsr": 0.95,
            "bootstrapConfidence": 0.95,
            "bootstrapMethod": "stationary",
            "bootstrapResamples": 2000,
            "minTrades": 30,
            "minFolds": 3,
            "minPositiveFoldShare": 0.6,
            "maxDrawdown": 0.2,
            "drawdownNoWorseThanChampion": True,
            "costStress": {"feeMultiplier": 2.0, "extraSlippageTicks": 1, "adverseFunding": True},
            "minShadow": "72h",
        },
        "retraining": {
            "schedule": "0 3 * * 1",
            "minInterval": "24h",
            "suspend": False,
            "maxConcurrentTrials": 1,
            "drift": {
                "psiWatch": 0.1,
                "psiAct": 0.25,
                "adwinDelta": 0.002,
                "window": "24h",
                "persistence": 2,
                "of": 3,
            },
        },
    },
}

MODELVERSION: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "ModelVersion",
    "metadata": {"name": "gold-ppo-v1"},
    "spec": {
        "modelRef": {"name": "gold-ppo"},
        "version": 1,
        "algorithm": {
            "name": "PPO",
            "policy": "MlpPolicy",
            "hyperparameters": {"learning_rate": 0.0003},
            "totalTimesteps": 200000,
            "seed": 7,
        },
        "artifact": {"uri": "s3://models/gold-ppo/1/model.zip", "digest": DIGEST, "mlflowRunId": "0f3a9c"},
        "lineage": {
            "datasetSnapshot": DIGEST,
            "featureFingerprint": DIGEST,
            "costModelFingerprint": DIGEST,
            "metadataSnapshots": [DIGEST],
            "codeVersion": "236e31a",
            "seeds": [7, 8],
            "trainingRange": {"start": "2026-01-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"},
        },
    },
}

ROLLOUT: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "Rollout",
    "metadata": {"name": "gold-ppo-rollout"},
    "spec": {
        "instrumentRef": {"name": "xaut-usdt"},
        "venueRef": {"name": "bingx-paper"},
        "modelRef": {"name": "gold-ppo"},
        "candidateRef": {"name": "gold-ppo-v1"},
        "riskPolicyRef": {"name": "default"},
        "capital": {"budget": "10000", "currency": "USDT"},
        "steps": [
            {"shadow": {"duration": "4h"}},
            {
                "analysis": {
                    "metrics": [
                        {
                            "name": "shadowSharpe",
                            "provider": "sharpe",
                            "successCondition": "result >= 0.0",
                            "failureCondition": "result < -0.5",
                            "interval": "5m",
                            "count": 12,
                            "failureLimit": 1,
                            "inconclusiveLimit": 2,
                            "consecutiveErrorLimit": 4,
                        }
                    ],
                    "duration": "1h",
                }
            },
            {"setWeight": 5},
            {"pause": {"duration": "30m"}},
            {"pause": {}},
            {"setWeight": 25},
            {"setWeight": 100},
        ],
        "analysis": {
            "metrics": [
                {
                    "name": "drawdown",
                    "provider": "drawdown",
                    "successCondition": "result < 0.05",
                    "interval": "15m",
                    "failureLimit": 0,
                    "inconclusiveLimit": 0,
                    "consecutiveErrorLimit": 4,
                }
            ]
        },
        "progressDeadline": "1h",
    },
}

RISKPOLICY: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "RiskPolicy",
    "metadata": {"name": "default"},
    "spec": {
        "scope": {"instrumentRefs": [{"name": "xaut-usdt"}], "exposureGroups": ["gold"]},
        "limits": {
            "perOrderNotional": "1000",
            "perInstrumentNotional": "5000",
            "perExposureGroupNotional": {"gold": "8000"},
            "portfolioGrossNotional": "10000",
            "portfolioNetNotional": "7500.50",
            "maxLeverage": 3,
            "maxOpenOrders": 20,
            "maxOrdersPerMinute": 60,
        },
        "liquidation": {
            "minDistanceSigmas": 3.0,
            "horizon": "24h",
            "maxMarginRatio": 0.5,
            "stopBufferTicks": 2,
        },
        "breakers": {
            "dailyLoss": {"limit": "500", "action": "HALTED"},
            "drawdown": {"maxFraction": 0.1, "action": "HALTED"},
            "rejectRate": {"maxFraction": 0.2, "window": "5m", "minOrders": 10, "action": "REDUCING"},
            "staleData": {"maxAge": "30s", "action": "REDUCING"},
        },
        "killSwitch": {"flatten": True, "resumeCooldown": "15m"},
    },
}

EXAMPLES: dict[str, dict[str, Any]] = {
    obj["kind"]: obj for obj in (VENUE, INSTRUMENT, FEATURESET, MODEL, MODELVERSION, ROLLOUT, RISKPOLICY)
}


def example(kind: str) -> dict[str, Any]:
    """A fresh deep copy of the complete valid object of ``kind``."""
    return copy.deepcopy(EXAMPLES[kind])


DELETE = object()
"""Marks a field to remove in :func:`mutated`."""


def mutated(kind: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The example of ``kind`` with dotted-path ``changes`` applied (``DELETE`` removes a field).

    Path segments that are integers index into lists: ``spec.steps.2.setWeight``.
    """
    obj = example(kind)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = obj
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        elif value is DELETE:
            del node[last]
        else:
            node[last] = value
    return obj


class Invalid:
    """One invalid object and the fragments the API server's error must contain.

    ``field`` is the path the error must name; ``message`` a fragment of the reason. ``pydantic``
    says whether the Python models reject it too (False only where the rule is the API server's own,
    such as strict decoding of unknown fields being reported differently).
    """

    def __init__(
        self,
        case_id: str,
        kind: str,
        changes: dict[str, Any],
        field: str,
        message: str,
        pydantic: bool = True,
    ) -> None:
        self.id = case_id
        self.kind = kind
        self.changes = changes
        self.field = field
        self.message = message
        self.pydantic = pydantic

    def object(self) -> dict[str, Any]:
        return mutated(self.kind, self.changes)
