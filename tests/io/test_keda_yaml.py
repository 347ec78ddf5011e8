"""ScaledObject export and import: the schema, the round trip, the triggers, hostile files."""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from queuelab.backends import open_queue
from queuelab.backends.amqp.topology import Names
from queuelab.backends.nats_queue import NatsQueue
from queuelab.backends.redis_queue.keys import QueueKeys
from queuelab.backends.sqs import SqsQueue
from queuelab.backends.sqs.options import SqsOptions
from queuelab.cli import main
from queuelab.core.scenario import PoolConfig, QueueConfig, Scenario
from queuelab.core.scenario_keda import NoScaledObject, keda_form
from queuelab.io.keda_yaml import (
    MAX_BYTES,
    KedaFileError,
    export_scaled_object,
    import_scaled_object,
)
from tests.io.keda_schema import SCALED_OBJECT, scaler_violations, violations
from tests.services import needs


def keda_scenario(backend: str = "amqp://guest@127.0.0.1/?queue=jobs", **pool: object
                  ) -> Scenario:
    knobs: dict[str, object] = {
        "strategy": "dynamic", "autoscaler": "keda", "min_workers": 0, "max_workers": 30,
        "check_interval": 15.0, "target_per_worker": 5.0, "activation": 2.0,
        "scale_down_policies": "Pods 4 per 60s, Percent 10 per 60s",
        "scale_down_select": "Min", "stabilization_down": 120.0,
    }  # fmt: skip
    knobs.update(pool)
    return Scenario(name="Bursty KEDA", pool=replace(PoolConfig(), **knobs),  # type: ignore[arg-type]
                    queue=QueueConfig(backend=backend))


BACKENDS = ["amqp://guest@127.0.0.1/?queue=jobs", "redis://127.0.0.1:6379/0?queue=jobs",
            "postgresql://test@127.0.0.1/test?queue=jobs", "memory://", "sqlite:///x.db"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_export_matches_the_keda_and_kubernetes_references(backend: str) -> None:
    text, _ = export_scaled_object(keda_scenario(backend, tolerance=0.05, idle_workers=0),
                                   None)
    doc = yaml.safe_load(text)
    assert violations(doc, SCALED_OBJECT) == []
    behavior = doc["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"] == {
        "stabilizationWindowSeconds": 120, "selectPolicy": "Min",
        "policies": [{"type": "Pods", "value": 4, "periodSeconds": 60},
                     {"type": "Percent", "value": 10, "periodSeconds": 60}],
        "tolerance": "0.05",
    }  # fmt: skip
    assert doc["spec"]["idleReplicaCount"] == 0


def test_the_schema_catches_what_kubectl_would_refuse() -> None:
    text, _ = export_scaled_object(keda_scenario(), None)
    doc = yaml.safe_load(text)
    doc["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"][
        "policies"][0]["periodSeconds"] = 3600
    doc["spec"]["triggers"][0]["metadata"]["value"] = 5
    doc["spec"]["pollingInterval"] = "30"
    found = violations(doc, SCALED_OBJECT)
    assert len(found) == 3, found


def test_triggers_name_what_the_backends_use() -> None:
    def trigger(backend: str) -> dict:
        return yaml.safe_load(export_scaled_object(keda_scenario(backend), None)[0])[
            "spec"]["triggers"][0]

    rabbit = trigger(BACKENDS[0])
    assert rabbit["type"] == "rabbitmq"
    assert rabbit["metadata"]["mode"] == "QueueLength"
    assert rabbit["metadata"]["protocol"] == "amqp"  # ready messages only, like the backlog
    assert rabbit["metadata"]["queueName"] == Names("jobs").main
    assert (rabbit["metadata"]["value"], rabbit["metadata"]["activationValue"]) == ("5", "2")
    redis = trigger(BACKENDS[1])
    assert redis["metadata"]["listName"] == QueueKeys("jobs").key("ready")
    assert redis["metadata"]["listLength"] == "5"
    pg = trigger(BACKENDS[2])
    assert "FROM queuelab_tasks WHERE queue = 'jobs'" in pg["metadata"]["query"]
    assert pg["metadata"]["targetQueryValue"] == "5"
    for backend in BACKENDS[3:]:
        text, _ = export_scaled_object(keda_scenario(backend), None)
        assert yaml.safe_load(text)["spec"]["triggers"] == []
        assert "#     queueName: YOUR-QUEUE" in text


def test_no_password_is_exported() -> None:
    text, _ = export_scaled_object(keda_scenario("amqp://guest:s3cret@127.0.0.1/"), None)
    assert "s3cret" not in text


def test_export_import_export_is_stable(tmp_path: Path) -> None:
    scenario = keda_scenario(idle_workers=0, min_workers=3, tolerance=0.2,
                             scale_up_select="Disabled", scale_up_policies="")
    summary = {"duration": 3540.0, "arrived": 10, "completed": 10, "mean_wait": 0.5}
    first, _ = export_scaled_object(scenario, summary)
    imported = import_scaled_object(first, scenario)
    assert imported.warnings == []
    assert imported.scenario == scenario
    second, _ = export_scaled_object(imported.scenario, summary)
    assert second == first
    # into a fresh scenario too: the YAML says everything the policy needs (not the backend)
    fresh = import_scaled_object(first, Scenario())
    assert fresh.scenario.name == "bursty-keda"
    same = replace(fresh.scenario, name="Bursty KEDA", queue=scenario.queue)
    assert export_scaled_object(same, summary)[0] == first


def test_threshold_is_refused_with_the_closest_target_settings() -> None:
    pool = replace(PoolConfig(), strategy="dynamic", autoscaler="threshold", workers=4,
                   scale_up_threshold=100.0, scale_down_threshold=10.0)
    with pytest.raises(NoScaledObject) as caught:
        export_scaled_object(Scenario(pool=pool), None)
    message = str(caught.value)
    assert "no Kubernetes HPA equivalent" in message
    assert "target_per_worker = 13.8" in message  # midpoint 55 over 4 workers
    assert 'scale_up_policies = "Pods 1 per 5s"' in message


def test_target_pool_is_converted_and_the_differences_named() -> None:
    pool = replace(PoolConfig(), strategy="dynamic", autoscaler="target", max_step=3,
                   cooldown=30.0, check_interval=10.0)
    converted, notes = keda_form(Scenario(pool=pool))
    assert converted.pool.scale_up_policies == "Pods 3 per 10s"
    assert any("cooldown 30s dropped" in n for n in notes)
    text, _ = export_scaled_object(Scenario(pool=pool), None)
    assert "# cooldown 30s dropped" in text


def test_import_maps_fields_and_warns_about_ignored_ones() -> None:
    text = """
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: orders}
spec:
  scaleTargetRef: {name: orders-worker}
  pollingInterval: 10
  cooldownPeriod: 60
  minReplicaCount: 0
  maxReplicaCount: 25
  fallback: {failureThreshold: 3, replicas: 6}
  advanced:
    scalingModifiers: {formula: "a + b", target: "2"}
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          stabilizationWindowSeconds: 60
          selectPolicy: Disabled
  triggers:
  - type: cpu
    metricType: Utilization
    metadata: {value: "60"}
  - type: redis
    metadata: {address: "redis:6379", listName: orders, listLength: "20",
               activationListLength: "3"}
  - type: postgresql
    metadata: {query: "SELECT 1", targetQueryValue: 8}
"""
    result = import_scaled_object(text, Scenario())
    p = result.scenario.pool
    assert (p.strategy, p.autoscaler, p.polling_interval, p.cooldown_period) == (
        "dynamic", "keda", 10.0, 60.0)
    assert (p.min_workers, p.max_workers, p.idle_workers) == (0, 25, -1)
    assert (p.stabilization_down, p.scale_down_select) == (60.0, "Disabled")
    assert p.scale_up_policies == "Percent 100 per 15s, Pods 4 per 15s"  # Kubernetes' defaults
    assert (p.target_per_worker, p.activation) == (8.0, 0.0)  # smallest of the two
    assert p.check_interval == 15.0
    joined = "\n".join(result.warnings)
    for part in ("spec.fallback", "scalingModifiers", "'cpu' trigger", "2 queue triggers"):
        assert part in joined


def test_bare_behavior_block() -> None:
    text = "behavior:\n  scaleUp:\n    policies:\n    - {type: Pods, value: 2, periodSeconds: 30}\n"
    result = import_scaled_object(text, Scenario())
    assert result.scenario.pool.scale_up_policies == "Pods 2 per 30s"
    assert result.scenario.pool.stabilization_down == 300.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1, 2", r"^file: not valid YAML \(line 1, column 9\)"),
        ("a: &x [1]\nb: *x\n", "anchors and aliases"),
        ("x: !!python/object/apply:os.system [ls]\n", "not valid YAML"),
        ("kind: Deployment\n", "holds no ScaledObject"),
        ("apiVersion: keda.sh/v1\nkind: ScaledObject\nspec: {}\n", r"^apiVersion: must be"),
        ("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec:\n  pollingInterval: -1\n",
         r"^spec\.pollingInterval: must be in 1\.\."),
        ("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec:\n  triggers:\n"
         "  - type: rabbitmq\n    metadata: {value: lots}\n",
         r"^spec\.triggers\[0\]\.metadata\.value: must be a number"),
        ("apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec:\n  minReplicaCount: 5\n"
         "  maxReplicaCount: 2\n", "pool.max_workers: must be >= pool.min_workers"),
        ("a: " + "x" * (MAX_BYTES + 1), "larger than 256 KiB"),
    ],
)
def test_hostile_or_wrong_files_are_refused_by_path(text: str, message: str) -> None:
    with pytest.raises(KedaFileError, match=message):
        import_scaled_object(text, Scenario())


def test_cli_export_import_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    scenario_file = tmp_path / "s.toml"
    scenario_file.write_text(
        'format = 1\nname = "Small"\n[run]\nduration = 600\n[pool]\nstrategy = "dynamic"\n'
        'autoscaler = "keda"\nmin_workers = 0\ncheck_interval = 15\n', encoding="utf-8")
    out = tmp_path / "so.yaml"
    assert main(["export", "keda", str(scenario_file), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "# Simulated by QueueLab: 540 s after the warm-up, seed 1" in text
    assert violations(yaml.safe_load(text), SCALED_OBJECT) == []
    assert main(["import", "keda", str(out), "--into", str(scenario_file)]) == 0
    again = tmp_path / "again.yaml"
    assert main(["export", "keda", str(scenario_file), "-o", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == text
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"\xff\xfe")
    capsys.readouterr()
    assert main(["import", "keda", str(bad)]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    threshold = tmp_path / "t.toml"
    threshold.write_text('format = 1\n[pool]\nstrategy = "dynamic"\n', encoding="utf-8")
    assert main(["export", "keda", str(threshold)]) == 2
    err = capsys.readouterr().err
    assert "no Kubernetes HPA equivalent" in err and "Traceback" not in err


@pytest.mark.parametrize("service", [pytest.param("postgres", marks=needs("postgres"))])
@pytest.mark.asyncio
async def test_the_postgresql_query_counts_ready_tasks(service: str) -> None:
    # the exported trigger's query against QueueLab's own table: ready tasks only (a claimed
    # one and one waiting out a retry delay are not counted), and only this queue's
    import asyncpg

    from queuelab.backends import open_queue
    from queuelab.core.task import Task

    name = f"keda-{os.getpid()}-{secrets.token_hex(3)}"
    url = f"postgresql://postgres@127.0.0.1:5432/test?queue={name}"
    queue = open_queue(url)
    await queue.open()
    try:
        await queue.purge()
        for i in range(4):
            await queue.enqueue(Task(id=f"t{i}", payload={}, priority=0, created_at=0.0))
        await queue.enqueue(Task(id="later", payload={}, priority=0, created_at=0.0),
                            delay=600.0)
        assert len(await queue.claim(60.0)) == 1
        text, _ = export_scaled_object(keda_scenario(url), None)
        query = yaml.safe_load(text)["spec"]["triggers"][0]["metadata"]["query"]
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            assert await conn.fetchval(query) == 3 == (await queue.counts()).ready
        finally:
            await conn.close()
    finally:
        await queue.purge()
        await queue.close()


STREAM_BACKENDS = ["sqs://jobs?region=eu-west-1&endpoint=http://127.0.0.1:5000",
                   "sqs://jobs?region=eu-west-1&discipline=priority&levels=4",
                   "nats://127.0.0.1:4222?queue=jobs",
                   "nats://127.0.0.1:4222?queue=jobs&discipline=priority"]


def _trigger_of(backend: str, **pool: object) -> tuple[str, dict]:
    text, _ = export_scaled_object(keda_scenario(backend, **pool), None)
    doc = yaml.safe_load(text)
    assert violations(doc, SCALED_OBJECT) == []
    assert scaler_violations(doc) == []
    (trigger,) = doc["spec"]["triggers"]
    return text, trigger


def test_the_scaler_schema_catches_wrong_metadata() -> None:
    _, sqs = _trigger_of(STREAM_BACKENDS[0])
    _, nats = _trigger_of(STREAM_BACKENDS[2])
    del sqs["metadata"]["queueURL"]
    sqs["metadata"]["scaleOnInFlight"] = "no"
    nats["metadata"]["lagTreshold"] = nats["metadata"].pop("lagThreshold")
    found = scaler_violations({"spec": {"triggers": [sqs, nats]}})
    assert len(found) == 4, found


def _sqs_options(url: str) -> SqsOptions:
    queue = open_queue(url)  # not opened: the options as the backend reads the URL
    assert isinstance(queue, SqsQueue)
    return queue.options


def test_sqs_trigger_names_the_queue_the_backend_creates() -> None:
    text, fifo = _trigger_of(STREAM_BACKENDS[0])
    opts = _sqs_options(STREAM_BACKENDS[0])
    assert fifo["type"] == "aws-sqs-queue"
    assert fifo["metadata"] == {
        "queueURL": opts.work_queues()[0], "awsRegion": "eu-west-1", "queueLength": "5",
        "activationQueueLength": "2", "scaleOnInFlight": "false"}  # fmt: skip
    assert "# The scenario's SQS endpoint was http://127.0.0.1:5000" in text
    assert "#   name: YOUR-TRIGGER-AUTHENTICATION" in text
    text, prio = _trigger_of(STREAM_BACKENDS[1])
    names = _sqs_options(STREAM_BACKENDS[1]).work_queues()
    assert prio["metadata"]["queueURL"] == names[-1] == "jobs-p0"  # level 0, polled last
    assert "(jobs-p0 .. jobs-p3)" in text and "watches level 0" in text


def test_nats_trigger_names_the_stream_and_consumer_the_backend_declares() -> None:
    for backend in STREAM_BACKENDS[2:]:
        text, trigger = _trigger_of(backend)
        queue = open_queue(backend)
        assert isinstance(queue, NatsQueue)
        meta = trigger["metadata"]
        assert trigger["type"] == "nats-jetstream"
        assert meta["stream"] == queue.stream
        assert meta["consumer"] == queue._consumer(queue.subjects[-1])  # level 0 or the one
        assert (meta["lagThreshold"], meta["activationLagThreshold"]) == ("5", "2")
        assert (meta["natsServerMonitoringEndpoint"], meta["account"]) == (
            "127.0.0.1:8222", "$G")
        assert ("watches level 0" in text) == (len(queue.subjects) > 1)


def test_stream_triggers_never_carry_credentials() -> None:
    text, _ = _trigger_of("nats://alice:s3cret@127.0.0.1:4222?queue=jobs")
    assert "s3cret" not in text and "alice" not in text
    text, _ = _trigger_of("sqs://jobs?endpoint=http://bob:s3cret@127.0.0.1:5000&region=eu-west-1")
    assert "s3cret" not in text and "bob" not in text


@pytest.mark.parametrize("backend", STREAM_BACKENDS)
def test_stream_triggers_round_trip_byte_stable(backend: str) -> None:
    scenario = keda_scenario(backend, target_per_worker=7.5, activation=3.0)
    first, _ = export_scaled_object(scenario, None)
    imported = import_scaled_object(first, replace(
        scenario, pool=replace(scenario.pool, target_per_worker=1.0, activation=0.0)))
    assert imported.warnings == []
    assert (imported.scenario.pool.target_per_worker, imported.scenario.pool.activation) == (
        7.5, 3.0)
    assert export_scaled_object(imported.scenario, None)[0] == first


def test_import_reads_stream_triggers_and_keda_defaults() -> None:
    head = "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec:\n  triggers:\n"
    sqs = import_scaled_object(
        head + "  - type: aws-sqs-queue\n    metadata: {queueURL: q, awsRegion: eu-west-1}\n",
        Scenario())
    assert (sqs.scenario.pool.target_per_worker, sqs.scenario.pool.activation) == (5.0, 0.0)
    assert any("scaleOnInFlight" in w for w in sqs.warnings)  # KEDA counts in-flight by default
    nats = import_scaled_object(
        head + "  - type: nats-jetstream\n    metadata: {stream: s, consumer: c, "
        "lagThreshold: '12', activationLagThreshold: '4'}\n", Scenario())
    assert (nats.scenario.pool.target_per_worker, nats.scenario.pool.activation) == (12.0, 4.0)
    with pytest.raises(KedaFileError, match=r"metadata\.lagThreshold: required"):
        import_scaled_object(head + "  - type: nats-jetstream\n    metadata: {stream: s}\n",
                             Scenario())
