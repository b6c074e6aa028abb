"""Local generation side by side: bellhop (Candle) and llama-cpp-python on the same GGUF
file, the same prompt, the same number of threads, in one run.

Measures load time, time to first token for a prompt of about 500 tokens, and decode speed
(tokens/s after the first token), as medians over --runs runs, and writes the JSON to
bench/generate/results-<date>.json. bench/generate/run.sh builds and installs both, then runs
this.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Must equal FILLER in crates/bellhop-generate/examples/generate_bench.rs: both engines see
# the same messages, rendered by the same chat template from the GGUF metadata.
FILLER = (
    "The Harbour View Hotel has 120 rooms over six floors. Breakfast is served "
    "from 6:30 to 10:30 in the Atrium restaurant. The outdoor pool is heated to 28 degrees and open "
    "from 7:00 to 21:00. Parking in the garage costs 25 euros per night. "
)
QUESTION = "Write a long, detailed description of the hotel."


def run_bellhop(model: Path, prompt_tokens: int, new_tokens: int, runs: int) -> dict:
    binary = REPO_ROOT / "target/release/examples/generate_bench"
    out = subprocess.run(
        [str(binary), str(model), str(prompt_tokens), str(new_tokens), str(runs)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_llama_cpp(
    model: Path, filler_repeats: int, new_tokens: int, runs: int, threads: int
) -> dict:
    from llama_cpp import Llama, __version__

    started = time.perf_counter()
    llm = Llama(
        model_path=str(model),
        n_ctx=2048,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    load_ms = (time.perf_counter() - started) * 1e3
    messages = [
        {"role": "system", "content": "Sources:\n" + FILLER * filler_repeats},
        {"role": "user", "content": QUESTION},
    ]
    ttft, speed, generated = [], [], 0
    for _ in range(runs):
        # Forget the previous run's KV cache, or the repeated prompt would not be evaluated.
        llm.reset()
        started = time.perf_counter()
        first = None
        tokens = 0
        for chunk in llm.create_chat_completion(
            messages=messages, max_tokens=new_tokens, temperature=0.0, stream=True
        ):
            if chunk["choices"][0]["delta"].get("content"):
                tokens += 1
                if first is None:
                    first = time.perf_counter() - started
        total = time.perf_counter() - started
        ttft.append(first * 1e3)
        speed.append((tokens - 1) / (total - first))
        generated = tokens
    prompt = llm.create_chat_completion(messages=messages, max_tokens=1)["usage"]["prompt_tokens"]
    return {
        "engine": f"llama-cpp-python {__version__}",
        "load_ms": load_ms,
        "prompt_tokens": prompt,
        "generated_tokens": generated,
        "ttft_ms_median": statistics.median(ttft),
        "tokens_per_second_median": statistics.median(speed),
        "runs": runs,
        "threads": threads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model", type=Path, default=REPO_ROOT / "models/qwen2.5-0.5b-instruct-q4_k_m.gguf"
    )
    parser.add_argument("--prompt-tokens", type=int, default=500)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    threads = os.cpu_count() or 1

    bellhop = run_bellhop(args.model, args.prompt_tokens, args.new_tokens, args.runs)
    llama = run_llama_cpp(
        args.model, bellhop["filler_repeats"], args.new_tokens, args.runs, threads
    )
    results = {
        "date": datetime.date.today().isoformat(),
        "model": args.model.name,
        "results": [bellhop, llama],
    }
    out = REPO_ROOT / "bench" / "generate" / f"results-{results['date']}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")

    print("| engine | load (ms) | prompt tokens | TTFT (ms) | tokens/s |")
    print("|---|---:|---:|---:|---:|")
    for r in (bellhop, llama):
        print(
            f"| {r['engine']} | {r['load_ms']:.0f} | {r['prompt_tokens']} | "
            f"{r['ttft_ms_median']:.0f} | {r['tokens_per_second_median']:.1f} |"
        )
    ratio = llama["tokens_per_second_median"] / bellhop["tokens_per_second_median"]
    print(
        f"\nllama.cpp decodes {ratio:.2f}x as fast as bellhop; "
        f"prefill (TTFT) ratio {bellhop['ttft_ms_median'] / llama['ttft_ms_median']:.2f}x"
    )


if __name__ == "__main__":
    main()
