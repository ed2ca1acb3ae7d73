#!/usr/bin/env python3
"""The Python pipeline a user would write instead of docfleet, for `benches/run-vs-python`: every
PDF of a folder through pypdfium2 (text, page by page), the model's tokenizer (windows of 256
tokens overlapping by 32, docfleet's defaults), onnxruntime's f32 graph of the same model
(batches of 32, mean pooling, L2 norm; as fast as its CPU session options allow: graph
optimisations on, every core) and a vector file per document (numpy .npy) in --out.

Usage: python_peer.py --model-dir DIR --docs DIR --out DIR [--graph model.onnx]
Prints `python peer: N documents, P pages, C chunks in S s: D docs/s, ...`.
"""
import argparse
import os
import pathlib
import time

import numpy as np
import onnxruntime as ort
import pypdfium2 as pdfium
from tokenizers import Tokenizer

MAX_TOKENS, OVERLAP, BATCH = 256, 32, 32


def pdf_text(path):
    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()
    return pages


def chunks(tok, text):
    """Token windows of MAX_TOKENS (special tokens included), OVERLAP apart, as token ids."""
    ids = tok.encode(text, add_special_tokens=False).ids
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    body = MAX_TOKENS - 2
    out = []
    for start in range(0, max(len(ids), 1), body - OVERLAP):
        out.append([cls] + ids[start : start + body] + [sep])
        if start + body >= len(ids):
            break
    return out


def embed(session, windows):
    longest = max(len(w) for w in windows)
    ids = np.zeros((len(windows), longest), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, w in enumerate(windows):
        ids[i, : len(w)] = w
        mask[i, : len(w)] = 1
    (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
    pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--docs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--graph", help="the f32 ONNX graph (benches/ort_peer.py builds it)")
    args = ap.parse_args()

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = os.cpu_count() or 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.graph, opts, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(str(pathlib.Path(args.model_dir) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    docs = pages = n_chunks = tokens = 0
    for path in sorted(pathlib.Path(args.docs).rglob("*.pdf")):
        text_pages = pdf_text(path)
        windows = chunks(tok, "\n".join(text_pages))
        windows.sort(key=len)  # less padding per batch
        vectors = np.concatenate([embed(session, windows[i : i + BATCH]) for i in range(0, len(windows), BATCH)])
        np.save(out / f"{path.stem}.npy", vectors)
        docs += 1
        pages += len(text_pages)
        n_chunks += len(windows)
        tokens += sum(len(w) for w in windows)
    secs = time.perf_counter() - started
    print(
        f"python peer: {docs} documents, {pages} pages, {n_chunks} chunks in {secs:.2f} s: "
        f"{docs / secs:.2f} docs/s, {pages / secs:.1f} pages/s, {n_chunks / secs:.1f} chunks/s, "
        f"{tokens / secs:.0f} tokens/s (onnxruntime {ort.__version__} f32, {opts.intra_op_num_threads} threads)"
    )


if __name__ == "__main__":
    main()
