"""KEDA ScaledObject YAML in and out: the keda autoscaler's knobs as Kubernetes writes them.

Export writes a `keda.sh/v1alpha1` ScaledObject: the trigger that reads the scenario's
backend (rabbitmq QueueLength over AMQP, redis listName, postgresql counting QueueLab's
ready rows; aws-sqs-queue and nats-jetstream from `keda_streams`; a commented template for
memory:// and SQLite), its HPA `behavior` under
`advanced.horizontalPodAutoscalerConfig`, and comments naming the scenario and the figures
its simulated run achieved. Import reads a ScaledObject, an HPA, or a bare `behavior`
block and maps every field it can to pool knobs, listing the ones it ignores.

The files come from others: PyYAML's safe loader only (no tags, so no object is ever
built), at most `MAX_BYTES`, no anchors or aliases, at most `MAX_NODES` parse events; every
refusal names the field's path. Names of broker objects follow the backends (`queuelab.`
+ queue for AMQP, `queuelab:{queue}:ready` in Redis, table `queuelab_tasks`); a test holds
them to the backends' own code.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from queuelab.core.policies.hpa import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    DEFAULT_TOLERANCE,
    MAX_PERIOD,
    MAX_WINDOW,
    POLICY_TYPES,
    SELECT_POLICIES,
    SYNC_PERIOD,
    ScalingPolicy,
    format_policies,
    parse_policies,
)
from queuelab.core.scenario import Scenario
from queuelab.core.scenario_keda import keda_form
from queuelab.core.validation import ScenarioError, validate
from queuelab.io.bounded import FileRefused, read_text
from queuelab.io.keda_streams import nats_trigger, sqs_trigger

MAX_BYTES = 256 * 1024
MAX_NODES = 20_000
API_VERSION = "keda.sh/v1alpha1"


class KedaFileError(ValueError):
    """A file that cannot be read as KEDA/HPA YAML; the message starts with the field path."""


@dataclass
class Imported:
    """What a file said, as a scenario, and what of it was left out."""

    scenario: Scenario
    warnings: list[str] = field(default_factory=list)


# -- export -----------------------------------------------------------------------------


def _dns_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.")[:63].strip("-.")
    return name or "queuelab"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _whole(path: str, x: float) -> int:
    if not float(x).is_integer():
        raise KedaFileError(f"{path}: KEDA and the HPA take whole seconds (got {x:g})")
    return int(x)


def _queue_name(url: str) -> str:
    values = parse_qs(urlsplit(url).query).get("queue")
    return values[0] if values else "default"


def _trigger(s: Scenario) -> tuple[dict[str, Any] | None, list[str]]:
    """The trigger reading the scenario's backend, and comment lines to put beside it."""
    p, url = s.pool, s.queue.backend
    scheme = urlsplit(url).scheme.lower()
    target, activation = _num(p.target_per_worker), _num(p.activation)
    queue = _queue_name(url)
    if scheme in ("amqp", "amqps"):
        return {"type": "rabbitmq", "metadata": {
            "protocol": "amqp", "mode": "QueueLength", "value": target,
            "activationValue": activation, "queueName": f"queuelab.{queue}",
            "hostFromEnv": "RABBITMQ_HOST",
        }}, ["protocol amqp: KEDA counts ready messages, as QueueLab's backlog does",
             "(over http it would add unacknowledged ones)."]  # fmt: skip
    if scheme in ("redis", "rediss"):
        return {"type": "redis", "metadata": {
            "addressFromEnv": "REDIS_ADDRESS", "listName": f"queuelab:{{{queue}}}:ready",
            "listLength": target, "activationListLength": activation,
        }}, ["QueueLab's own Redis backend keeps ready tasks in a sorted set under this key;",
             "KEDA's redis scaler reads a list (LLEN): name the list your workers pop."]
    if scheme.startswith("postgres"):
        q = queue.replace("'", "''")
        now = "extract(epoch from clock_timestamp())"
        query = (f"SELECT count(*) FROM queuelab_tasks WHERE queue = '{q}' AND ready_at <= "
                 f"{now} AND (lease_until IS NULL OR lease_until <= {now})")
        return {"type": "postgresql", "metadata": {
            "connectionFromEnv": "PG_CONNECTION", "query": query,
            "targetQueryValue": target, "activationTargetQueryValue": activation,
        }}, ["the query counts the tasks ready to be claimed in QueueLab's table."]
    if scheme == "sqs":
        return sqs_trigger(url, target, activation)
    if scheme == "nats":
        return nats_trigger(url, target, activation)
    return None, [
        f"{scheme}:// has no KEDA scaler: fill in the trigger of the queue your workers",
        "read, with this target and activation, for example:",
        "- type: rabbitmq",
        "  metadata:",
        "    protocol: amqp",
        "    mode: QueueLength",
        f'    value: "{target}"',
        f'    activationValue: "{activation}"',
        "    queueName: YOUR-QUEUE",
        "    hostFromEnv: RABBITMQ_HOST",
    ]


def _rules(window: float, policies: str, select: str, tolerance: float,
           side: str) -> dict[str, Any]:
    rules: dict[str, Any] = {
        "stabilizationWindowSeconds": _whole(f"pool.stabilization_{side}", window),
        "selectPolicy": select,
    }
    parsed = parse_policies(policies)
    if parsed:
        rules["policies"] = [{"type": x.type, "value": x.value, "periodSeconds": x.period_seconds}
                             for x in parsed]
    if tolerance != DEFAULT_TOLERANCE:
        rules["tolerance"] = _num(tolerance)
    return rules


def figures(summary: dict[str, Any], seed: int) -> list[str]:
    """Comment lines with what a run achieved (from a summary's dict)."""
    def g(key: str) -> float:
        value = summary.get(key)
        return float(value) if isinstance(value, (int, float)) else math.nan

    return [
        f"Simulated by QueueLab: {g('duration'):,.0f} s after the warm-up, seed {seed}: "
        f"arrived {g('arrived'):,.0f}, completed {g('completed'):,.0f}, "
        f"dead-lettered {g('dead_lettered'):,.0f}",
        f"wait mean {g('mean_wait'):.3g} s, p95 {g('wait_p95'):.3g} s, p99 {g('wait_p99'):.3g} s;"
        f" utilization {g('utilization'):.1%}",
        f"workers mean {g('mean_workers'):.3g}, peak {g('peak_workers'):.0f}, "
        f"{g('worker_starts'):.0f} starts, {g('worker_seconds'):,.0f} worker-seconds",
    ]


def export_scaled_object(scenario: Scenario, summary: dict[str, Any] | None = None
                         ) -> tuple[str, list[str]]:
    """(YAML text, notes) for a scenario's ScaledObject; NoScaledObject when it has none."""
    s, notes = keda_form(scenario)
    p = s.pool
    sync = p.check_interval
    spec: dict[str, Any] = {
        "scaleTargetRef": {"name": _dns_name(s.name)},
        "pollingInterval": _whole("pool.polling_interval", p.polling_interval),
        "cooldownPeriod": _whole("pool.cooldown_period", p.cooldown_period),
    }
    if p.idle_workers >= 0:
        spec["idleReplicaCount"] = p.idle_workers
    spec["minReplicaCount"] = p.min_workers
    spec["maxReplicaCount"] = p.max_workers
    spec["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": {
        "scaleUp": _rules(p.stabilization_up, p.scale_up_policies, p.scale_up_select,
                          p.tolerance, "up"),
        "scaleDown": _rules(p.stabilization_down, p.scale_down_policies, p.scale_down_select,
                            p.tolerance, "down"),
    }}}  # fmt: skip
    trigger, trigger_notes = _trigger(s)
    spec["triggers"] = [trigger] if trigger is not None else []
    doc = {"apiVersion": API_VERSION, "kind": "ScaledObject",
           "metadata": {"name": _dns_name(s.name)}, "spec": spec}
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000)
    lines = body.rstrip("\n").split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("  triggers:"))
    lines[at:at] = [f"  # {c}" for c in trigger_notes]
    head = [f"# KEDA ScaledObject exported by QueueLab from the scenario {s.name!r}."]
    if summary is not None:
        head += figures(summary, s.run.seed)
    head.append(f"Scaled by KEDA's pollingInterval and, from one replica up, by the HPA every "
                f"{sync:g} s (the cluster's --horizontal-pod-autoscaler-sync-period"
                f"{'' if sync == SYNC_PERIOD else f'; Kubernetes defaults to {SYNC_PERIOD:g} s'}).")
    if p.termination_grace > 0:
        head.append(f"The workers' Deployment should say terminationGracePeriodSeconds: "
                    f"{math.ceil(p.termination_grace)} (its pod spec; not a ScaledObject field).")
    if p.tolerance != DEFAULT_TOLERANCE:
        head.append("tolerance needs the HPAConfigurableTolerance feature gate (Kubernetes "
                    "1.33+); elsewhere set --horizontal-pod-autoscaler-tolerance.")
    head += notes
    text = "\n".join(["# " + h if not h.startswith("#") else h for h in head]) + "\n"
    return text + "\n".join(lines) + "\n", notes


# -- import -----------------------------------------------------------------------------


def read_yaml_file(path: Path) -> str:
    """The text of a YAML file, refused (KedaFileError) when too large or not UTF-8."""
    try:
        return read_text(path, MAX_BYTES)
    except FileRefused as exc:
        raise KedaFileError(f"file: {exc}") from None


def _parse(text: str) -> list[Any]:
    """Every document of a YAML text, safely and within bounds."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise KedaFileError(f"file: larger than {MAX_BYTES // 1024} KiB; not a ScaledObject")
    try:
        for nodes, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader), 1):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise KedaFileError("file: YAML anchors and aliases are not accepted")
            if nodes > MAX_NODES:
                raise KedaFileError(f"file: more than {MAX_NODES:,} YAML parse events")
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except RecursionError:
        raise KedaFileError("file: not valid YAML: values nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise KedaFileError(f"file: not valid YAML{where}: {problem}") from None


def _get(obj: Any, path: str, key: str) -> Any:
    if not isinstance(obj, dict):
        raise KedaFileError(f"{path}: must be a mapping (got {type(obj).__name__})")
    return obj.get(key)


def _mapping(obj: Any, path: str) -> dict[str, Any]:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise KedaFileError(f"{path}: must be a mapping (got {type(obj).__name__})")
    return obj


def _int(obj: Any, path: str, low: int, high: int) -> int:
    if isinstance(obj, bool) or not isinstance(obj, int):
        raise KedaFileError(f"{path}: must be a whole number (got {obj!r})")
    if not low <= obj <= high:
        raise KedaFileError(f"{path}: must be in {low}..{high} (got {obj})")
    return obj


def _number(obj: Any, path: str) -> float:
    """A KEDA metadata value: a number or a string holding one."""
    if isinstance(obj, bool):
        raise KedaFileError(f"{path}: must be a number (got {obj!r})")
    try:
        x = float(obj)
    except (TypeError, ValueError):
        raise KedaFileError(f"{path}: must be a number (got {obj!r})") from None
    if not math.isfinite(x) or x < 0:
        raise KedaFileError(f"{path}: must be a finite number >= 0 (got {obj!r})")
    return x


_TRIGGER_KEYS = {  # type -> (target key, activation key, what must hold)
    "rabbitmq": ("value", "activationValue"),
    "redis": ("listLength", "activationListLength"),
    "postgresql": ("targetQueryValue", "activationTargetQueryValue"),
    "aws-sqs-queue": ("queueLength", "activationQueueLength"),
    "nats-jetstream": ("lagThreshold", "activationLagThreshold"),
}
_DEFAULT_TARGET = {"aws-sqs-queue": "5"}  # KEDA's default where the scaler has one


def _triggers(triggers: Any, warnings: list[str]) -> list[tuple[float, float]]:
    if triggers is None:
        return []
    if not isinstance(triggers, list):
        raise KedaFileError(f"spec.triggers: must be a list (got {type(triggers).__name__})")
    out = []
    for i, t in enumerate(triggers):
        path = f"spec.triggers[{i}]"
        kind = _get(t, path, "type")
        meta = _mapping(_get(t, path, "metadata"), f"{path}.metadata")
        if kind not in _TRIGGER_KEYS:
            warnings.append(f"{path}: ignored a {kind!r} trigger (QueueLab scales on its queue's "
                            "backlog: rabbitmq, redis, postgresql, aws-sqs-queue and "
                            "nats-jetstream triggers only)")
            continue
        if kind == "rabbitmq":
            mode = meta.get("mode", "QueueLength")
            if "queueLength" in meta and "value" not in meta:  # the older spelling
                meta = {**meta, "value": meta["queueLength"]}
            if mode != "QueueLength":
                warnings.append(f"{path}.metadata.mode: ignored a {mode!r} trigger (only "
                                "QueueLength is a backlog)")
                continue
            if meta.get("protocol") == "http" and meta.get("excludeUnacknowledged") not in (
                    True, "true"):
                warnings.append(f"{path}.metadata.protocol: over http KEDA also counts "
                                "unacknowledged messages; QueueLab's backlog is ready ones only")
        if kind == "aws-sqs-queue" and meta.get("scaleOnInFlight") not in (False, "false"):
            warnings.append(f"{path}.metadata.scaleOnInFlight: KEDA also counts in-flight "
                            "messages (its default); QueueLab's backlog is ready ones only")
        metric_type = _get(t, path, "metricType")
        if metric_type not in (None, "AverageValue"):
            warnings.append(f"{path}.metricType: ignored a {metric_type!r} trigger (QueueLab "
                            "models AverageValue, KEDA's default)")
            continue
        target_key, activation_key = _TRIGGER_KEYS[kind]
        if kind in _DEFAULT_TARGET:
            meta = {target_key: _DEFAULT_TARGET[kind], **meta}
        if target_key not in meta:
            raise KedaFileError(f"{path}.metadata.{target_key}: required by a {kind} trigger")
        target = _number(meta[target_key], f"{path}.metadata.{target_key}")
        if target <= 0:
            raise KedaFileError(f"{path}.metadata.{target_key}: must be > 0 (got {target:g})")
        activation = _number(meta.get(activation_key, 0), f"{path}.metadata.{activation_key}")
        for key in ("useCachedMetrics", "authenticationRef", "name"):
            if key in t and key != "name":
                warnings.append(f"{path}.{key}: ignored (no effect on the decisions)")
        out.append((target, activation))
    return out


def _behavior(behavior: Any, path: str, knobs: dict[str, Any], warnings: list[str]) -> None:
    behavior = _mapping(behavior, path)
    for key in behavior:
        if key not in ("scaleUp", "scaleDown"):
            warnings.append(f"{path}.{key}: ignored (not a behavior field)")
    tolerances = []
    for key, side, default in (("scaleUp", "up", DEFAULT_SCALE_UP),
                               ("scaleDown", "down", DEFAULT_SCALE_DOWN)):
        rules = _mapping(behavior.get(key), f"{path}.{key}")
        rpath = f"{path}.{key}"
        window = rules.get("stabilizationWindowSeconds", default.stabilization_window)
        knobs[f"stabilization_{side}"] = float(
            _int(window, f"{rpath}.stabilizationWindowSeconds", 0, MAX_WINDOW))
        select = rules.get("selectPolicy", "Max")
        if select not in SELECT_POLICIES:
            raise KedaFileError(f"{rpath}.selectPolicy: must be Max, Min or Disabled "
                                f"(got {select!r})")
        knobs[f"scale_{side}_select"] = select
        policies = rules.get("policies")
        if policies is None:
            parsed = () if select == "Disabled" else default.policies  # unused when Disabled
        else:
            if not isinstance(policies, list):
                raise KedaFileError(f"{rpath}.policies: must be a list")
            parsed_list = []
            for j, pol in enumerate(policies):
                ppath = f"{rpath}.policies[{j}]"
                kind = _get(pol, ppath, "type")
                if kind not in POLICY_TYPES:
                    raise KedaFileError(f"{ppath}.type: must be Pods or Percent (got {kind!r})")
                value = _int(_get(pol, ppath, "value"), f"{ppath}.value", 1, 2**31 - 1)
                period = _int(_get(pol, ppath, "periodSeconds"), f"{ppath}.periodSeconds",
                              1, MAX_PERIOD)
                parsed_list.append(ScalingPolicy(kind, value, period))
            if len(parsed_list) > 10:
                raise KedaFileError(f"{rpath}.policies: at most 10 policies")
            parsed = tuple(parsed_list)
            if not parsed and select != "Disabled":
                parsed = default.policies
                warnings.append(f"{rpath}.policies: empty; Kubernetes' defaults used")
        knobs[f"scale_{side}_policies"] = format_policies(parsed)
        if "tolerance" in rules:
            tolerances.append(_number(rules["tolerance"], f"{rpath}.tolerance"))
    if not tolerances:
        knobs["tolerance"] = DEFAULT_TOLERANCE  # the cluster's default applies
    else:
        if len(set(tolerances)) > 1:
            warnings.append(f"{path}: scaleUp and scaleDown tolerances differ; QueueLab has one "
                            f"tolerance and uses the smaller, {min(tolerances):g}")
        knobs["tolerance"] = min(tolerances)


_SPEC_IGNORED = {
    "scaleTargetRef": None,  # which Deployment: no effect on the decisions
    "fallback": "QueueLab's queue metric never fails, so the fallback never applies",
    "initialCooldownPeriod": "the first scale to zero is not delayed",
}


def _scaled_object(doc: dict[str, Any], knobs: dict[str, Any], warnings: list[str]) -> None:
    spec = _mapping(doc.get("spec"), "spec")
    for key in spec:
        if key in _SPEC_IGNORED and _SPEC_IGNORED[key] and spec[key] not in (0, None):
            warnings.append(f"spec.{key}: ignored ({_SPEC_IGNORED[key]})")
        elif key not in _SPEC_IGNORED and key not in (
                "pollingInterval", "cooldownPeriod", "idleReplicaCount", "minReplicaCount",
                "maxReplicaCount", "advanced", "triggers"):
            warnings.append(f"spec.{key}: ignored (not a field QueueLab knows)")
    knobs["polling_interval"] = float(_int(spec.get("pollingInterval", 30),
                                           "spec.pollingInterval", 1, 2**31 - 1))
    knobs["cooldown_period"] = float(_int(spec.get("cooldownPeriod", 300),
                                          "spec.cooldownPeriod", 0, 2**31 - 1))
    knobs["min_workers"] = _int(spec.get("minReplicaCount", 0), "spec.minReplicaCount", 0, 10_000)
    knobs["max_workers"] = _int(spec.get("maxReplicaCount", 100), "spec.maxReplicaCount",
                                1, 10_000)
    idle = spec.get("idleReplicaCount")
    knobs["idle_workers"] = -1 if idle is None else _int(idle, "spec.idleReplicaCount", 0,
                                                          10_000)
    advanced = _mapping(spec.get("advanced"), "spec.advanced")
    for key in advanced:
        if key == "scalingModifiers":
            warnings.append("spec.advanced.scalingModifiers: ignored (a formula over several "
                            "metrics; QueueLab's triggers all read its one queue)")
        elif key == "restoreToOriginalReplicaCount":
            warnings.append("spec.advanced.restoreToOriginalReplicaCount: ignored (it acts "
                            "when the ScaledObject is deleted)")
        elif key != "horizontalPodAutoscalerConfig":
            warnings.append(f"spec.advanced.{key}: ignored (not a field QueueLab knows)")
    hpa = _mapping(advanced.get("horizontalPodAutoscalerConfig"),
                   "spec.advanced.horizontalPodAutoscalerConfig")
    _behavior(hpa.get("behavior"), "spec.advanced.horizontalPodAutoscalerConfig.behavior",
              knobs, warnings)
    found = _triggers(spec.get("triggers"), warnings)
    if not found:
        warnings.append("spec.triggers: no queue trigger; target and activation kept")
        return
    if len(found) > 1:
        warnings.append(f"spec.triggers: {len(found)} queue triggers all read QueueLab's one "
                        "queue; the HPA takes the largest proposal, which is the smallest "
                        "target's, and any active trigger activates: kept the smallest target "
                        "and the smallest activation")
    knobs["target_per_worker"] = min(t for t, _ in found)
    knobs["activation"] = min(a for _, a in found)


def _hpa(doc: dict[str, Any], knobs: dict[str, Any], warnings: list[str]) -> None:
    spec = _mapping(doc.get("spec"), "spec")
    knobs["min_workers"] = _int(spec.get("minReplicas", 1), "spec.minReplicas", 0, 10_000)
    knobs["max_workers"] = _int(spec.get("maxReplicas"), "spec.maxReplicas", 1, 10_000)
    if spec.get("metrics"):
        warnings.append("spec.metrics: ignored (QueueLab scales on its queue's backlog; "
                        "target_per_worker kept)")
    _behavior(spec.get("behavior"), "spec.behavior", knobs, warnings)


def import_scaled_object(text: str, into: Scenario) -> Imported:
    """The scenario `into` with a keda pool read from YAML text; KedaFileError when unusable."""
    docs = _parse(text)
    warnings: list[str] = []
    knobs: dict[str, Any] = {}
    chosen = None
    for i, doc in enumerate(docs):
        if isinstance(doc, dict) and doc.get("kind") in ("ScaledObject",
                                                         "HorizontalPodAutoscaler"):
            chosen = doc
            if len(docs) > 1:
                warnings.append(f"file: read document {i + 1} ({doc['kind']}); the others "
                                "ignored")
            break
    if chosen is None and len(docs) == 1 and isinstance(docs[0], dict):
        bare = docs[0].get("behavior", docs[0])
        if isinstance(bare, dict) and set(bare) & {"scaleUp", "scaleDown"}:
            _behavior(bare, "behavior", knobs, warnings)
            return _finish(into, knobs, warnings, None)
    if chosen is None:
        raise KedaFileError("file: holds no ScaledObject, HorizontalPodAutoscaler or behavior "
                            "block (kind: ScaledObject, apiVersion: keda.sh/v1alpha1)")
    if chosen["kind"] == "ScaledObject":
        if chosen.get("apiVersion") != API_VERSION:
            raise KedaFileError(f"apiVersion: must be {API_VERSION} for a ScaledObject "
                                f"(got {chosen.get('apiVersion')!r})")
        _scaled_object(chosen, knobs, warnings)
    else:
        _hpa(chosen, knobs, warnings)
    name = _get(_mapping(chosen.get("metadata"), "metadata"), "metadata", "name")
    return _finish(into, knobs, warnings, name if isinstance(name, str) else None)


def _finish(into: Scenario, knobs: dict[str, Any], warnings: list[str],
            name: str | None) -> Imported:
    pool = into.pool
    if pool.autoscaler != "keda" or pool.strategy != "dynamic":
        knobs.setdefault("check_interval", SYNC_PERIOD)  # the HPA's default sync period
    pool = replace(pool, strategy="dynamic", autoscaler="keda", **knobs)
    scenario = replace(into, pool=pool)
    if name and into.name == Scenario().name:
        scenario = replace(scenario, name=name)
    try:
        return Imported(validate(scenario), warnings)
    except ScenarioError as exc:
        raise KedaFileError("; ".join(str(e) for e in exc.errors)) from None
