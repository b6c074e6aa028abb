"""Writes sentence-transformers' vectors for JSONL files of texts: the reference fixture.

Usage: python scripts/reference_vectors.py MODEL_DIR TEXTS.jsonl [TEXTS.jsonl ...] OUT.jsonl
           [--prompt-name NAME] [--digits N]

Each output line is {"text", "tokens" (count after truncation, prompt included), "embedding"}.
Run with the same model directory bellhop loads; the Rust tests compare against the output.

With --prompt-name the model's named prompt (config_sentence_transformers.json) is put before
every text, as `encode(..., prompt_name=NAME)` does. The prompt and the text are joined and then
stripped of surrounding whitespace, as sentence-transformers did up to 5.1 (the version
EmbeddingGemma was published with) and bellhop does; later versions no longer strip, so the
joined text is passed here as it would have been tokenized.

--digits rounds every vector component to that many significant digits, to keep fixtures small.
"""

import argparse
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sentence_transformers import SentenceTransformer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("paths", nargs="+", metavar="TEXTS.jsonl ... OUT.jsonl")
    parser.add_argument("--prompt-name", default=None)
    parser.add_argument("--digits", type=int, default=None)
    args = parser.parse_args()
    if len(args.paths) < 2:
        parser.error("give at least one texts file and the output file")
    *texts_paths, out_path = args.paths

    model = SentenceTransformer(args.model_dir, device="cpu")
    texts = []
    for path in texts_paths:
        with open(path, encoding="utf-8") as f:
            texts.extend(json.loads(line)["text"] for line in f if line.strip())
    prompt = model.prompts[args.prompt_name] if args.prompt_name else ""
    inputs = [(prompt + text).strip() for text in texts]
    # prompt="" keeps a default_prompt_name from adding a prompt of its own.
    vectors = model.encode(inputs, prompt="", batch_size=16, convert_to_numpy=True)
    features = model.preprocess(inputs)
    token_counts = features["attention_mask"].sum(dim=1).tolist()

    def component(value: float) -> float:
        return float(f"{value:.{args.digits}g}") if args.digits else float(value)

    with open(out_path, "w", encoding="utf-8") as f:
        for text, tokens, vector in zip(texts, token_counts, vectors):
            record = {
                "text": text,
                "tokens": int(tokens),
                "embedding": [component(v) for v in vector],
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(texts)} vectors of {vectors.shape[1]} dims to {out_path}")


if __name__ == "__main__":
    main()
