"""The HTTP client against a real `bellhop serve` (no LLM configured, so answers are
extractive), over loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterator

import httpx
import numpy as np
import pytest
import serving
from bellhop import APIError, AsyncClient, BellhopError, Client, Hit, Hits, RetrieverMatch
from bellhop.client import (
    AskResult,
    Citation,
    CitationsEvent,
    Collection,
    ConnectionFailedError,
    DeltaEvent,
    Document,
    DoneEvent,
    SearchResult,
    WriteReceipt,
    _api_error,
    _AskEventReader,
)
from conftest import QUERY_COLLECTION, QUERY_KEY_NAME

HOTEL = QUERY_COLLECTION
SPA = "spa"  # the query key may not use it

HOTEL_DOCUMENTS = [
    {
        "id": "pool",
        "title": "Indoor pool",
        "text": (
            "The indoor pool is on the lower ground floor. "
            "The pool is heated to 28 °C all year round. "
            "It is open from 07:00 to 22:00, and children under 16 swim until 19:00 with an adult."
        ),
        "metadata": {"area": "wellness", "floor": -1},
    },
    {
        "id": "breakfast",
        "title": "Breakfast",
        "text": (
            "Breakfast is served in the Harbour Restaurant from 06:30 to 10:30 on weekdays "
            "and until 11:00 at weekends. Gluten-free bread is available on request."
        ),
        "metadata": {"area": "dining"},
    },
    {
        "id": "checkout",
        "title": "Check-in and check-out",
        "text": (
            "Check-in starts at 15:00. Check-out is by 11:00; late check-out until 14:00 "
            "costs 30 euros and can be booked at reception."
        ),
        "metadata": {"area": "policies"},
    },
    {
        "id": "parking",
        "title": "Parking",
        "text": (
            "The hotel garage has 40 spaces and four electric vehicle chargers. "
            "Parking costs 18 euros per night; the garage entrance is on Quay Street."
        ),
        "metadata": {"area": "services"},
        "source": "front-desk-notes",
    },
]

SPA_DOCUMENTS = [
    {
        "id": "massage",
        "title": "Massages",
        "text": "The spa offers a 60-minute deep tissue massage for 95 euros.",
        "metadata": {"area": "spa"},
    }
]

SPA_MARKDOWN = """# Spa guide

## Sauna

The Finnish sauna is heated to 90 °C and opens at 10:00.

## Treatments

Book treatments at the spa desk at least a day ahead.
"""

ROOMS_CSV = """id,name,beds,price
single,Single room,1,90
double,Double room,2,140
family,Family suite,4,220
"""


@pytest.fixture(scope="module")
def admin(server: serving.RunningServer) -> Iterator[Client]:
    with Client(server.url, server.admin_key) as client:
        yield client


@pytest.fixture(scope="module")
def front_desk(server: serving.RunningServer) -> Iterator[Client]:
    """The query key, scoped to `hotel`."""
    with Client(server.url, server.key(QUERY_KEY_NAME)) as client:
        yield client


@pytest.fixture(scope="module")
def hotel(admin: Client) -> tuple[Collection, WriteReceipt]:
    """`hotel` and `spa`, created and filled through the client."""
    created = admin.create_collection(
        HOTEL,
        chunk_tokens=128,
        chunk_overlap=16,
        index="exact",
        system_prompt="You are the concierge of the Harbour Hotel.",
        generator="extractive",
        answer_deadline_ms=5000,
    )
    receipt = admin.add_documents(HOTEL, HOTEL_DOCUMENTS)
    admin.create_collection(SPA)
    admin.add_documents(SPA, SPA_DOCUMENTS)
    return created, receipt


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --------------------------------------------------------------------------------------
# Operations, collections, documents
# --------------------------------------------------------------------------------------


def test_health_and_ready(admin: Client, server: serving.RunningServer) -> None:
    assert admin.health().status == "ok"
    readiness = admin.ready()
    assert readiness.ready is True
    assert readiness.model == server.model
    assert readiness.generators.get("default") == "extractive"


def test_create_collection_and_add_documents(
    hotel: tuple[Collection, WriteReceipt], server: serving.RunningServer
) -> None:
    created, receipt = hotel
    assert created.name == HOTEL
    assert created.model == server.model
    assert created.dim == 384
    assert (created.chunking.max_tokens, created.chunking.overlap_tokens) == (128, 16)
    assert created.index == "exact"
    assert created.system_prompt == "You are the concierge of the Harbour Hotel."
    assert created.generator == "extractive"
    assert created.answer_deadline_ms == 5000
    assert created.documents == 0
    assert receipt.documents == len(HOTEL_DOCUMENTS)
    assert receipt.chunks >= len(HOTEL_DOCUMENTS)
    assert receipt.version > 0


def test_list_and_get_collection(admin: Client, hotel: tuple[Collection, WriteReceipt]) -> None:
    names = {collection.name for collection in admin.list_collections()}
    assert {HOTEL, SPA} <= names
    collection = admin.get_collection(HOTEL)
    assert collection.documents == len(HOTEL_DOCUMENTS)
    assert collection.chunks >= len(HOTEL_DOCUMENTS)
    assert collection.active_index == "exact"
    assert collection.version == hotel[1].version


def test_update_collection_changes_settings_and_none_clears_them(admin: Client) -> None:
    name = "settings-hotel"
    created = admin.create_collection(name, system_prompt="You are the concierge.")
    fallback = "I don't have that information. Reception is happy to help: dial 9."
    changed = admin.update_collection(
        name, fallback_text=fallback, fallback_texts={"de": "Bitte wählen Sie die 9."}
    )
    assert changed.fallback_text == fallback
    assert changed.fallback_texts == {"de": "Bitte wählen Sie die 9."}
    assert changed.system_prompt == "You are the concierge."
    assert changed.version > created.version
    cleared = admin.update_collection(name, system_prompt=None, question_retention_days=7)
    assert cleared.system_prompt is None
    assert cleared.fallback_text == fallback
    assert cleared.question_retention_days == 7
    assert admin.get_collection(name) == cleared

    with pytest.raises(TypeError, match="chunk_tokens"):
        admin.update_collection(name, chunk_tokens=64)
    with pytest.raises(APIError) as raised:
        admin.update_collection(name, question_retention_days=0)
    assert (raised.value.status_code, raised.value.code) == (400, "invalid_request")
    with pytest.raises(APIError) as raised:
        admin.update_collection("nowhere", fallback_text=fallback)
    assert (raised.value.status_code, raised.value.code) == (404, "collection_not_found")
    admin.delete_collection(name)


def test_query_key_lists_only_its_collections(
    front_desk: Client, hotel: tuple[Collection, WriteReceipt]
) -> None:
    assert [collection.name for collection in front_desk.list_collections()] == [HOTEL]


def test_documents_list_get_and_delete(admin: Client) -> None:
    name = "documents-test"
    admin.create_collection(name)
    try:
        admin.add_documents(
            name,
            [
                {
                    "id": f"note-{n}",
                    "text": f"Note number {n} about the lobby.",
                    "metadata": {"n": n},
                }
                for n in range(5)
            ],
        )
        first = admin.list_documents(name, offset=0, limit=3)
        second = admin.list_documents(name, offset=3, limit=3)
        assert (first.offset, first.limit) == (0, 3)
        assert [d.id for d in first.documents + second.documents] == [f"note-{n}" for n in range(5)]

        document = admin.get_document(name, "note-2")
        assert isinstance(document, Document)
        assert document.title == "note-2"  # the id when no title is sent
        assert document.source == "api"
        assert document.metadata == {"n": 2}
        assert document.chunks == 1
        assert document.updated_at > 0

        receipt = admin.delete_document(name, "note-2")
        assert isinstance(receipt, WriteReceipt)
        with pytest.raises(APIError) as raised:
            admin.get_document(name, "note-2")
        assert (raised.value.status_code, raised.value.code) == (404, "document_not_found")
        assert admin.get_collection(name).documents == 4
    finally:
        admin.delete_collection(name)
    with pytest.raises(APIError) as raised:
        admin.get_collection(name)
    assert raised.value.status_code == 404


def test_upload_files(admin: Client, tmp_path: Path) -> None:
    name = "uploads"
    (tmp_path / "spa-guide.md").write_text(SPA_MARKDOWN)
    (tmp_path / "rooms.csv").write_text(ROOMS_CSV)
    admin.create_collection(name)
    try:
        report = admin.upload_files(name, [tmp_path / "spa-guide.md", str(tmp_path / "rooms.csv")])
        assert [(f.name, f.status) for f in report.files] == [
            ("spa-guide.md", "ingested"),
            ("rooms.csv", "ingested"),
        ]
        assert report.files[0].documents == 1
        assert report.files[0].chunks >= 1
        assert report.files[1].documents == 3

        ids = {document.id for document in admin.list_documents(name).documents}
        assert "rooms.csv#double" in ids
        # `#` must travel percent-encoded in the path.
        room = admin.get_document(name, "rooms.csv#double")
        assert room.title == "Double room"
        assert room.source == "rooms.csv"
        assert room.metadata["price"] == 140

        hits = admin.search(name, "how hot is the sauna?", k=3).hits
        assert hits[0].source == "spa-guide.md"
        assert "90 °C" in hits[0].text

        again = admin.upload_files(name, [tmp_path / "rooms.csv"])
        assert [(f.name, f.status) for f in again.files] == [("rooms.csv", "unchanged")]
    finally:
        admin.delete_collection(name)


# --------------------------------------------------------------------------------------
# Search and answers
# --------------------------------------------------------------------------------------


def test_search_finds_the_pool_first(
    front_desk: Client, hotel: tuple[Collection, WriteReceipt]
) -> None:
    result = front_desk.search(HOTEL, "is the pool heated?", k=3)
    assert isinstance(result, SearchResult)
    assert isinstance(result.hits, Hits)
    assert 1 <= len(result.hits) <= 3
    top = result.hits[0]
    assert isinstance(top, Hit)
    assert top.document_id == "pool"
    assert top.title == "Indoor pool"
    assert "28 °C" in top.text
    assert top.metadata == {"area": "wellness", "floor": -1}
    assert top.source == "api"
    assert [m.retriever for m in top.found_by] and all(
        isinstance(m, RetrieverMatch) for m in top.found_by
    )
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert result.timings.total_ms >= 0

    frame = result.hits.to_pandas()
    assert len(frame) == len(result.hits)
    assert frame.loc[0, "document_id"] == "pool"
    assert frame.loc[0, "metadata.area"] == "wellness"


def test_search_repeats_from_the_cache(
    admin: Client, hotel: tuple[Collection, WriteReceipt]
) -> None:
    first = admin.search(HOTEL, "when is breakfast served?", k=2, mode="dense")
    second = admin.search(HOTEL, "when is breakfast served?", k=2, mode="dense")
    assert second.cached is True
    assert [h.chunk_id for h in second.hits] == [h.chunk_id for h in first.hits]


def test_search_with_metadata_filter(admin: Client, hotel: tuple[Collection, WriteReceipt]) -> None:
    result = admin.search(HOTEL, "is the pool heated?", filter={"area": "dining"})
    assert [hit.document_id for hit in result.hits] == ["breakfast"]

    result = admin.search(
        HOTEL, "what does it cost?", filter={"area": {"in": ["services", "policies"]}}
    )
    assert {hit.document_id for hit in result.hits} == {"parking", "checkout"}

    keyword = admin.search(HOTEL, "garage", mode="keyword")
    assert [hit.document_id for hit in keyword.hits] == ["parking"]
    assert keyword.hits[0].source == "front-desk-notes"


def test_ask_answers_with_citations(
    front_desk: Client, hotel: tuple[Collection, WriteReceipt]
) -> None:
    result = front_desk.ask(HOTEL, "Is the pool heated?")
    assert isinstance(result, AskResult)
    assert result.generator == "extractive"
    assert result.degraded is False
    assert result.degraded_reason is None
    assert result.usage is None
    assert "28 °C" in result.answer
    assert result.citations and all(isinstance(c, Citation) for c in result.citations)
    assert result.citations[0].index == 1
    assert result.citations[0].document_id == "pool"
    assert result.deadline_ms == 5000  # the collection's
    assert result.timings is not None and result.timings.total_ms >= 0

    narrowed = front_desk.ask(HOTEL, "When is breakfast?", k=1, max_sentences=1, deadline_ms=2000)
    assert [c.document_id for c in narrowed.citations] == ["breakfast"]
    assert narrowed.deadline_ms == 2000


def test_ask_stream_events(front_desk: Client, hotel: tuple[Collection, WriteReceipt]) -> None:
    events = list(front_desk.ask_stream(HOTEL, "How much does parking cost?"))
    first, last = events[0], events[-1]
    assert isinstance(first, CitationsEvent)
    assert isinstance(last, DoneEvent)
    deltas = [event for event in events[1:-1] if isinstance(event, DeltaEvent)]
    assert deltas and len(deltas) == len(events) - 2

    done = last.result
    assert "".join(event.text for event in deltas) == done.answer
    assert "18 euros" in done.answer
    assert first.citations == done.citations
    assert done.citations[0].document_id == "parking"
    assert done.generator == "extractive"


def test_ask_stream_can_stop_early(
    front_desk: Client, hotel: tuple[Collection, WriteReceipt]
) -> None:
    stream = front_desk.ask_stream(HOTEL, "When is check-out?")
    first = next(stream)
    assert isinstance(first, CitationsEvent)
    stream.close()  # closes the connection; the client stays usable
    assert front_desk.health().status == "ok"


def test_embeddings_match_the_raw_endpoint(admin: Client, server: serving.RunningServer) -> None:
    texts = ["Is the pool heated?", "Breakfast starts at 06:30."]
    vectors = admin.embeddings(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (2, 384)

    response = httpx.post(
        f"{server.url}/v1/embeddings",
        json={"input": texts, "model": server.model},
        headers={"Authorization": f"Bearer {server.admin_key}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    raw = [np.asarray(item["embedding"], dtype=np.float32) for item in response.json()["data"]]
    for row, expected in zip(vectors, raw):
        assert cosine(row, expected) >= 0.999

    single = admin.embeddings("Is the pool heated?", model=server.model)
    assert single.shape == (1, 384)
    assert cosine(single[0], vectors[0]) >= 0.999


def test_models(
    admin: Client,
    front_desk: Client,
    server: serving.RunningServer,
    hotel: tuple[Collection, WriteReceipt],
) -> None:
    ids = [model.id for model in admin.models()]
    assert ids[0] == server.model
    assert {HOTEL, SPA} <= set(ids)
    scoped = {model.id for model in front_desk.models()}
    assert HOTEL in scoped and SPA not in scoped


def test_given_http_client_is_not_closed(server: serving.RunningServer) -> None:
    with httpx.Client(timeout=10) as http:
        with Client(server.url + "/", server.admin_key, http_client=http) as client:
            assert client.health().status == "ok"
        assert not http.is_closed


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_unknown_collection_is_404(admin: Client) -> None:
    with pytest.raises(APIError) as raised:
        admin.get_collection("nowhere")
    err = raised.value
    assert (err.status_code, err.code) == (404, "collection_not_found")
    assert "nowhere" in err.message
    assert err.retry_after is None

    with pytest.raises(APIError) as raised:
        admin.search("nowhere", "pool")
    assert (raised.value.status_code, raised.value.code) == (404, "collection_not_found")

    with pytest.raises(APIError) as raised:
        list(admin.ask_stream("nowhere", "is the pool heated?"))
    assert (raised.value.status_code, raised.value.code) == (404, "collection_not_found")


def test_existing_collection_name_is_409(
    admin: Client, hotel: tuple[Collection, WriteReceipt]
) -> None:
    with pytest.raises(APIError) as raised:
        admin.create_collection(HOTEL)
    assert (raised.value.status_code, raised.value.code) == (409, "collection_exists")


def test_wrong_api_key_is_401(server: serving.RunningServer) -> None:
    with Client(server.url, "bh-not-a-key") as client:
        with pytest.raises(APIError) as raised:
            client.list_collections()
    assert (raised.value.status_code, raised.value.code) == (401, "invalid_api_key")

    with Client(server.url) as client:
        with pytest.raises(APIError) as raised:
            client.search(HOTEL, "pool")
        assert (raised.value.status_code, raised.value.code) == (401, "missing_api_key")
        # Health and readiness need no key.
        assert client.health().status == "ok"


def test_query_key_on_another_collection_is_403(
    front_desk: Client, hotel: tuple[Collection, WriteReceipt]
) -> None:
    with pytest.raises(APIError) as raised:
        front_desk.search(SPA, "massage")
    assert (raised.value.status_code, raised.value.code) == (403, "forbidden")

    with pytest.raises(APIError) as raised:
        front_desk.add_documents(HOTEL, [{"id": "x", "text": "A query key may not write."}])
    assert raised.value.status_code == 403


def test_invalid_input_is_400(admin: Client, hotel: tuple[Collection, WriteReceipt]) -> None:
    with pytest.raises(APIError) as raised:
        admin.search(HOTEL, "is the pool heated?", k=0)
    assert (raised.value.status_code, raised.value.code) == (400, "invalid_request")
    assert "k must be" in raised.value.message

    with pytest.raises(APIError) as raised:
        admin.search(HOTEL, "   ")
    assert (raised.value.status_code, raised.value.code) == (400, "invalid_request")

    with pytest.raises(APIError) as raised:
        admin.ask(HOTEL, "")
    assert raised.value.status_code == 400

    with pytest.raises(APIError) as raised:
        admin.search(HOTEL, "pool", filter={"area": {"like": "well%"}})
    assert (raised.value.status_code, raised.value.code) == (400, "invalid_filter")


def test_connection_refused_raises_connection_failed() -> None:
    port = serving.free_port()  # nothing listens on it
    with Client(f"http://127.0.0.1:{port}", "key", timeout=5) as client:
        with pytest.raises(ConnectionFailedError) as raised:
            client.health()
        assert isinstance(raised.value, BellhopError)
        assert isinstance(raised.value.__cause__, httpx.ConnectError)

        with pytest.raises(ConnectionFailedError):
            next(client.ask_stream(HOTEL, "is the pool heated?"))


def test_error_event_in_stream_raises_api_error() -> None:
    # The server reports a failure after the stream began as an event with the error body.
    reader = _AskEventReader(200)
    lines = ["event: citations", 'data: {"citations": []}', "", ": keep-alive", ""]
    assert [reader.feed(line) for line in lines] == [None, None, CitationsEvent([]), None, None]
    assert reader.feed("event: error") is None
    assert (
        reader.feed('data: {"error": {"code": "generation_failed", "message": "upstream broke"}}')
        is None
    )
    with pytest.raises(APIError) as raised:
        reader.feed("")
    assert (raised.value.code, raised.value.message) == ("generation_failed", "upstream broke")

    cut_short = _AskEventReader(200)
    for line in ["event: delta", 'data: {"text": "The pool"}', ""]:
        cut_short.feed(line)
    with pytest.raises(APIError) as raised:
        cut_short.end()
    assert raised.value.code == "stream_incomplete"


def test_results_ignore_unknown_fields() -> None:
    citation = {
        "index": 1,
        "chunk_id": 7,
        "document_id": "pool",
        "title": "Indoor pool",
        "section": [],
        "source": "api",
        "score": 0.5,
        "text": "The pool is heated.",
        "added_later": {"nested": True},
    }
    result = AskResult.from_dict(
        {
            "answer": "It is [1].",
            "citations": [citation],
            "generator": "extractive",
            "degraded": False,
            "reason": None,
            "timings": {"retrieval_ms": 1.0, "total_ms": 2.0, "queue_ms": 0.1},
            "cached": False,
            "deadline_ms": 100,
            "confidence": 0.9,
        }
    )
    assert result.citations[0].document_id == "pool"
    assert result.timings is not None and result.timings.first_token_ms is None


# --------------------------------------------------------------------------------------
# The async client
# --------------------------------------------------------------------------------------


def test_async_client_flows(server: serving.RunningServer, tmp_path: Path) -> None:
    (tmp_path / "rooms.csv").write_text(ROOMS_CSV)
    name = "async-hotel"

    async def flow() -> None:
        async with AsyncClient(server.url, server.admin_key) as client:
            assert (await client.health()).status == "ok"
            assert (await client.ready()).model == server.model

            created = await client.create_collection(name, chunk_tokens=200)
            assert (created.chunking.max_tokens, created.chunking.overlap_tokens) == (200, 32)
            receipt = await client.add_documents(name, HOTEL_DOCUMENTS)
            assert receipt.documents == len(HOTEL_DOCUMENTS)
            report = await client.upload_files(name, [tmp_path / "rooms.csv"])
            assert report.files[0].documents == 3
            assert name in {c.name for c in await client.list_collections()}
            assert (await client.get_collection(name)).documents == len(HOTEL_DOCUMENTS) + 3
            changed = await client.update_collection(name, fallback_text="Dial 9.")
            assert changed.fallback_text == "Dial 9." and changed.chunking.max_tokens == 200

            page = await client.list_documents(name, limit=2)
            assert len(page.documents) == 2
            document = await client.get_document(name, "rooms.csv#family")
            assert document.title == "Family suite"
            await client.delete_document(name, "rooms.csv#family")

            hits = (await client.search(name, "is the pool heated?", k=3)).hits
            assert isinstance(hits[0], Hit) and hits[0].document_id == "pool"
            assert len(hits.to_pandas()) == len(hits)
            filtered = await client.search(name, "is the pool heated?", filter={"area": "dining"})
            assert [hit.document_id for hit in filtered.hits] == ["breakfast"]

            answer = await client.ask(name, "Is the pool heated?")
            assert "28 °C" in answer.answer and answer.citations[0].document_id == "pool"

            events = [event async for event in client.ask_stream(name, "When is breakfast?")]
            assert isinstance(events[0], CitationsEvent) and isinstance(events[-1], DoneEvent)
            deltas = [event.text for event in events[1:-1] if isinstance(event, DeltaEvent)]
            assert deltas and "".join(deltas) == events[-1].result.answer

            vectors = await client.embeddings(["Is the pool heated?"])
            assert vectors.shape == (1, 384) and vectors.dtype == np.float32
            assert server.model in {model.id for model in await client.models()}

            with pytest.raises(APIError) as raised:
                await client.search(name, "pool", k=0)
            assert raised.value.status_code == 400

            await client.delete_collection(name)
            with pytest.raises(APIError) as raised:
                await client.get_collection(name)
            assert (raised.value.status_code, raised.value.code) == (404, "collection_not_found")
            with pytest.raises(APIError) as raised:
                async for _ in client.ask_stream(name, "Is the pool heated?"):
                    pass
            assert raised.value.status_code == 404

        async with AsyncClient(server.url, "bh-not-a-key") as stranger:
            with pytest.raises(APIError) as raised:
                await stranger.list_collections()
            assert raised.value.status_code == 401

        async with AsyncClient(server.url, server.key(QUERY_KEY_NAME)) as front_desk:
            with pytest.raises(APIError) as raised:
                await front_desk.ask(SPA, "massage?")
            assert raised.value.status_code == 403

        async with AsyncClient(f"http://127.0.0.1:{serving.free_port()}", timeout=5) as nowhere:
            with pytest.raises(ConnectionFailedError):
                await nowhere.health()

    asyncio.run(flow())


def test_error_responses_keep_retry_after_and_odd_bodies() -> None:
    # 503s carry Retry-After; a body that is not the API's error shape (a proxy's page)
    # still gives an APIError with its status and text.
    overloaded = _api_error(
        httpx.Response(
            503,
            headers={"Retry-After": "2"},
            json={"error": {"code": "overloaded", "message": "the queue is full"}},
        )
    )
    assert (overloaded.status_code, overloaded.code, overloaded.retry_after) == (
        503,
        "overloaded",
        2.0,
    )
    proxied = _api_error(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert (proxied.status_code, proxied.code) == (502, "http_error")
    assert "Bad Gateway" in proxied.message
    assert proxied.retry_after is None
