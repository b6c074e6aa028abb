"""bellhop.Embedder: vectors against sentence-transformers' reference and the CLI, array
layout, bad input, and the GIL released while Rust works."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import bellhop
import numpy as np
import pytest
import serving

REPO_ROOT = Path(__file__).resolve().parents[3]
MODEL_DIR = REPO_ROOT / "models" / "all-MiniLM-L6-v2"
REFERENCE = REPO_ROOT / "crates/bellhop-embed/tests/fixtures/reference-all-MiniLM-L6-v2.jsonl"


@pytest.fixture(scope="module")
def embedder() -> bellhop.Embedder:
    return bellhop.Embedder(str(MODEL_DIR))


def reference() -> tuple[list[str], np.ndarray]:
    records = [json.loads(line) for line in REFERENCE.read_text().splitlines() if line]
    texts = [record["text"] for record in records]
    vectors = np.array([record["embedding"] for record in records], dtype=np.float32)
    return texts, vectors


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_properties(embedder: bellhop.Embedder) -> None:
    assert embedder.dim == 384
    assert embedder.max_seq_length == 256
    assert embedder.model_id == "all-MiniLM-L6-v2"
    assert "all-MiniLM-L6-v2" in repr(embedder)
    assert embedder.count_tokens("is the pool heated?") == 7


def test_vectors_match_sentence_transformers(embedder: bellhop.Embedder) -> None:
    texts, expected = reference()
    vectors = embedder.embed(texts)
    cosines = row_cosines(vectors, expected)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.9999, f"text {texts[worst]!r}: cosine {cosines[worst]:.6f}"


def test_vectors_match_the_cli(embedder: bellhop.Embedder, tmp_path: Path) -> None:
    texts, _ = reference()
    texts = texts[:20]
    records = tmp_path / "texts.jsonl"
    records.write_text(
        "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts))
    )
    output = tmp_path / "vectors.npy"
    subprocess.run(
        [
            str(serving.binary_path(REPO_ROOT)),
            "embed",
            "--model",
            str(MODEL_DIR),
            "--input",
            str(records),
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    from_cli = np.load(output)
    assert from_cli.shape == (20, 384)
    assert row_cosines(embedder.embed(texts), from_cli).min() >= 0.99999


def test_array_layout(embedder: bellhop.Embedder) -> None:
    vectors = embedder.embed(["is the pool heated?", "room service menu without nuts?"])
    assert isinstance(vectors, np.ndarray)
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"] and vectors.flags["OWNDATA"] is not None
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_any_iterable_of_strings(embedder: bellhop.Embedder) -> None:
    texts = ["breakfast hours", "parking price"]
    from_list = embedder.embed(texts)
    np.testing.assert_array_equal(embedder.embed(tuple(texts)), from_list)
    np.testing.assert_array_equal(embedder.embed(iter(texts)), from_list)
    np.testing.assert_array_equal(embedder.embed(np.array(texts)), from_list)


def test_empty_input_gives_an_empty_matrix(embedder: bellhop.Embedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_batch_size_does_not_change_vectors(embedder: bellhop.Embedder) -> None:
    texts, _ = reference()
    texts = texts[:30]
    whole = embedder.embed(texts)
    batched = embedder.embed(texts, batch_size=7)
    assert row_cosines(whole, batched).min() >= 0.99999


def test_wrong_types_raise_type_error(embedder: bellhop.Embedder) -> None:
    with pytest.raises(TypeError, match="not a single string"):
        embedder.embed("is the pool heated?")
    with pytest.raises(TypeError, match=r"texts\[1\] must be a string, got int"):
        embedder.embed(["ok", 3])
    with pytest.raises(TypeError, match="must be a list of strings"):
        embedder.embed(42)


def test_invalid_batch_size_is_a_value_error(embedder: bellhop.Embedder) -> None:
    with pytest.raises(ValueError, match="batch_size") as info:
        embedder.embed(["x"], batch_size=0)
    assert isinstance(info.value, bellhop.BellhopError)


def test_matryoshka_sizes_come_from_the_model_card(
    embedder: bellhop.Embedder, tmp_path: Path
) -> None:
    assert embedder.matryoshka_dimensions == []
    with pytest.raises(ValueError, match="not trained to be shortened"):
        embedder.embed(["x"], dimensions=128)
    carded = tmp_path / "carded-model"
    shutil.copytree(MODEL_DIR, carded, ignore=shutil.ignore_patterns("model.safetensors"))
    (carded / "model.safetensors").symlink_to(MODEL_DIR / "model.safetensors")
    (carded / "README.md").write_text('"matryoshka_dims": [384, 256, 128]\n')
    shortened = bellhop.Embedder(str(carded))
    assert shortened.matryoshka_dimensions == [256, 128]
    full = shortened.embed(["is the pool heated?"])
    short = shortened.embed(["is the pool heated?"], dimensions=128)
    assert short.shape == (1, 128)
    np.testing.assert_allclose(np.linalg.norm(short, axis=1), 1.0, rtol=1e-5)
    prefix = full[:, :128] / np.linalg.norm(full[:, :128], axis=1, keepdims=True)
    np.testing.assert_allclose(short, prefix, atol=1e-6)
    with pytest.raises(ValueError, match="256, 128"):
        shortened.embed(["x"], dimensions=100)


def test_bf16_weights_stay_close_to_sentence_transformers() -> None:
    texts, expected = reference()
    kept = [i for i, text in enumerate(texts) if text.strip()]
    rounded = bellhop.Embedder(str(MODEL_DIR), precision="bf16")
    got = rounded.embed([texts[i] for i in kept])
    cosines = row_cosines(got, expected[kept])
    assert cosines.min() >= 0.9999, cosines.min()
    with pytest.raises(ValueError, match="bf16"):
        bellhop.Embedder(str(MODEL_DIR), precision="int4")


def test_missing_model_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config.json") as info:
        bellhop.Embedder(str(tmp_path / "no-such-model"))
    assert isinstance(info.value, bellhop.ModelNotFoundError)
    assert isinstance(info.value, bellhop.BellhopError)


def test_malformed_model_is_a_bellhop_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(MODEL_DIR, broken, ignore=shutil.ignore_patterns("model.safetensors"))
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(bellhop.BellhopError, match="model.safetensors"):
        bellhop.Embedder(str(broken))


def test_gil_is_released_while_embedding(embedder: bellhop.Embedder) -> None:
    """A pure-Python thread keeps running while another thread is inside `embed`."""
    texts = ["The heated indoor pool is open from seven until ten every day."] * 512
    ticks = 0
    embedding = threading.Event()
    finished = threading.Event()

    def count() -> None:
        nonlocal ticks
        embedding.wait()
        while not finished.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        started = time.perf_counter()
        embedding.set()
        embedder.embed(texts)
        elapsed = time.perf_counter() - started
    finally:
        finished.set()
        counter.join()
    # Holding the GIL for the whole call would leave the counter at a few switch-interval
    # slices at most; released, it counts all along (millions per second).
    assert elapsed > 0.2, "the batch was too small to tell"
    assert ticks > 100_000 * elapsed, f"{ticks} ticks in {elapsed:.2f} s"


def test_threads_embed_at_once_and_agree(embedder: bellhop.Embedder) -> None:
    """Four threads embedding single queries at once give the vectors the same calls give
    one after another. (That they run in parallel rather than in turn is what the GIL test
    above shows; how much faster is a benchmark's question, not a test's.)"""
    texts, _ = reference()
    queries = [texts[i % len(texts)] for i in range(80)]
    parts = [queries[i::4] for i in range(4)]

    def one_by_one(part: list[str]) -> np.ndarray:
        return np.vstack([embedder.embed([q]) for q in part])

    sequential = [one_by_one(part) for part in parts]
    threaded: list[np.ndarray | None] = [None] * 4

    def run(index: int) -> None:
        threaded[index] = one_by_one(parts[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for a, b in zip(sequential, threaded):
        assert b is not None
        assert row_cosines(a, b).min() >= 0.99999
