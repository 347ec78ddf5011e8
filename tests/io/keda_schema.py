"""The ScaledObject's shape, written from KEDA's ScaledObject CRD (keda.sh/v1alpha1) and the
Kubernetes autoscaling/v2 API reference (HorizontalPodAutoscalerBehavior, HPAScalingRules,
HPAScalingPolicy), with a small checker for the subset of JSON Schema it uses.

Field names, types and ranges as those references give them: int32 counts, trigger
`metadata` as a map of strings, stabilizationWindowSeconds 0..3600, periodSeconds 1..1800,
policy value > 0, selectPolicy Max | Min | Disabled, policy type Pods | Percent.
"""

from __future__ import annotations

from typing import Any

INT32: dict[str, Any] = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
COUNT: dict[str, Any] = {**INT32, "minimum": 0}
QUANTITY: dict[str, Any] = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m)?$"}

POLICY = {
    "type": "object",
    "required": ["type", "value", "periodSeconds"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": ["Pods", "Percent"]},
        "value": {**INT32, "minimum": 1},
        "periodSeconds": {**INT32, "minimum": 1, "maximum": 1800},
    },
}
RULES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "stabilizationWindowSeconds": {**INT32, "minimum": 0, "maximum": 3600},
        "selectPolicy": {"type": "string", "enum": ["Max", "Min", "Disabled"]},
        "policies": {"type": "array", "items": POLICY},
        "tolerance": QUANTITY,
    },
}
TRIGGER = {
    "type": "object",
    "required": ["type", "metadata"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string"},
        "name": {"type": "string"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "metricType": {"type": "string", "enum": ["AverageValue", "Value", "Utilization"]},
        "useCachedMetrics": {"type": "boolean"},
        "authenticationRef": {"type": "object", "required": ["name"]},
    },
}
SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"type": "string", "enum": ["keda.sh/v1alpha1"]},
        "kind": {"type": "string", "enum": ["ScaledObject"]},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {
                "type": "string", "maxLength": 253,
                "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            }},
        },
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {k: {"type": "string"} for k in
                                   ("apiVersion", "kind", "name", "envSourceContainerName")},
                },
                "pollingInterval": COUNT,
                "cooldownPeriod": COUNT,
                "initialCooldownPeriod": COUNT,
                "idleReplicaCount": COUNT,
                "minReplicaCount": COUNT,
                "maxReplicaCount": COUNT,
                "fallback": {"type": "object", "required": ["failureThreshold", "replicas"]},
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "scalingModifiers": {"type": "object"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "behavior": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {"scaleUp": RULES, "scaleDown": RULES},
                                },
                            },
                        },
                    },
                },
                "triggers": {"type": "array", "items": TRIGGER},
            },
        },
    },
}

#: per scaler (KEDA's scaler pages, aws-sqs-queue and nats-jetstream): required and known keys
SCALER_METADATA: dict[str, tuple[set[str], set[str]]] = {
    "aws-sqs-queue": (
        {"awsRegion"},
        {"queueURL", "queueURLFromEnv", "queueLength", "activationQueueLength", "awsRegion",
         "awsEndpoint", "identityOwner", "scaleOnInFlight", "scaleOnDelayed"},
    ),
    "nats-jetstream": (
        {"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold"},
        {"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold",
         "activationLagThreshold", "useHttps"},
    ),
}
_BOOLEAN_TEXT = {"scaleOnInFlight", "scaleOnDelayed", "useHttps"}
_NUMBER_TEXT = {"queueLength", "activationQueueLength", "lagThreshold", "activationLagThreshold"}


def scaler_violations(doc: dict[str, Any]) -> list[str]:
    """Per-scaler metadata checks the CRD cannot express (its metadata is a string map)."""
    import re

    out: list[str] = []
    for i, trigger in enumerate(doc["spec"]["triggers"]):
        known = SCALER_METADATA.get(trigger["type"])
        if known is None:
            continue
        required, allowed = known
        meta, path = trigger["metadata"], f".spec.triggers[{i}].metadata"
        out += [f"{path}.{k}: required" for k in sorted(required - set(meta))]
        out += [f"{path}.{k}: unknown field" for k in sorted(set(meta) - allowed)]
        if trigger["type"] == "aws-sqs-queue" and not {"queueURL", "queueURLFromEnv"} & set(meta):
            out.append(f"{path}.queueURL: required (or queueURLFromEnv)")
        for k, v in meta.items():
            if k in _BOOLEAN_TEXT and v not in ("true", "false"):
                out.append(f"{path}.{k}: not \"true\" or \"false\" ({v!r})")
            if k in _NUMBER_TEXT and not (isinstance(v, str)
                                          and re.fullmatch(r"[0-9]+(\.[0-9]+)?", v)):
                out.append(f"{path}.{k}: not a number as text ({v!r})")
    return out


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def violations(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Every way `value` breaks `schema`, each with its path (empty when it conforms)."""
    import re

    out: list[str] = []
    kind = schema.get("type")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: not an integer ({value!r})"]
    elif kind is not None and not isinstance(value, _TYPES[kind]):
        return [f"{path}: not a {kind} ({value!r})"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        out.append(f"{path}: {value} < {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        out.append(f"{path}: {value} > {schema['maximum']}")
    if "pattern" in schema and not re.match(schema["pattern"], value):
        out.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(f"{path}: longer than {schema['maxLength']}")
    if kind == "object":
        props = schema.get("properties", {})
        out += [f"{path}.{k}: required" for k in schema.get("required", []) if k not in value]
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                out += violations(v, props[k], f"{path}.{k}")
            elif extra is False:
                out.append(f"{path}.{k}: unknown field")
            elif isinstance(extra, dict):
                out += violations(v, extra, f"{path}.{k}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            out += violations(item, schema["items"], f"{path}[{i}]")
    return out
