"""The local Apache Kafka broker: KRaft, one combined broker and controller.

Kafka's jars come from Maven (``infra/kafka/pom.xml``) into the ignored cache
folder; the machine's Java runs ``kafka.Kafka`` on that classpath. Storage is
formatted on the first start only, so topics and offsets survive ``down``/``up``
and a SIGKILL of the broker.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from schemas.topics import TOPICS, TopicSpec
from services.core.settings import PROJECT_ROOT
from services.stack.proc import ManagedProcess, StackError, port_open, wait_until

KAFKA_VERSION = "4.1.1"
POM = PROJECT_ROOT / "infra" / "kafka" / "pom.xml"
LOG4J_CONFIG = PROJECT_ROOT / "infra" / "kafka" / "log4j2.yaml"


@dataclass(frozen=True)
class KafkaConfig:
    """Where the local broker keeps its state and listens."""

    state_dir: Path
    cache_dir: Path
    port: int
    controller_port: int
    heap: str = "768m"

    @property
    def home(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def libs(self) -> Path:
        return self.cache_dir / "kafka-libs" / KAFKA_VERSION

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("kafka", self.state_dir)


def ensure_jars(cfg: KafkaConfig) -> Path:
    """Resolve Kafka's jars with Maven into the cache, once; return the folder."""
    marker = cfg.libs / ".complete"
    if marker.exists():
        return cfg.libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("Maven (mvn) is needed to fetch Kafka's jars; install it first")
    print(
        f"kafka: resolving Apache Kafka {KAFKA_VERSION} jars with Maven (first run only)…",
        flush=True,
    )
    cfg.libs.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(  # noqa: S603
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(POM),
            f"-Dmaven.repo.local={cfg.cache_dir / 'm2'}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={cfg.libs}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"Maven could not resolve Kafka's jars:\n{result.stdout}\n{result.stderr}")
    marker.touch()
    return cfg.libs


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError("Java 17 (java) is needed to run the local Kafka broker")
    return java


def _server_properties(cfg: KafkaConfig) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{cfg.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{cfg.port},CONTROLLER://127.0.0.1:{cfg.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{cfg.port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={cfg.home / 'data'}",
            "num.partitions=3",
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=12",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            # A test suite and a laptop want a group to form at once, not after 3 s.
            "group.initial.rebalance.delay.ms=0",
            "message.max.bytes=4194304",
            "log.retention.check.interval.ms=300000",
            "",
        ]
    )


def _classpath(cfg: KafkaConfig) -> str:
    return str(cfg.libs / "*")


def new_cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A cluster id as Kafka's own ``Uuid.randomUuid`` makes them.

    Base64url of 16 random bytes, drawn again when the text starts with "-":
    the storage tool would read such an id (1 in 64) as an option and refuse it.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(random_bytes()).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _format_storage(cfg: KafkaConfig, props: Path) -> None:
    meta = cfg.home / "data" / "meta.properties"
    if meta.exists():
        return
    cluster_id = new_cluster_id()
    result = subprocess.run(  # noqa: S603
        [
            _java(),
            "-Xmx256m",
            "-cp",
            _classpath(cfg),
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(props),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"formatting Kafka storage failed:\n{result.stdout}\n{result.stderr}")


def start(cfg: KafkaConfig, *, timeout: float = 90.0) -> bool:
    """Start the broker unless it runs already, wait until it serves metadata.

    Returns True when this call started it. Idempotent; after a SIGKILL the
    stale pid file is ignored and the broker recovers its log on start.
    """
    proc = cfg.process
    if proc.is_running():
        _wait_ready(cfg, timeout=timeout)
        return False
    if port_open("127.0.0.1", cfg.port):
        raise StackError(f"port {cfg.port} is taken by another program; set PACKWATCH_KAFKA_PORT")
    ensure_jars(cfg)
    cfg.home.mkdir(parents=True, exist_ok=True)
    props = cfg.home / "server.properties"
    props.write_text(_server_properties(cfg))
    _format_storage(cfg, props)
    proc.start(
        [
            _java(),
            f"-Xmx{cfg.heap}",
            f"-Xms{cfg.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={cfg.home / 'logs'}",
            "-cp",
            _classpath(cfg),
            "kafka.Kafka",
            str(props),
        ]
    )
    _wait_ready(cfg, timeout=timeout)
    return True


def _wait_ready(cfg: KafkaConfig, *, timeout: float) -> None:
    proc = cfg.process
    wait_until(
        lambda: port_open("127.0.0.1", cfg.port),
        timeout=timeout,
        what="kafka",
        alive=proc.is_running,
        log=proc.log_tail,
    )
    asyncio.run(_wait_metadata(cfg.bootstrap, timeout))


async def _wait_metadata(bootstrap: str, limit_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.describe_cluster()
        except KafkaError as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise StackError(f"kafka at {bootstrap} does not answer: {exc!r}") from exc
            await asyncio.sleep(0.5)
        else:
            return
        finally:
            await admin.close()


def stop(cfg: KafkaConfig) -> bool:
    """Stop the broker (controlled shutdown on SIGTERM). True if it was running."""
    return cfg.process.stop(timeout=60)


async def ensure_topics(bootstrap: str, topics: tuple[TopicSpec, ...] = TOPICS) -> list[str]:
    """Create the declared topics that are missing; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=t.name,
                        num_partitions=t.partitions,
                        replication_factor=1,
                        topic_configs=t.configs(),
                    )
                    for t in missing
                ]
            )
        return [t.name for t in missing]
    finally:
        await admin.close()


async def list_topics(bootstrap: str) -> dict[str, int]:
    """Topic name → partition count, as the broker reports them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        described = await admin.describe_topics()
        return {d["topic"]: len(d["partitions"]) for d in described}
    finally:
        await admin.close()
