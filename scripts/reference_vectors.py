"""Writes sentence-transformers' vectors for a JSONL file of texts: the reference fixture.

Usage: python scripts/reference_vectors.py MODEL_DIR TEXTS.jsonl OUT.jsonl

Each output line is {"text", "tokens" (count after truncation), "embedding"}. Run with the
same model directory bellhop loads; the Rust tests compare against the output.
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sentence_transformers import SentenceTransformer  # noqa: E402


def main() -> None:
    model_dir, texts_path, out_path = sys.argv[1:4]
    model = SentenceTransformer(model_dir, device="cpu")
    with open(texts_path, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    vectors = model.encode(texts, batch_size=16, convert_to_numpy=True)
    features = model.tokenize(texts)
    token_counts = features["attention_mask"].sum(dim=1).tolist()
    with open(out_path, "w", encoding="utf-8") as f:
        for text, tokens, vector in zip(texts, token_counts, vectors):
            record = {"text": text, "tokens": int(tokens), "embedding": [float(v) for v in vector]}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(texts)} vectors of {vectors.shape[1]} dims to {out_path}")


if __name__ == "__main__":
    main()
