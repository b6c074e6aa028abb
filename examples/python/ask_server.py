"""Query a running `bellhop serve` with the Python client: search, then a streamed answer.

python examples/python/ask_server.py [--url http://127.0.0.1:8080] [--api-key KEY]
"""

from __future__ import annotations

import argparse

import bellhop
from bellhop.client import DeltaEvent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--collection", default="room-service")
    parser.add_argument("question", nargs="?", default="Is there a vegan dessert?")
    args = parser.parse_args()

    with bellhop.Client(args.url, api_key=args.api_key) as client:
        result = client.search(args.collection, args.question, k=3)
        for hit in result.hits:
            print(f"{hit.score:.3f}  {hit.title}: {hit.text[:80]}")
        print()
        for event in client.ask_stream(args.collection, args.question):
            if isinstance(event, DeltaEvent):
                print(event.text, end="", flush=True)
        print()


if __name__ == "__main__":
    main()
