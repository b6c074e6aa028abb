#!/usr/bin/env python3
"""Validate the demo-hotel answer-evaluation question set.

Checks tune.jsonl and heldout.jsonl (next to this script):

- every line parses as a JSON object with exactly the fields
  id (str), question (str), lang (str, two lowercase letters), answerable (bool)
  and expect_any (list of str);
- ids are unique across both files;
- answerable questions have a non-empty expect_any, unanswerable ones an empty one;
- every expect_any string occurs (case-insensitive, whitespace-normalised)
  somewhere in the text of the knowledge base in examples/demo-hotel/,
  including the two PDFs.

Then prints the counts per split: answerable English, unanswerable English,
and other languages (answerable / unanswerable per language).

Standard library only. PDF text comes from `pdftotext` when it is installed,
otherwise from a small built-in reader that handles the uncompressed or
Flate-compressed text streams written by scripts/make_demo_pdfs.py.

Usage: python3 examples/demo-hotel-eval/check.py [--kb PATH]
Exit status: 0 when everything is valid, 1 otherwise.
"""

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import zlib
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_KB = HERE.parent / "demo-hotel"
SPLITS = ("tune", "heldout")
FIELDS = {"id": str, "question": str, "lang": str, "answerable": bool, "expect_any": list}


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def pdf_text_builtin(data: bytes) -> str:
    """Text shown by Tj / TJ operators in the PDF's content streams."""
    chunks = []
    for m in re.finditer(rb"<<(.*?)>>\s*stream\r?\n(.*?)\r?\nendstream", data, re.S):
        head, body = m.group(1), m.group(2)
        if b"FlateDecode" in head:
            try:
                body = zlib.decompress(body)
            except zlib.error:
                continue
        for line in re.finditer(rb"\[(.*?)\]\s*TJ|\(((?:\\.|[^\\)])*)\)\s*Tj", body, re.S):
            if line.group(1) is not None:
                parts = re.findall(rb"\(((?:\\.|[^\\)])*)\)", line.group(1))
            else:
                parts = [line.group(2)]
            chunks.append("".join(unescape_pdf_string(p) for p in parts))
    return "\n".join(chunks)


def unescape_pdf_string(raw: bytes) -> str:
    out = bytearray()
    i = 0
    simple = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f",
              b"(": b"(", b")": b")", b"\\": b"\\"}
    while i < len(raw):
        c = raw[i:i + 1]
        if c == b"\\" and i + 1 < len(raw):
            n = raw[i + 1:i + 2]
            if n in simple:
                out += simple[n]
                i += 2
                continue
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
            if octal:
                out.append(int(octal.group(0), 8) & 0xFF)
                i += 1 + len(octal.group(0))
                continue
            i += 1
            continue
        out += c
        i += 1
    return out.decode("latin-1")


def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext"):
        try:
            return subprocess.run(["pdftotext", "-layout", str(path), "-"],
                                  capture_output=True, text=True, check=True).stdout
        except (subprocess.CalledProcessError, OSError):
            pass
    return pdf_text_builtin(path.read_bytes())


def json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, list):
        for v in value:
            yield from json_strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from json_strings(v)


def doc_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return pdf_text(path)
    raw = path.read_text(encoding="utf-8")
    if suffix in (".html", ".htm"):
        body = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", raw)
        return html.unescape(re.sub(r"<[^>]+>", " ", body))
    if suffix == ".json":
        return raw + "\n" + "\n".join(json_strings(json.loads(raw)))
    if suffix == ".jsonl":
        decoded = [s for line in raw.splitlines() if line.strip()
                   for s in json_strings(json.loads(line))]
        return raw + "\n" + "\n".join(decoded)
    return raw


def load_kb(kb: Path) -> dict:
    docs = {}
    for p in sorted(kb.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            docs[str(p.relative_to(kb))] = norm(doc_text(p))
    return docs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kb", type=Path, default=DEFAULT_KB, help="knowledge base folder")
    args = ap.parse_args()

    errors = []
    docs = load_kb(args.kb)
    if not docs:
        print(f"no knowledge base files under {args.kb}", file=sys.stderr)
        return 1
    pdfs = [d for d in docs if d.endswith(".pdf")]
    for d in pdfs:
        if len(docs[d]) < 200:
            errors.append(f"{d}: extracted only {len(docs[d])} characters of text")

    seen = {}
    counts = {s: Counter() for s in SPLITS}
    per_lang = {s: defaultdict(Counter) for s in SPLITS}

    for split in SPLITS:
        path = HERE / f"{split}.jsonl"
        if not path.exists():
            errors.append(f"{path.name}: missing")
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{n}"
            if not line.strip():
                errors.append(f"{where}: empty line")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: not JSON ({e})")
                continue
            if not isinstance(obj, dict):
                errors.append(f"{where}: not a JSON object")
                continue
            bad = False
            for field, typ in FIELDS.items():
                if field not in obj:
                    errors.append(f"{where}: missing field {field!r}")
                    bad = True
                elif not isinstance(obj[field], typ):
                    errors.append(f"{where}: {field!r} should be {typ.__name__}")
                    bad = True
            extra = set(obj) - set(FIELDS)
            if extra:
                print(f"warning: {where}: extra fields {sorted(extra)}", file=sys.stderr)
            if bad:
                continue
            qid, lang = obj["id"], obj["lang"]
            where = f"{where} ({qid})"
            if not qid.strip():
                errors.append(f"{where}: empty id")
            if qid in seen:
                errors.append(f"{where}: duplicate id, first in {seen[qid]}")
            seen[qid] = where
            if not obj["question"].strip():
                errors.append(f"{where}: empty question")
            if not re.fullmatch(r"[a-z]{2}", lang):
                errors.append(f"{where}: lang {lang!r} is not an ISO 639-1 code")
            exp = obj["expect_any"]
            if obj["answerable"]:
                if not exp:
                    errors.append(f"{where}: answerable but expect_any is empty")
            elif exp:
                errors.append(f"{where}: unanswerable but expect_any is not empty")
            for e in exp:
                if not isinstance(e, str) or not e.strip():
                    errors.append(f"{where}: expect_any entry {e!r} is not a non-empty string")
                    continue
                ne = norm(e)
                if not any(ne in text for text in docs.values()):
                    errors.append(f"{where}: {e!r} does not occur in the knowledge base")

            if lang == "en":
                counts[split]["answerable English" if obj["answerable"] else "unanswerable English"] += 1
            else:
                counts[split]["other languages"] += 1
                per_lang[split][lang]["answerable" if obj["answerable"] else "unanswerable"] += 1

    print(f"knowledge base: {args.kb} ({len(docs)} files, PDF text via "
          f"{'pdftotext' if shutil.which('pdftotext') else 'built-in reader'})")
    total = Counter()
    for split in SPLITS:
        c = counts[split]
        n = sum(c.values())
        total.update(c)
        print(f"\n{split}: {n} questions")
        for cat in ("answerable English", "unanswerable English", "other languages"):
            print(f"  {cat:22s} {c[cat]:4d}")
        for lang in sorted(per_lang[split]):
            lc = per_lang[split][lang]
            print(f"    {lang}: {lc['answerable']} answerable, {lc['unanswerable']} unanswerable")
        for cat in ("answerable English", "unanswerable English", "other languages"):
            if c[cat] == 0:
                errors.append(f"{split}: no {cat} questions")
    grand = sum(total.values())
    if grand:
        print(f"\ntotal: {grand} questions "
              + ", ".join(f"{s} {sum(counts[s].values())} ({100 * sum(counts[s].values()) / grand:.0f}%)"
                          for s in SPLITS))

    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
