"""Makes small randomly initialised RoBERTa, XLM-RoBERTa and DistilBERT sentence-transformers
models, each with a tokenizer trained on the spot, and sentence-transformers' vectors for the
fixture texts: the test fixtures of the encoder families no real model in the registry covers.

Usage: python scripts/make_tiny_models.py [OUT_DIR]
       (default crates/bellhop-embed/tests/fixtures/tiny; needs torch, transformers,
       sentence-transformers and tokenizers; runs offline)

Each model is written to OUT_DIR/<name>/ as sentence-transformers saves it (the transformer's
config.json and model.safetensors, the tokenizer, modules.json, mean pooling, Normalize), and
its reference vectors to OUT_DIR/../reference-tiny-<name>.jsonl, in the layout of
scripts/reference_vectors.py. The weights are seeded; the tokenizer trainers may break ties
differently on a rerun, so the models and their vectors are always rewritten together.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer, models  # noqa: E402
from tokenizers import Tokenizer, decoders, pre_tokenizers, processors, trainers  # noqa: E402
from tokenizers.models import BPE, Unigram, WordPiece  # noqa: E402
from tokenizers.normalizers import NFKC, BertNormalizer  # noqa: E402
from transformers import (  # noqa: E402
    AutoModel,
    DistilBertConfig,
    DistilBertTokenizerFast,
    RobertaConfig,
    RobertaTokenizerFast,
    XLMRobertaConfig,
    XLMRobertaTokenizerFast,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates/bellhop-embed/tests/fixtures"
TEXT_FILES = [FIXTURES / "texts.jsonl", FIXTURES / "texts-multilingual.jsonl"]
VOCAB_SIZE = 2000
MAX_TOKENS = 128
HIDDEN = 32
LAYERS = 2
HEADS = 4
INNER = 64
# Wider than a trained model's 0.02, so that attention patterns differ from uniform and a
# wrong position or a swapped weight shows in the vectors.
INIT_RANGE = 0.2


def corpus() -> list[str]:
    texts = []
    for path in TEXT_FILES:
        with open(path, encoding="utf-8") as f:
            texts.extend(json.loads(line)["text"] for line in f if line.strip())
    return texts


def roberta_tokenizer(texts: list[str]) -> RobertaTokenizerFast:
    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer = Tokenizer(BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=VOCAB_SIZE,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return RobertaTokenizerFast(tokenizer_object=tokenizer, model_max_length=MAX_TOKENS)


def xlm_roberta_tokenizer(texts: list[str]) -> XLMRobertaTokenizerFast:
    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer = Tokenizer(Unigram())
    tokenizer.normalizer = NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(
        texts,
        trainers.UnigramTrainer(vocab_size=VOCAB_SIZE, special_tokens=special, unk_token="<unk>"),
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return XLMRobertaTokenizerFast(tokenizer_object=tokenizer, model_max_length=MAX_TOKENS)


def distilbert_tokenizer(texts: list[str]) -> DistilBertTokenizerFast:
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=VOCAB_SIZE, special_tokens=special)
    )
    tokenizer.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    return DistilBertTokenizerFast(tokenizer_object=tokenizer, model_max_length=MAX_TOKENS)


def configs(vocab_size: int) -> dict:
    shared = dict(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=INNER,
        initializer_range=INIT_RANGE,
        # Positions start at the padding id plus one.
        max_position_embeddings=MAX_TOKENS + 2,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    return {
        "tiny-roberta": RobertaConfig(**shared),
        "tiny-xlm-roberta": XLMRobertaConfig(**shared),
    }


def build(name: str, tokenizer, config, out_dir: Path) -> None:
    torch.manual_seed(0)
    model = AutoModel.from_config(config)
    model.eval()
    with tempfile.TemporaryDirectory() as staging:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        transformer = models.Transformer(staging, max_seq_length=MAX_TOKENS)
        pooling = models.Pooling(HIDDEN, pooling_mode="mean")
        st = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
        target = out_dir / name
        shutil.rmtree(target, ignore_errors=True)
        st.save(str(target))
    reference = out_dir.parent / f"reference-{name}.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/reference_vectors.py"),
            str(out_dir / name),
            *map(str, TEXT_FILES),
            str(reference),
            "--digits",
            "7",
        ],
        check=True,
    )


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES / "tiny"
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = corpus()
    roberta = roberta_tokenizer(texts)
    xlm = xlm_roberta_tokenizer(texts)
    distil = distilbert_tokenizer(texts)
    build("tiny-roberta", roberta, configs(len(roberta))["tiny-roberta"], out_dir)
    build("tiny-xlm-roberta", xlm, configs(len(xlm))["tiny-xlm-roberta"], out_dir)
    build(
        "tiny-distilbert",
        distil,
        DistilBertConfig(
            vocab_size=len(distil),
            dim=HIDDEN,
            n_layers=LAYERS,
            n_heads=HEADS,
            hidden_dim=INNER,
            initializer_range=INIT_RANGE,
            max_position_embeddings=MAX_TOKENS,
            pad_token_id=0,
        ),
        out_dir,
    )


if __name__ == "__main__":
    main()
