"""Embed a CSV of menu items with pandas, build a store, search it, evaluate retrieval.

    python examples/python/menu_store.py [--data-dir bellhop-data] [--dataset ../shared/data/msmarco-5k]

Then serve the same directory: `bellhop serve --data-dir bellhop-data`, and query it with
examples/python/ask_server.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import bellhop
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
MENU_CSV = ROOT / "examples" / "demo-hotel" / "dining" / "room-service-menu.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default="bellhop-data")
    parser.add_argument("--model", default=None, help="model directory or Hugging Face repo id")
    parser.add_argument("--dataset", default=None, help="a BEIR-layout dataset to evaluate on")
    args = parser.parse_args()

    # Allergens and dietary tags are `;`-separated in the CSV: as lists they filter with
    # `any` / `none`.
    menu = pd.read_csv(MENU_CSV)
    for column in ("allergens", "dietary"):
        menu[column] = menu[column].fillna("").map(lambda v: [t for t in v.split(";") if t])

    embedder = bellhop.Embedder(args.model)
    vectors = embedder.embed(menu["description"].tolist())
    print(f"{len(menu)} menu items -> vectors {vectors.shape} {vectors.dtype}")
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1)
    a, b = np.unravel_index(np.argmax(similarity), similarity.shape)
    print(f"most alike: {menu['name'][a]!r} and {menu['name'][b]!r} ({similarity[a, b]:.2f})")

    with bellhop.Store(args.data_dir, embedder=embedder) as store:
        receipt = store.add_documents(
            "room-service",
            menu,
            id_column="id",
            text_column=["name", "description"],
            title_column="name",
        )
        print(f"room-service: {receipt['documents']} documents, {receipt['chunks']} chunks")
        hits = store.search(
            "room-service",
            "something sweet without nuts",
            k=5,
            filter={"allergens": {"none": ["nuts", "peanuts"]}},
        )
        print(hits.to_pandas()[["title", "score", "metadata.price"]].to_string(index=False))
        if args.dataset:
            for mode, metrics in store.evaluate(args.dataset).items():
                print(
                    f"{mode:8} nDCG@10 {metrics['ndcg@10']:.4f}  Recall@10 {metrics['recall@10']:.4f}"
                )

    print(f"\nserve it: bellhop serve --data-dir {args.data_dir}")


if __name__ == "__main__":
    main()
