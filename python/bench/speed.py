"""recstore's Python package against Python's sqlite3, from one thread
(issue 23, "Speed"). Run with a release build installed:

    pip install ./python && python python/bench/speed.py            # 200,000 items
    python python/bench/speed.py --items 20000                      # smoke run

The workload follows tools/common/workload.rs in spirit (seeded, so every
run stores the same items): items of about 512 bytes of JSON with explicit
ids, one of 10 types and 1,000 sources, 1 to 3 of 50 tags weighted 1/(k+1),
20% with parents; then N/4 updates (new versions of random ids). SQLite:
WAL, synchronous=FULL, 1,000 items per transaction, indices on id, type,
source and tag, the latest version kept in its own table. recstore: sync
"always". Both sides return Python objects (SQLite's JSON text goes through
json.loads). Prints a table; --json prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import string
import sys
import tempfile
import time

import recstore

TYPES = [f"type_{i}" for i in range(10)]
SOURCES = [f"source_{i}" for i in range(1000)]
TAGS = [f"tag_{i}" for i in range(50)]
TAG_WEIGHTS = [1 / (k + 1) for k in range(50)]
BATCH = 1000
ITEM_BYTES = 512


def make_items(count: int, seed: int = 7):
    rng = random.Random(seed)
    items = []
    for n in range(count):
        data = {"seq": n, "revision": 0, "sensor": f"sensor-{rng.randrange(500)}", "values": [rng.random() for _ in range(8)]}
        pad = ITEM_BYTES - len(json.dumps(data, separators=(",", ":"))) - 10
        data["note"] = "".join(rng.choices(string.ascii_lowercase, k=max(pad, 1)))
        tags = sorted(set(rng.choices(TAGS, TAG_WEIGHTS, k=rng.randint(1, 3))))
        meta = {"id": f"item-{n:08}", "type": rng.choice(TYPES), "source_id": rng.choice(SOURCES), "tags": tags}
        if n > 0 and rng.random() < 0.2:
            meta["parents"] = [f"item-{rng.randrange(n):08}"]
        items.append({"data": data, "metadata": meta})
    updates = []
    for r in range(count // 4):
        base = items[rng.randrange(count)]
        data = dict(base["data"], revision=r + 1, values=[rng.random() for _ in range(8)])
        updates.append({"data": data, "metadata": base["metadata"]})
    return items, updates


SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE versions (id TEXT, version INTEGER, timestamp REAL, data TEXT, PRIMARY KEY (id, version));
CREATE TABLE latest (id TEXT PRIMARY KEY, version INTEGER, type TEXT, source TEXT);
CREATE TABLE tags (id TEXT, tag TEXT);
CREATE INDEX latest_type ON latest(type);
CREATE INDEX latest_source ON latest(source);
CREATE INDEX tags_tag ON tags(tag, id);
CREATE INDEX tags_id ON tags(id);
"""


def sqlite_ingest(db, items):
    cur = db.cursor()
    for start in range(0, len(items), BATCH):
        cur.execute("BEGIN")
        for item in items[start : start + BATCH]:
            meta = item["metadata"]
            row = cur.execute("SELECT version FROM latest WHERE id = ?", (meta["id"],)).fetchone()
            version = row[0] + 1 if row else 1
            cur.execute(
                "INSERT INTO versions VALUES (?, ?, ?, ?)",
                (meta["id"], version, time.time(), json.dumps(item["data"], separators=(",", ":"), sort_keys=True)),
            )
            cur.execute("INSERT OR REPLACE INTO latest VALUES (?, ?, ?, ?)", (meta["id"], version, meta["type"], meta["source_id"]))
            if version == 1:
                cur.executemany("INSERT INTO tags VALUES (?, ?)", [(meta["id"], t) for t in meta["tags"]])
        cur.execute("COMMIT")


def timed(call):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def run(count: int):
    items, updates = make_items(count)
    tmp = tempfile.TemporaryDirectory(prefix="recstore-pybench-")
    db = sqlite3.connect(f"{tmp.name}/bench.db", isolation_level=None)
    db.executescript(SCHEMA)
    store = recstore.Store(f"{tmp.name}/store", sync="always")
    results = {}

    def put_all(batch_items):
        for start in range(0, len(batch_items), BATCH):
            store.put_many(batch_items[start : start + BATCH])

    t_rec, _ = timed(lambda: put_all(items))
    t_sql, _ = timed(lambda: sqlite_ingest(db, items))
    put_all(updates)
    sqlite_ingest(db, updates)
    results["put_many ingest (items/s)"] = (count / t_rec, count / t_sql, 5)

    rng = random.Random(11)
    ids = [f"item-{rng.randrange(count):08}" for _ in range(min(count, 20000))]
    t_rec, _ = timed(lambda: [store.retrieve(i) for i in ids])
    q = "SELECT v.data FROM latest l JOIN versions v ON v.id = l.id AND v.version = l.version WHERE l.id = ?"
    t_sql, _ = timed(lambda: [json.loads(db.execute(q, (i,)).fetchone()[0]) for i in ids])
    results["retrieve latest (reads/s)"] = (len(ids) / t_rec, len(ids) / t_sql, 5)

    updated = sorted({u["metadata"]["id"] for u in updates})[: len(ids)]
    t_rec, _ = timed(lambda: [store.retrieve(i, 1) for i in updated])
    q = "SELECT data FROM versions WHERE id = ? AND version = 1"
    t_sql, _ = timed(lambda: [json.loads(db.execute(q, (i,)).fetchone()[0]) for i in updated])
    results["retrieve version 1 (reads/s)"] = (len(updated) / t_rec, len(updated) / t_sql, 5)

    pairs = [(t, g) for t in TYPES for g in TAGS[:5]]
    t_rec, rows_rec = timed(lambda: sum(len(list(store.retrieve_by_query({"type": t, "tag": g}))) for t, g in pairs))
    q = (
        "SELECT l.id, v.data FROM tags g JOIN latest l ON l.id = g.id "
        "JOIN versions v ON v.id = l.id AND v.version = l.version WHERE g.tag = ? AND l.type = ? ORDER BY l.id"
    )
    t_sql, rows_sql = timed(lambda: sum(len([(i, json.loads(d)) for i, d in db.execute(q, (g, t))]) for t, g in pairs))
    assert rows_rec == rows_sql, (rows_rec, rows_sql)
    results["query type+tag with data (rows/s)"] = (rows_rec / t_rec, rows_sql / t_sql, 10)

    import pandas

    t_export, frame = timed(lambda: store.export_to_dataframe())
    t_build, built = timed(
        lambda: pandas.DataFrame(
            [{"id": i, "data": json.dumps(d, separators=(",", ":"), sort_keys=True)} for i, d in store.retrieve_by_query()]
        )
    )
    assert len(frame) == len(built) == count
    results["DataFrame of all items (frames/s)"] = (1 / t_export, 1 / t_build, 10)
    store.close()
    db.close()
    tmp.cleanup()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.items)
    if args.json:
        print(json.dumps({k: {"recstore": a, "baseline": b, "ratio": a / b, "target": t} for k, (a, b, t) in results.items()}))
        return 0
    print(f"{args.items} items, one Python thread; baseline: sqlite3 (last row: DataFrame from retrieve_by_query)")
    print(f"{'measure':36} {'recstore':>12} {'baseline':>12} {'ratio':>7} {'target':>7}")
    for name, (mine, theirs, target) in results.items():
        verdict = "ok" if mine / theirs >= target else "MISS"
        print(f"{name:36} {mine:12.1f} {theirs:12.1f} {mine / theirs:6.1f}x {target:>5}x {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
