"""The OpenAI-compatible endpoints, driven by the official `openai` client."""

from __future__ import annotations

import asyncio
import math

import openai
import pytest
from conftest import Server, request

DIMENSIONS = 384
POOL_QUESTION = "How warm is the pool?"
POOL_FACT = "28 °C"


def client_for(server: Server, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.base_url,
        api_key=server.query_key if key is None else key,
        max_retries=0,
        timeout=60,
    )


@pytest.fixture(scope="module")
def client(server: Server):
    with client_for(server) as client:
        yield client


def ask(client: openai.OpenAI, model: str = "hotel", question: str = POOL_QUESTION, **kwargs):
    return client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "Answer from the hotel's documents."},
            {"role": "user", "content": question},
        ],
        **kwargs,
    )


def assert_error(excinfo: pytest.ExceptionInfo, status: int, code: str) -> None:
    err = excinfo.value
    assert err.status_code == status, err
    assert err.code == code, err
    # The client unwraps `{"error": {...}}` into the exception's body.
    assert isinstance(err.body, dict), err.body
    assert err.body["code"] == code, err.body
    assert err.body["message"], err.body


# --- /v1/models ---------------------------------------------------------------------------


def test_models_lists_the_embedding_model_and_only_the_keys_collections(client, server):
    models = client.models.list()
    ids = [model.id for model in models.data]
    assert server.embedding_model in ids
    assert "hotel" in ids
    assert "spa" not in ids
    for model in models.data:
        assert model.object == "model"
        assert model.owned_by == "bellhop"
        assert isinstance(model.created, int)


def test_admin_key_lists_every_collection(server):
    with client_for(server, server.admin_key) as admin:
        ids = {model.id for model in admin.models.list()}
    assert {server.embedding_model, "hotel", "spa"} <= ids


# --- /v1/embeddings -----------------------------------------------------------------------


def assert_unit_vector(vector: list[float]) -> None:
    assert len(vector) == DIMENSIONS
    assert all(isinstance(x, float) for x in vector)
    assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-4)


def test_embeddings_default_base64_matches_float(client, server):
    text = "Is the swimming pool heated?"
    # Without encoding_format the client asks for base64 and decodes the vectors itself.
    default = client.embeddings.create(input=text, model=server.embedding_model)
    floats = client.embeddings.create(
        input=text, model=server.embedding_model, encoding_format="float"
    )
    assert default.object == floats.object == "list"
    assert default.model == floats.model == server.embedding_model
    assert len(default.data) == len(floats.data) == 1
    assert default.usage.prompt_tokens == floats.usage.prompt_tokens > 0
    a, b = default.data[0].embedding, floats.data[0].embedding
    assert_unit_vector(a)
    assert_unit_vector(b)
    assert max(abs(x - y) for x, y in zip(a, b)) <= 1e-6


def test_embeddings_batch_keeps_order(client, server):
    texts = [
        "When is breakfast served?",
        "How much does parking cost?",
        "Is the swimming pool heated?",
        "When is check-out?",
    ]
    batch = client.embeddings.create(
        input=texts, model=server.embedding_model, encoding_format="float"
    )
    assert [item.index for item in batch.data] == list(range(len(texts)))
    for text, item in zip(texts, batch.data):
        assert item.object == "embedding"
        assert_unit_vector(item.embedding)
        single = client.embeddings.create(
            input=text, model=server.embedding_model, encoding_format="float"
        )
        # Batched and single inference may differ in the last float bits only.
        assert max(abs(x - y) for x, y in zip(item.embedding, single.data[0].embedding)) < 1e-4
    # Distinct texts give distinct vectors, so the order check above means something.
    first, second = batch.data[0].embedding, batch.data[1].embedding
    assert sum(x * y for x, y in zip(first, second)) < 0.99


def test_embeddings_accept_the_short_model_name(client, server):
    result = client.embeddings.create(input="pool", model="all-MiniLM-L6-v2")
    assert result.model == server.embedding_model
    assert_unit_vector(result.data[0].embedding)


def test_embeddings_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as excinfo:
        client.embeddings.create(input="pool", model="text-embedding-3-small")
    assert_error(excinfo, 404, "model_not_found")


def test_embeddings_token_arrays_are_refused(client, server):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.embeddings.create(input=[[101, 2054, 102]], model=server.embedding_model)
    assert_error(excinfo, 400, "invalid_request")


# --- /v1/chat/completions -----------------------------------------------------------------


def test_chat_answers_from_the_collection_with_citations(client):
    completion = ask(client)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "hotel"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    content = choice.message.content
    assert POOL_FACT in content, content
    assert "[1]" in content, content
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert (
        completion.usage.total_tokens
        == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    # The extra `citations` field survives the client's parsing.
    citations = completion.model_extra["citations"]
    assert citations, completion
    assert citations[0]["index"] == 1
    assert citations[0]["document_id"] == "pool"
    assert POOL_FACT in citations[0]["text"]


def test_chat_accepts_the_collection_prefix(client):
    plain = ask(client).choices[0].message.content
    prefixed = ask(client, model="collection:hotel")
    assert prefixed.model == "collection:hotel"
    assert prefixed.choices[0].message.content == plain


def check_stream(chunks: list, expected_content: str) -> None:
    assert chunks, "the stream was empty"
    ids = {chunk.id for chunk in chunks}
    assert len(ids) == 1 and next(iter(ids)).startswith("chatcmpl-")
    for chunk in chunks:
        assert chunk.object == "chat.completion.chunk"
        assert chunk.model == "hotel"
        assert len(chunk.choices) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert streamed == expected_content
    assert len(chunks) > 3, "the answer came in one piece"
    citations = chunks[-1].model_extra["citations"]
    assert citations[0]["document_id"] == "pool"


def test_chat_streaming_matches_the_complete_answer(client):
    expected = ask(client).choices[0].message.content
    with ask(client, stream=True) as stream:
        chunks = list(stream)
    check_stream(chunks, expected)


def test_async_client_streams_the_same_answer(client, server):
    expected = ask(client).choices[0].message.content

    async def stream_chat() -> list:
        async with openai.AsyncOpenAI(
            base_url=server.base_url, api_key=server.query_key, max_retries=0, timeout=60
        ) as async_client:
            stream = await async_client.chat.completions.create(
                model="hotel",
                messages=[{"role": "user", "content": POOL_QUESTION}],
                stream=True,
            )
            return [chunk async for chunk in stream]

    check_stream(asyncio.run(stream_chat()), expected)


# --- errors -------------------------------------------------------------------------------


def test_chat_unknown_collection_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as excinfo:
        ask(client, model="no-such-collection")
    assert_error(excinfo, 404, "model_not_found")


@pytest.mark.parametrize("model", ["spa", "collection:spa"])
def test_chat_collection_out_of_scope_is_not_found(client, model):
    with pytest.raises(openai.NotFoundError) as excinfo:
        ask(client, model=model)
    assert_error(excinfo, 404, "model_not_found")


def test_chat_out_of_scope_looks_like_unknown(client, server):
    """A query key learns nothing about collections it may not use."""
    with pytest.raises(openai.NotFoundError) as hidden:
        ask(client, model="spa")
    with pytest.raises(openai.NotFoundError) as missing:
        ask(client, model="spb")
    assert hidden.value.code == missing.value.code
    # The admin key may use `spa`.
    with client_for(server, server.admin_key) as admin:
        assert "sauna" in ask(admin, model="spa", question="How hot is the sauna?").choices[
            0
        ].message.content.lower()


def test_wrong_key_is_refused(server):
    with client_for(server, "bh-not-a-key") as wrong:
        with pytest.raises(openai.AuthenticationError) as excinfo:
            wrong.models.list()
        assert_error(excinfo, 401, "invalid_api_key")
        with pytest.raises(openai.AuthenticationError) as excinfo:
            ask(wrong)
        assert_error(excinfo, 401, "invalid_api_key")


def test_missing_key_is_refused(server):
    # The client always sends a key, so this one goes without it.
    status, body = request("GET", f"{server.base_url}/models")
    assert status == 401, body
    assert body["error"]["code"] == "missing_api_key", body


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "system", "content": "You are a concierge."}],
        [
            {"role": "system", "content": "You are a concierge."},
            {"role": "assistant", "content": "How can I help?"},
        ],
    ],
    ids=["system-only", "no-user-turn"],
)
def test_chat_without_a_user_message_is_a_bad_request(client, messages):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model="hotel", messages=messages)
    assert_error(excinfo, 400, "invalid_request")
