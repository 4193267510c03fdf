#!/usr/bin/env python3
"""Writes a synthetic backup of N keys in the exact format of GET /backup, for measuring restores.

    bench/make-backup.py 1000000 /tmp/backup-1m.ndjson [--value-size 100]

Keys key/0000000 .. (ASCII, so their order is code point order), versions 1..N, header index N,
digest as quorumkv.storage.StateDigest computes it (sum mod 2^64 of the first 8 bytes of
SHA-256(key NUL value)). Restoring it and taking `./kv backup` again gives the same bytes back.
"""
import argparse
import hashlib
import json

parser = argparse.ArgumentParser()
parser.add_argument("keys", type=int)
parser.add_argument("file")
parser.add_argument("--value-size", type=int, default=100)
args = parser.parse_args()

width = max(7, len(str(args.keys)))
digest = 0
lines = []
for i in range(args.keys):
    key = "key/%0*d" % (width, i)
    value = ("value-%d-" % i).ljust(args.value_size, "x")[: args.value_size]
    h = hashlib.sha256(key.encode() + b"\0" + value.encode()).digest()
    digest = (digest + int.from_bytes(h[:8], "big")) % (1 << 64)
    lines.append('{"key":%s,"value":%s,"version":%d}\n' % (json.dumps(key), json.dumps(value), i + 1))
with open(args.file, "w", encoding="utf-8") as out:
    out.write('{"index":%d,"keys":%d,"digest":"%016x"}\n' % (args.keys, args.keys, digest))
    out.writelines(lines)
