"""Prepares the ONNX Runtime peers of bench/embed.py: a copy of the model directory with an f32
ONNX export and an int8 dynamically quantized one, made offline and only when missing.

Usage: python bench/onnx_export.py [MODEL_DIR]

The copy lives outside the clone, in ~/.cache/bellhop/onnx/<model name>, because exporting
writes into the directory it loads from and the model directory is shared with bellhop's runs.
"""

import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
# File under <copy>/onnx/ for each sentence-transformers backend of bench/st_embed_bench.py.
# The int8 name is the one export_dynamic_quantized_onnx_model gives the avx512_vnni config.
FILES = {"onnx": "model.onnx", "onnx-int8": "model_qint8_avx512_vnni.onnx"}


def cache_dir(model_dir):
    """Where the ONNX copy of model_dir lives; named after the directory, as models/ names it."""
    name = os.path.basename(os.path.normpath(model_dir))
    return os.path.join(os.path.expanduser("~"), ".cache", "bellhop", "onnx", name)


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    os.environ["HF_HUB_OFFLINE"] = "1"
    dest = cache_dir(model_dir)
    f32, int8 = (os.path.join(dest, "onnx", FILES[k]) for k in ("onnx", "onnx-int8"))
    if os.path.isfile(f32) and os.path.isfile(int8):
        return
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        sys.exit(f"{model_dir}: not a model directory (no config.json)")

    if not os.path.isdir(dest):
        # Copied under another name first, so an interrupted copy is never taken for a whole one.
        partial = dest + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(model_dir, partial, ignore=shutil.ignore_patterns("onnx", "openvino"))
        os.rename(partial, dest)

    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    if not os.path.isfile(f32):
        print(f"exporting {model_dir} to {f32}", file=sys.stderr)
        model = SentenceTransformer(dest, device="cpu", backend="onnx", model_kwargs={"export": True, "provider": "CPUExecutionProvider"})
        # Saved aside and only onnx/ moved in, so the copy keeps the original's configuration
        # (tokenizer, pooling, sequence length) rather than this version's rewrite of it.
        with tempfile.TemporaryDirectory(dir=os.path.dirname(dest)) as saved:
            model.save_pretrained(saved)
            os.makedirs(os.path.join(dest, "onnx"), exist_ok=True)
            for name in os.listdir(os.path.join(saved, "onnx")):
                os.replace(os.path.join(saved, "onnx", name), os.path.join(dest, "onnx", name))
    if not os.path.isfile(int8):
        print(f"quantizing {f32} to {int8}", file=sys.stderr)
        model = SentenceTransformer(dest, device="cpu", backend="onnx",
                                    model_kwargs={"file_name": FILES["onnx"], "provider": "CPUExecutionProvider"})
        export_dynamic_quantized_onnx_model(model, "avx512_vnni", dest)
    for path in (f32, int8):
        if not os.path.isfile(path):
            sys.exit(f"{path} was not written")


if __name__ == "__main__":
    main()
