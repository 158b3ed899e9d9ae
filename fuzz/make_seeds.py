#!/usr/bin/env python3
"""make_seeds.py — writes the seed corpora of anila's fuzz targets (no binary blobs in git).

    fuzz/make_seeds.py OUT_DIR [--anila BUILD/anila]

OUT_DIR/<target>/ gets small valid inputs and a few near-misses for each target
(config, csv, idx, cifar, image, npy, checkpoint). With --anila, a tiny
`anila train` run provides a real checkpoint for the checkpoint target.
"""
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def config_seeds(out):
    write(out, "config", "rings.json", '{"seed": 1, "data": {"type": "rings"}, '
          '"sampler": {"type": "anila", "step_size": 1.0, "threshold": 0.01}, '
          '"train": {"iterations": 10, "batch_size": 8, "optimizer": {"type": "adam", "lr": 1e-4}}}')
    write(out, "config", "comments.json", '// a comment\n{"a": {"b": [1, 2, 3]}, /* x */ "c": null}')
    write(out, "config", "sets.json", '{"train": {"iterations": 5}}\n----\ntrain.iterations=7\n'
          'sampler.type=mala\nmodel.hidden=[8,8]\neval.every=1e3\ntrain.x.y=true')
    write(out, "config", "deep.json", "[" * 70 + "]" * 70)
    write(out, "config", "big.json", '{"seed": 1e400, "x": -1e309, "y": 123456789012345678901234567890}')
    write(out, "config", "bad.json", '{"a": [1, 2,, 3], "b": "\\ud800"}')


def csv_seeds(out):
    write(out, "csv", "plain.csv", "x,y\n0.5,1.0\n-2,3e-3\n1e38,-1e38\n")
    write(out, "csv", "comments.csv", "# points\n\n 1 , 2 \n3,4\r\n5,6\n")
    write(out, "csv", "bad.csv", "1,2\nnan,3\n1e300,2\n4\n1,2,3\n")


def idx_images(n, rows, cols):
    return struct.pack(">IIII", 2051, n, rows, cols) + bytes((i * 37) % 256 for i in range(n * rows * cols))


def idx_seeds(out):
    images = idx_images(3, 6, 5)
    labels = struct.pack(">II", 2049, 3) + bytes([1, 2, 3])
    # prefix: side byte, labels flag, images length (big-endian uint16)
    write(out, "idx", "with_labels", bytes([0, 1]) + struct.pack(">H", len(images)) + images + labels)
    write(out, "idx", "resize", bytes([5, 0, 0, 0]) + images)
    write(out, "idx", "gzip", bytes([0, 0, 0, 0]) + gzip.compress(images))
    write(out, "idx", "overflow", bytes([0, 0, 0, 0]) + struct.pack(">IIII", 2051, 0xffffffff, 0xffffffff, 0xffffffff))
    write(out, "idx", "labels_magic", bytes([0, 0, 0, 0]) + struct.pack(">II", 2049, 3) + bytes(3))


def cifar_seeds(out):
    record = lambda label: bytes([label]) + bytes((i * 7 + label) % 256 for i in range(3072))
    write(out, "cifar", "two", record(3) + record(9))
    write(out, "cifar", "bad_label", record(10))
    write(out, "cifar", "short", record(1)[:1000])


def png(width, height, rgb=True):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    channels = 3 if rgb else 1
    raw = b"".join(b"\x00" + bytes((x * 16 + y * 8) % 256 for x in range(width * channels)) for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2 if rgb else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def bmp(width, height):
    row = (width * 3 + 3) // 4 * 4
    pixels = b"".join(bytes((x + y) % 256 for x in range(width * 3)) + bytes(row - width * 3) for y in range(height))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def image_seeds(out):
    # byte 0: extension (0 png, 1 jpg, 2 bmp) | 0x80 for one channel
    write(out, "image", "rgb.png", b"\x00" + png(12, 10))
    write(out, "image", "grey.png", b"\x80" + png(9, 9, rgb=False))
    write(out, "image", "small.png", b"\x00" + png(4, 4))
    write(out, "image", "rgb.bmp", b"\x02" + bmp(10, 8))
    write(out, "image", "notajpeg", b"\x01\xff\xd8\xff\xe0" + bytes(40))


def npy(descr, shape, data):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    total = (10 + len(header) + 1 + 63) // 64 * 64
    header = header + " " * (total - 10 - len(header) - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def npy_seeds(out):
    write(out, "npy", "f4.npy", npy("<f4", "(2, 3)", struct.pack("<6f", *range(6))))
    write(out, "npy", "i8.npy", npy("<i8", "(3,)", struct.pack("<3q", 1, 2, 3)))
    write(out, "npy", "u1.npy", npy("|u1", "(2, 2, 2)", bytes(range(8))))
    write(out, "npy", "empty.npy", npy("<f8", "(0,)", b""))
    write(out, "npy", "big_shape.npy", npy("<f4", "(999999999999999, 999999999999999)", b""))


def checkpoint_payload(entries, data):
    header = {"format": "anila-checkpoint", "version": 1, "data_bytes": len(data),
              "entries": entries}
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + data


def checkpoint_seeds(out, anila):
    write(out, "checkpoint", "not_a_checkpoint", b"\x00ANILACK2" + bytes(30))
    # What the trainer reads, by hand: a model archive, an iteration, a generator state.
    rng = bytes(range(256)) * 19 + bytes(16)  # 5056 bytes, the CPU generator's state size
    entries = [
        {"path": ["model"], "archive": True},
        {"path": ["model", "weight"], "tensor": "float32", "shape": [2, 2], "offset": 0},
        {"path": ["model", "bias"], "tensor": "float32", "shape": [2], "offset": 16},
        {"path": ["optimizer"], "archive": True},
        {"path": ["optimizer", "pytorch_version"], "string": "1.5.0"},
        {"path": ["optimizer", "betas"], "tuple": [{"double": 0.9}, {"double": 0.999}]},
        {"path": ["optimizer", "params"], "strings": ["0x1", "0x2"]},
        {"path": ["optimizer", "step"], "int": 3},
        {"path": ["optimizer", "lr"], "double": "nan"},
        {"path": ["iteration"], "tensor": "int64", "shape": [], "offset": 24},
        {"path": ["rng_state"], "tensor": "uint8", "shape": [len(rng)], "offset": 32},
        {"path": ["flags"], "tensor": "bool", "shape": [2], "offset": 32 + len(rng)},
    ]
    data = struct.pack("<6f", 1, 2, 3, 4, 5, 6) + struct.pack("<q", 7) + rng + b"\x01\x00"
    write(out, "checkpoint", "by_hand", b"\x01" + checkpoint_payload(entries, data))
    if not anila:
        return
    tmp = tempfile.mkdtemp(prefix="anila-seeds-")
    try:
        cfg = os.path.join(tmp, "tiny.json")
        with open(cfg, "w") as f:
            f.write('{"data": {"type": "rings"}, "model": {"type": "mlp", "hidden": [8]}, '
                    '"chains": {"type": "persistent", "bank_size": 16}, '
                    '"train": {"iterations": 2, "batch_size": 8, "mcmc_steps": 2, "checkpoint_every": 1}, '
                    '"eval": {"every": 0, "samples": 16, "chains": 16, "resolution": 8, "n_data": 10, "n_mmd": 10}}')
        run = os.path.join(tmp, "run")
        subprocess.run([anila, "train", "--quiet", "--config", cfg, "--out", run], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(run, "checkpoints", "last.pt"), "rb") as f:
            whole = f.read()
        write(out, "checkpoint", "whole", b"\x00" + whole)
        write(out, "checkpoint", "payload", b"\x01" + whole[24:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    out, anila = args[0], None
    if "--anila" in args:
        anila = args[args.index("--anila") + 1]
    for target in ["config", "csv", "idx", "cifar", "image", "npy", "checkpoint"]:
        shutil.rmtree(os.path.join(out, target), ignore_errors=True)
    config_seeds(out)
    csv_seeds(out)
    idx_seeds(out)
    cifar_seeds(out)
    image_seeds(out)
    npy_seeds(out)
    checkpoint_seeds(out, anila)
    print("make_seeds: wrote", out)


if __name__ == "__main__":
    main()
