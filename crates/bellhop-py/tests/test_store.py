"""bellhop.Store and bellhop.chunk: the on-disk store from Python, then the same data read by
the CLI and by a running server; bad input named case by case."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
from pathlib import Path

import bellhop
import pandas as pd
import polars as pl
import pytest
import serving

REPO_ROOT = Path(__file__).resolve().parents[3]
MODEL_DIR = REPO_ROOT / "models" / "all-MiniLM-L6-v2"
DEMO = REPO_ROOT / "examples" / "demo-hotel"

FACTS = [
    {
        "id": "pool",
        "title": "Indoor pool",
        "text": "The indoor pool is heated to 28 °C all year and open from 07:00 to 22:00.",
        "metadata": {"area": "wellness", "floor": -1},
    },
    {
        "id": "breakfast",
        "title": "Breakfast",
        "text": "Breakfast is served in the Harbour Restaurant from 06:30 to 10:30.",
        "metadata": {"area": "dining"},
    },
    {
        "id": "parking",
        "title": "Parking",
        "text": "The garage has 40 spaces and costs 18 euros per night.",
        "metadata": {"area": "services"},
    },
]

MENU = pd.DataFrame(
    {
        "sku": ["rs-1", "rs-2", "rs-3"],
        "name": ["Club sandwich", "Pad thai", "Fruit salad"],
        "description": [
            "Chicken, bacon, egg and lettuce on toasted bread",
            "Rice noodles with peanuts, tofu and lime",
            "Seasonal fruit with mint",
        ],
        "price": [14.5, 16.0, 7.5],
        "allergens": [["gluten", "eggs"], ["peanuts", "soy"], []],
        "vegan": [False, True, True],
    }
)


@pytest.fixture(scope="module")
def embedder() -> bellhop.Embedder:
    return bellhop.Embedder(str(MODEL_DIR))


@pytest.fixture()
def store(tmp_path: Path, embedder: bellhop.Embedder):
    with bellhop.Store(tmp_path / "data", embedder=embedder) as store:
        yield store


def test_documents_round_trip(store: bellhop.Store) -> None:
    info = store.create_collection("hotel", system_prompt="You are the concierge.")
    assert info["name"] == "hotel"
    assert info["model"] == "all-MiniLM-L6-v2"
    receipt = store.add_documents("hotel", FACTS)
    assert receipt["documents"] == 3 and receipt["chunks"] >= 3

    hits = store.search("hotel", "is the pool heated?", k=3)
    assert isinstance(hits, bellhop.Hits)
    assert isinstance(hits[0], bellhop.Hit)
    assert hits[0].document_id == "pool"
    assert hits[0].title == "Indoor pool"
    assert hits[0].metadata == {"area": "wellness", "floor": -1}
    assert {m.retriever for m in hits[0].found_by} == {"dense", "keyword"}

    frame = hits.to_pandas()
    assert list(frame["document_id"])[0] == "pool"
    assert "metadata.area" in frame.columns

    dense = store.search("hotel", "swimming", k=1, mode="dense")
    assert dense[0].document_id == "pool"
    keyword = store.search("hotel", "garage", k=5, mode="keyword")
    assert [hit.document_id for hit in keyword] == ["parking"]
    filtered = store.search("hotel", "opening hours", k=5, filter={"area": "dining"})
    assert [hit.document_id for hit in filtered] == ["breakfast"]

    assert store.document("hotel", "parking")["title"] == "Parking"
    assert [d["id"] for d in store.list_documents("hotel")] == ["breakfast", "parking", "pool"]
    assert store.delete_document("hotel", "parking")["removed"] == 1
    assert [c["name"] for c in store.list_collections()] == ["hotel"]
    assert store.collection("hotel")["documents"] == 2
    store.delete_collection("hotel")
    assert store.list_collections() == []


def test_replacing_a_document_replaces_its_chunks(store: bellhop.Store) -> None:
    store.add_documents("hotel", FACTS)
    store.add_documents(
        "hotel",
        [{"id": "pool", "title": "Outdoor pool", "text": "The outdoor pool is unheated."}],
    )
    hits = store.search("hotel", "pool", k=10, mode="keyword")
    assert [hit.title for hit in hits] == ["Outdoor pool"]


def test_pandas_dataframe_with_chosen_columns(store: bellhop.Store) -> None:
    receipt = store.add_documents(
        "menu",
        MENU,
        id_column="sku",
        text_column=["name", "description"],
        title_column="name",
    )
    assert receipt["documents"] == 3
    hits = store.search("menu", "noodles", k=1)
    assert hits[0].document_id == "rs-2"
    assert hits[0].title == "Pad thai"
    assert hits[0].text.startswith("name: Pad thai")
    assert hits[0].metadata == {"price": 16.0, "allergens": ["peanuts", "soy"], "vegan": True}
    cheap = store.search("menu", "something to eat", k=10, filter={"price": {"lte": 10}})
    assert [hit.document_id for hit in cheap] == ["rs-3"]
    nut_free = store.search(
        "menu", "something to eat", k=10, filter={"allergens": {"none": ["peanuts"]}}
    )
    assert sorted(hit.document_id for hit in nut_free) == ["rs-1", "rs-3"]


def test_polars_dataframe(store: bellhop.Store) -> None:
    frame = pl.DataFrame(
        {column: MENU[column].tolist() for column in ("sku", "name", "description", "price")}
    )
    receipt = store.add_documents(
        "menu", frame, id_column="sku", text_column="description", metadata_columns=["price"]
    )
    assert receipt["documents"] == 3
    hit = store.search("menu", "bacon sandwich", k=1)[0]
    assert hit.document_id == "rs-1"
    assert hit.metadata == {"price": 14.5}


def test_ingest_files_reports_each_file(store: bellhop.Store, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "spa.md").write_text("# Spa\n\n## Opening hours\n\nThe spa opens at 10:00.\n")
    (files / "broken.json").write_text('{"id": "x", "text": ')
    (files / "notes.xyz").write_text("ignored")
    report = store.ingest("hotel", [files, DEMO / "dining" / "room-service-menu.csv"])
    outcomes = {f["name"]: f["status"] for f in report["files"]}
    assert outcomes["spa.md"] == "ingested"
    assert outcomes["broken.json"] == "failed"
    assert outcomes["room-service-menu.csv"] == "ingested"
    assert [Path(p).name for p in report["unsupported"]] == ["notes.xyz"]
    hit = store.search("hotel", "when does the spa open", k=1)[0]
    assert hit.section == ["Spa", "Opening hours"]
    # A second run skips what has not changed.
    again = store.ingest("hotel", files / "spa.md")
    assert again["files"][0]["status"] == "unchanged"


def test_evaluate_a_beir_dataset(store: bellhop.Store, tmp_path: Path) -> None:
    dataset = tmp_path / "tiny-beir"
    (dataset / "qrels").mkdir(parents=True)
    passages = {
        "d1": "The pool is heated to 28 degrees.",
        "d2": "Breakfast is served from 06:30 to 10:30.",
        "d3": "Parking costs 18 euros per night.",
    }
    queries = {"q1": "how warm is the pool", "q2": "breakfast time", "q3": "parking price"}
    (dataset / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in passages.items())
    )
    (dataset / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries.items())
    )
    (dataset / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n"
    )
    results = store.evaluate(dataset)
    assert set(results) == {"dense", "keyword", "hybrid"}
    assert results["dense"]["queries"] == 3
    assert results["dense"]["ndcg@10"] == pytest.approx(1.0)
    assert results["hybrid"]["recall@10"] == pytest.approx(1.0)
    assert "eval-tiny-beir" in [c["name"] for c in store.list_collections()]


def test_chunk_uses_the_ingestion_chunker(embedder: bellhop.Embedder) -> None:
    text = "# Spa\n\n## Opening hours\n\n" + " ".join(["The spa is open daily."] * 40)
    chunks = bellhop.chunk(text, max_tokens=32, overlap=0, format="markdown", embedder=embedder)
    assert len(chunks) > 3
    assert all(chunk["section"] == ["Spa", "Opening hours"] for chunk in chunks)
    assert all(embedder.count_tokens(chunk["embedding_text"]) <= 32 for chunk in chunks)
    titled = bellhop.chunk("Breakfast is at seven.", title="Dining")
    assert titled == [
        {
            "text": "Breakfast is at seven.",
            "section": [],
            "embedding_text": "Dining\nBreakfast is at seven.",
        }
    ]
    with pytest.raises(ValueError, match="unknown format"):
        bellhop.chunk("x", format="docx")


def test_unknown_collection_is_not_found(store: bellhop.Store) -> None:
    with pytest.raises(bellhop.NotFoundError, match="nowhere") as info:
        store.search("nowhere", "pool")
    assert isinstance(info.value, LookupError)
    with pytest.raises(LookupError):
        store.delete_document("nowhere", "pool")


def test_unknown_document_is_not_found(store: bellhop.Store) -> None:
    store.add_documents("hotel", FACTS[:1])
    with pytest.raises(bellhop.NotFoundError, match="spa"):
        store.delete_document("hotel", "spa")


def test_bad_input_is_a_value_error(store: bellhop.Store) -> None:
    store.add_documents("hotel", FACTS[:1])
    with pytest.raises(ValueError, match="unknown mode"):
        store.search("hotel", "pool", mode="fuzzy")
    with pytest.raises(ValueError, match="query is empty"):
        store.search("hotel", "  ")
    with pytest.raises(ValueError, match="k must be"):
        store.search("hotel", "pool", k=0)
    with pytest.raises(ValueError, match="filter"):
        store.search("hotel", "pool", filter={"price": {"almost": 3}})
    with pytest.raises(ValueError, match="no text"):
        store.add_documents("hotel", [{"id": "empty", "text": " "}])
    with pytest.raises(ValueError, match="unknown field"):
        store.add_documents("hotel", [{"id": "x", "text": "y", "colour": "red"}])
    with pytest.raises(ValueError, match="missing field"):
        store.add_documents("hotel", [{"id": "x"}])
    with pytest.raises(TypeError):
        store.add_documents("hotel", "not documents")
    with pytest.raises(KeyError, match="no column 'body'"):
        store.add_documents("menu", MENU, id_column="sku", text_column="body")
    with pytest.raises(ValueError, match="unknown index"):
        store.create_collection("other", index="lsh")
    with pytest.raises(ValueError):
        store.create_collection("bad name!")
    # Nothing of the rejected writes landed.
    assert [d["id"] for d in store.list_documents("hotel")] == ["pool"]


def test_existing_collection_is_a_conflict(store: bellhop.Store) -> None:
    store.create_collection("hotel")
    with pytest.raises(bellhop.ConflictError, match="already exists"):
        store.create_collection("hotel")


def test_another_model_is_a_conflict(tmp_path: Path, store: bellhop.Store) -> None:
    store.add_documents("hotel", FACTS[:1])
    store.close()
    other_model = tmp_path / "other-minilm"
    other_model.symlink_to(MODEL_DIR, target_is_directory=True)
    with bellhop.Store(store.path, model=str(other_model)) as other:
        with pytest.raises(bellhop.ConflictError, match="other-minilm"):
            other.add_documents("hotel", FACTS[1:2])


def test_a_collection_of_shortened_vectors(tmp_path: Path, store: bellhop.Store) -> None:
    with pytest.raises(ValueError, match="not trained to be shortened"):
        store.create_collection("short", dimensions=128)
    carded = tmp_path / "carded-minilm"
    carded.mkdir()
    for entry in MODEL_DIR.iterdir():
        # The card is written below: linking it would write through to the model's own.
        if entry.name != "README.md":
            (carded / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (carded / "README.md").write_text('"matryoshka_dims": [384, 256, 128]\n')
    with bellhop.Store(tmp_path / "short-data", model=str(carded)) as short:
        assert short.create_collection("hotel", dimensions=128)["dim"] == 128
        short.add_documents("hotel", FACTS)
        assert short.search("hotel", "swimming", k=1, mode="dense")[0].document_id == "pool"


def test_one_process_at_a_time(store: bellhop.Store) -> None:
    with pytest.raises(bellhop.BellhopError, match="in use"):
        bellhop.Store(store.path)
    store.close()
    with pytest.raises(bellhop.BellhopError, match="closed"):
        store.list_collections()
    with bellhop.Store(store.path) as reopened:
        assert reopened.list_collections() == []


def test_store_written_from_python_serves_the_cli_and_the_server(
    tmp_path: Path, embedder: bellhop.Embedder
) -> None:
    data_dir = tmp_path / "data"
    with bellhop.Store(data_dir, embedder=embedder) as store:
        store.add_documents("hotel", FACTS)
        store.add_documents("menu", MENU, id_column="sku", text_column="description")
        expected = [hit.document_id for hit in store.search("hotel", "is the pool heated?", k=3)]

    binary = serving.binary_path(REPO_ROOT)
    cli = subprocess.run(
        [
            str(binary),
            "search",
            "is the pool heated?",
            "--collection",
            "hotel",
            "-k",
            "3",
            "--data-dir",
            str(data_dir),
            "--model",
            str(MODEL_DIR),
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert [hit["document_id"] for hit in json.loads(cli.stdout)] == expected

    admin_key = "bh-admin-" + secrets.token_hex(16)
    running = serving.start_server(
        data_dir, admin_key=admin_key, repo_root=REPO_ROOT, work_dir=tmp_path / "serve"
    )
    try:
        with bellhop.Client(running.url, api_key=admin_key) as client:
            result = client.search("hotel", "is the pool heated?", k=3)
            assert [hit.document_id for hit in result.hits] == expected
            menu = client.search("menu", "noodles", k=1)
            assert menu.hits[0].document_id == "rs-2"
    finally:
        running.stop()


def test_threads_share_the_model_loaded_on_first_use(tmp_path: Path) -> None:
    """Threads that need the model at the same time all get it (the load releases the GIL;
    a lock held across it would deadlock)."""
    errors: list[BaseException] = []
    with bellhop.Store(tmp_path / "data", model=str(MODEL_DIR)) as store:

        def create(index: int) -> None:
            try:
                store.create_collection(f"property-{index}")
            except BaseException as err:  # reported below
                errors.append(err)

        # Daemon threads: a hang fails the test instead of blocking the exit.
        threads = [threading.Thread(target=create, args=(i,), daemon=True) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a thread hung"
        assert errors == []
        names = sorted(c["name"] for c in store.list_collections())
        assert names == ["property-0", "property-1", "property-2"]
