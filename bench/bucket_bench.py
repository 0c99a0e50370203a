"""Buckets: how soon an upload starts its function, how many small uploads a second are stored
with their event, and large objects in and out, each beside what the disk itself allows."""

import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from common import (GUESTS, GUST, UNCAPPED_BACKLOG, admin_of, free_port, gust_server,
                    percentile)

MIB = 1024 * 1024
PART = 8 * MIB
PUT_SCRIPT = """
wrk.method = "PUT"
wrk.body = string.rep("x", 1024)
"""


@contextmanager
def s3_node(*extra_args):
    """A Gust server with its S3 endpoint; yields the admin API, a boto3 client and a CLI
    runner."""
    import boto3
    from botocore.config import Config

    s3_port = free_port()
    with gust_server("--s3-listen", f"127.0.0.1:{s3_port}", *UNCAPPED_BACKLOG,
                     *extra_args) as (proc, url):
        admin = admin_of(proc, url)
        data = Path(proc.args[proc.args.index("--data-dir") + 1])
        pairs = dict(line.split(" = ") for line in
                     (data / "s3-credentials").read_text().splitlines() if " = " in line)
        client = boto3.client(
            "s3", endpoint_url=f"http://127.0.0.1:{s3_port}", region_name="us-east-1",
            aws_access_key_id=pairs["aws_access_key_id"],
            aws_secret_access_key=pairs["aws_secret_access_key"],
            config=Config(retries={"max_attempts": 1}))
        env = dict(os.environ, GUST_SERVER=admin.base, GUST_DATA_DIR=str(data))

        def cli(*args):
            subprocess.run([GUST, *args], check=True, capture_output=True, env=env)

        yield admin, client, cli, data


def watched_bucket(cli, bucket):
    """`bucket`, with the stamp probe triggered by every upload to it."""
    cli("bucket", "create", bucket)
    cli("deploy", "stamp", GUESTS / "stamp.wasm")
    cli("trigger", "add", "stamp", "--bucket", bucket, "--events", "created")


def stamps(admin, count):
    """The probe's log: key → when it started (µs since the epoch), once it has `count`."""
    import urllib.request

    deadline = time.time() + 60
    while True:
        request = urllib.request.Request(
            f"{admin.base}/v1/functions/stamp/logs?limit=10000",
            headers={"Authorization": f"Bearer {admin.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            lines = [json.loads(line)["line"] for line in response.read().decode().splitlines()]
        found = dict(line.split(" ") for line in lines)
        if len(found) >= count or time.time() > deadline:
            return {key: int(us) for key, us in found.items()}
        time.sleep(0.2)


def start_latency(samples):
    """Upload-to-function-start, one upload at a time: from the 200 of a PutObject (1 KiB)
    to the start of the function its event invokes, on the same clock."""
    with s3_node() as (admin, client, cli, _):
        watched_bucket(cli, "probe")
        client.put_object(Bucket="probe", Key="warm-up", Body=b"x")
        stamps(admin, 1)
        answered = {}
        for i in range(samples):
            key = f"k{i}"
            client.put_object(Bucket="probe", Key=key, Body=b"x" * 1024)
            answered[key] = time.time_ns() // 1000
            time.sleep(0.05)
        started = stamps(admin, samples + 1)
    waits = sorted((started[key] - at) / 1000 for key, at in answered.items())
    return {"p50_ms": percentile(waits, 0.5), "p99_ms": percentile(waits, 0.99),
            "samples": len(waits)}


def durable_file_rate(folder, seconds, writers=32):
    """The disk's rate for what one small upload must make durable at the least (a 1 KiB
    file written, synced, named, and its folder synced), by as many writers as connections."""
    directory = os.open(folder, os.O_RDONLY)
    end = time.time() + seconds
    counts = [0] * writers

    def write(writer):
        while time.time() < end:
            path = os.path.join(folder, f"w{writer}-{counts[writer]}")
            with open(path + ".tmp", "wb") as f:
                f.write(b"x" * 1024)
                f.flush()
                os.fsync(f.fileno())
            os.rename(path + ".tmp", path)
            os.fsync(directory)
            counts[writer] += 1

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.close(directory)
    return sum(counts) / seconds


def small_puts(seconds):
    """PutObject of 1 KiB at 32 connections (wrk on a presigned URL), each 200 with its event
    committed: on a node that only stores events, and on one whose workers also run them."""
    script = Path(tempfile.mkdtemp()) / "put.lua"
    script.write_text(PUT_SCRIPT)
    rates = {}
    for label, extra in (("events stored", ("--async-workers", "0")),
                         ("events stored and run", ())):
        with s3_node(*extra) as (_, client, cli, data):
            watched_bucket(cli, "small")
            url = client.generate_presigned_url(
                "put_object", Params={"Bucket": "small", "Key": "one-kib"}, ExpiresIn=3600)
            out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", script, url],
                                 check=True, capture_output=True, text=True).stdout
            if "Non-2xx" in out:
                raise RuntimeError(f"a small PUT was refused:\n{out}")
            rates[label] = float(out.split("Requests/sec:")[1].split()[0])
            reference = data / "fsync-probe"
            reference.mkdir()
            rates["disk"] = durable_file_rate(reference, min(seconds, 5))
    return rates


def disk_write_rate(folder, size):
    """MB/s of writing `size` bytes as 8 MiB files, each synced: the parts' own cost."""
    chunk = os.urandom(PART)
    start = time.perf_counter()
    for i in range(size // PART):
        with open(os.path.join(folder, f"part{i}"), "wb") as f:
            f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
    return size / MIB / (time.perf_counter() - start)


def drop_cached(folder):
    """Drops the page cache of every file in `folder`: what is read next comes off the disk."""
    for entry in os.scandir(folder):
        fd = os.open(entry.path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)


def disk_read_rate(folder, size):
    """MB/s of reading those files back from the disk."""
    drop_cached(folder)
    start = time.perf_counter()
    for i in range(size // PART):
        with open(os.path.join(folder, f"part{i}"), "rb") as f:
            while f.read(MIB):
                pass
    return size / MIB / (time.perf_counter() - start)


def large_objects(size_mb, runs):
    """A `size_mb` object uploaded in 8 MiB parts (boto3, 4 parts at once) and read back whole
    (curl on a presigned GET), beside the disk writing and reading the same bytes."""
    from boto3.s3.transfer import TransferConfig

    size = size_mb * MIB
    transfer = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART,
                              max_concurrency=4)
    put, get, disk_write, disk_read = [], [], [], []
    with s3_node() as (_, client, cli, data):
        cli("bucket", "create", "large")
        source = data / "source.bin"
        source.write_bytes(os.urandom(size))
        reference = data / "disk-probe"
        reference.mkdir()
        for run in range(runs):
            start = time.perf_counter()
            client.upload_file(str(source), "large", f"object{run}", Config=transfer)
            put.append(size_mb / (time.perf_counter() - start))
            url = client.generate_presigned_url(
                "get_object", Params={"Bucket": "large", "Key": f"object{run}"}, ExpiresIn=600)
            drop_cached(data / "objects")
            start = time.perf_counter()
            subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=True)
            get.append(size_mb / (time.perf_counter() - start))
            disk_write.append(disk_write_rate(reference, size))
            disk_read.append(disk_read_rate(reference, size))
    median = statistics.median
    return {"size_mb": size_mb, "put": median(put), "get": median(get),
            "disk_write": median(disk_write), "disk_read": median(disk_read), "runs": runs}


def format_buckets(latency, small, large):
    return "\n".join([
        "| measure | Gust | reference |",
        "|---|---|---|",
        f"| upload-to-function-start, p50 / p99 ({latency['samples']} uploads) | "
        f"{latency['p50_ms']:.1f} / {latency['p99_ms']:.1f} ms | "
        "S3 notifications to Lambda: hundreds of ms or more |",
        f"| PutObject 1 KiB/s with its event, events stored | {small['events stored']:,.0f} | "
        f"disk: {small['disk']:,.0f} durable 1 KiB files/s by 32 writers (write, fsync, "
        "rename, fsync folder) |",
        f"| PutObject 1 KiB/s with its event, events stored and run | "
        f"{small['events stored and run']:,.0f} | |",
        f"| multipart PUT of {large['size_mb']} MiB (8 MiB parts, 4 at once) | "
        f"{large['put']:,.0f} MB/s ({large['put'] / large['disk_write']:.0%}) | "
        f"disk: {large['disk_write']:,.0f} MB/s writing 8 MiB files, each fsynced |",
        f"| GET of {large['size_mb']} MiB | {large['get']:,.0f} MB/s "
        f"({large['get'] / large['disk_read']:.0%}) | "
        f"disk: {large['disk_read']:,.0f} MB/s reading them back |",
    ])
