#!/usr/bin/env python3
"""Seeds the fuzz corpora (corpus/<target>/, gitignored) from bgp-proto/tests/data and
/work/shared/corpus (or $BGP_SHARED_CORPUS). Every decode seed is one context octet
(see fuzz_targets/common.rs) followed by one BGP message."""
import glob, gzip, bz2, hashlib, os, re, sys

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "tests", "data")
shared = os.environ.get("BGP_SHARED_CORPUS", "/work/shared/corpus")
roots = [r for r in (data, shared) if os.path.isdir(r)]


def put(target, blob):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(blob).hexdigest()), "wb") as f:
        f.write(blob)


def messages(stream):
    """Cuts a concatenation of BGP messages; stops at the first bad marker."""
    i = 0
    while i + 19 <= len(stream) and stream[i:i + 16] == b"\xff" * 16:
        n = int.from_bytes(stream[i + 16:i + 18], "big")
        if n < 19:
            break
        yield stream[i:i + n]
        i += n


def ctxs(name):
    addpath = "addpath" in name or "add_path" in name or "path-information" in name
    return [0x03 if addpath else 0x01, 0x00, 0x0d if addpath else 0x09]


count = {"msg": 0, "mrt": 0}


def msg(m, name):
    for c in ctxs(name):
        put("decode_message", bytes([c]) + m)
        put("roundtrip", bytes([c]) + m)
    count["msg"] += 1


for root in roots:
    for p in glob.glob(os.path.join(root, "**", "*.bgp"), recursive=True):
        for m in messages(open(p, "rb").read()):
            msg(m, p)
    for p in glob.glob(os.path.join(root, "**", "bad-len", "*"), recursive=True):
        msg(open(p, "rb").read(), p)
    for p in glob.glob(os.path.join(root, "**", "exabgp", "qa", "decoding", "*"), recursive=True) + glob.glob(
            os.path.join(root, "exabgp", "decoding", "*")):
        for line in open(p, errors="replace"):
            h = re.sub(r"[\s:]", "", line)
            if len(h) >= 38 and re.fullmatch(r"[0-9A-Fa-f]+", h) and len(h) % 2 == 0:
                b = bytes.fromhex(h)
                if not b.startswith(b"\xff" * 16):
                    b = b"\xff" * 16 + (len(b) + 19).to_bytes(2, "big") + b"\x02" + b
                msg(b, p)
    for p in glob.glob(os.path.join(root, "**", "*.ci"), recursive=True):
        for line in open(p, errors="replace"):
            parts = line.strip().split(":")
            if len(parts) == 6 and parts[1] == "raw":
                try:
                    msg(bytes.fromhex("".join(parts[2:])), p)
                except ValueError:
                    pass
    # MRT: uncompressed samples, and the small compressed ones (first 256 KiB).
    for p in glob.glob(os.path.join(root, "**", "*"), recursive=True):
        if not os.path.isfile(p) or os.path.getsize(p) > 4 << 20:
            continue
        base = os.path.basename(p)
        try:
            if p.endswith(".gz"):
                b = gzip.open(p).read(1 << 18)
            elif p.endswith(".bz2"):
                b = bz2.open(p).read(1 << 18)
            elif "mrtparse" in p or base.endswith("_bgp") or base.endswith("_rib"):
                b = open(p, "rb").read()
            else:
                continue
        except (OSError, EOFError):
            continue
        if "expect" in p:
            continue
        # Whole file (capped), and records one by one.
        put("mrt_reader", b[:1 << 16])
        i = 0
        while i + 12 <= len(b):
            n = int.from_bytes(b[i + 8:i + 12], "big")
            rec = b[i:i + 12 + n]
            put("mrt_reader", rec)
            count["mrt"] += 1
            # BGP messages inside BGP4MP records also seed the message targets.
            if int.from_bytes(b[i + 4:i + 6], "big") in (16, 17):
                k = rec.find(b"\xff" * 16)
                if k > 0:
                    for m in messages(rec[k:]):
                        msg(m, p)
            i += 12 + n
            if count["mrt"] % 1 == 0 and i > (1 << 18):
                break

print(f"seeded {count['msg']} messages, {count['mrt']} MRT records from {roots}", file=sys.stderr)
for t in ("decode_message", "roundtrip", "mrt_reader"):
    d = os.path.join(here, "corpus", t)
    print(t, len(os.listdir(d)) if os.path.isdir(d) else 0, file=sys.stderr)
