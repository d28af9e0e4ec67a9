"""ONNX Runtime side of the engine comparison (issue 18).

Builds an ONNX graph of the BERT encoder straight from a model directory
(config.json + model.safetensors, f32), the same computation crossthemes
runs: embeddings, 12 post-norm encoder layers (attention with the padding
mask, GELU by erf), mean pooling over real tokens, L2 norm. No PyTorch is
needed to export it: the graph is written with the `onnx` package's helpers,
and its weights are read from the safetensors file directly.

Then, on the same model inputs as `crossthemes bench-embed --dump-inputs
FILE` (one JSON string per line, prompt included), tokenized with the model
directory's tokenizer.json, in the same way as crossthemes batches them
(sorted by length, batches of 32, padded to the batch's longest): prints
tokens/s of ONNX Runtime f32 at each thread count asked for, and its cosine
to the fixture embeddings (../shared/fixtures) as a check that it computes
the model.

    pip install onnx onnxruntime tokenizers numpy
    python3 benches/onnx_reference.py models/multilingual-e5-small-q4 inputs.jsonl --threads 1 --threads 2
"""

import argparse
import json
import struct
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer


def read_safetensors(path):
    raw = Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{name}: expected F32 weights, found {info['dtype']}")
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(raw[base + start : base + end], dtype="<f4").reshape(info["shape"])
    # Some exports prefix every name with the model type.
    return {k.removeprefix("bert."): v for k, v in tensors.items()}


def build_graph(model_dir):
    config = json.loads((Path(model_dir) / "config.json").read_text())
    weights = read_safetensors(Path(model_dir) / "model.safetensors")
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = hidden // heads
    eps = float(config["layer_norm_eps"])
    nodes, inits = [], []

    def init(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def const(name, values, dtype=np.int64):
        inits.append(numpy_helper.from_array(np.array(values, dtype=dtype), name))
        return name

    counter = [0]

    def node(op, inputs, **attrs):
        counter[0] += 1
        out = f"{op.lower()}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(x, prefix):
        # torch Linear stores [out, in]; x @ W^T + b.
        w = init(f"{prefix}.weight.t", weights[f"{prefix}.weight"].T)
        b = init(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return node("Add", [node("MatMul", [x, w]), b])

    def layer_norm(x, prefix):
        g = init(f"{prefix}.weight", weights[f"{prefix}.weight"])
        b = init(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return node("LayerNormalization", [x, g, b], axis=-1, epsilon=eps)

    # Embeddings: word + position (0..L-1) + token type 0.
    word = init("word_embeddings", weights["embeddings.word_embeddings.weight"])
    position = init("position_embeddings", weights["embeddings.position_embeddings.weight"])
    token_type = init("token_type_0", weights["embeddings.token_type_embeddings.weight"][0])
    shape = node("Shape", ["input_ids"])
    length = node("Gather", [shape, const("one", 1)], axis=0)
    positions = node("Range", [const("zero", 0), length, const("step", 1)])
    x = node("Add", [node("Gather", [word, "input_ids"]), node("Gather", [position, positions])])
    x = layer_norm(node("Add", [x, token_type]), "embeddings.LayerNorm")

    # Additive mask [batch, 1, 1, L]: 0 for tokens, a large negative for padding.
    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    additive = node("Mul", [node("Sub", [const("onef", 1.0, np.float32), mask]), const("neg", -1e4, np.float32)])
    additive = node("Unsqueeze", [additive, const("axes12", [1, 2])])
    split_shape = const("split_shape", [0, 0, heads, head_dim])
    merge_shape = const("merge_shape", [0, 0, hidden])
    scale = const("scale", 1.0 / np.sqrt(head_dim), np.float32)
    rsqrt2 = const("rsqrt2", 1 / np.sqrt(2), np.float32)
    half = const("half", 0.5, np.float32)

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"

        def heads_of(t):
            return node("Transpose", [node("Reshape", [t, split_shape])], perm=[0, 2, 1, 3])

        q = heads_of(linear(x, f"{p}.attention.self.query"))
        k = heads_of(linear(x, f"{p}.attention.self.key"))
        v = heads_of(linear(x, f"{p}.attention.self.value"))
        scores = node("Mul", [node("MatMul", [q, node("Transpose", [k], perm=[0, 1, 3, 2])]), scale])
        probs = node("Softmax", [node("Add", [scores, additive])], axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merge_shape])
        attended = linear(context, f"{p}.attention.output.dense")
        x = layer_norm(node("Add", [attended, x]), f"{p}.attention.output.LayerNorm")
        inner = linear(x, f"{p}.intermediate.dense")
        # GELU by erf: 0.5 x (1 + erf(x / sqrt 2)).
        erf = node("Erf", [node("Mul", [inner, rsqrt2])])
        gelu = node("Mul", [node("Mul", [inner, half]), node("Add", [erf, "onef"])])
        out = linear(gelu, f"{p}.output.dense")
        x = layer_norm(node("Add", [out, x]), f"{p}.output.LayerNorm")

    # Mean over real tokens, then unit length.
    weights_3d = node("Unsqueeze", [mask, const("axis2", [2])])
    summed = node("ReduceSum", [node("Mul", [x, weights_3d]), const("axis1", [1])], keepdims=0)
    count = node("ReduceSum", [mask, "axis1"], keepdims=1)
    pooled = node("Div", [summed, count])
    norm = node("Sqrt", [node("ReduceSum", [node("Mul", [pooled, pooled]), const("axisl", [1])], keepdims=1)])
    nodes.append(helper.make_node("Div", [pooled, norm], ["embedding"]))

    graph = helper.make_graph(
        nodes,
        "e5",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "length"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def export(model_dir, path):
    """Writes the graph to `path` (weights beside it); returns the path."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(build_graph(model_dir), path, save_as_external_data=True, location=Path(path).name + ".data")
    return path


def tokenized(model_dir, texts):
    """Token ids as crossthemes makes them, cut at the model's 512."""
    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    return [e.ids[:512] for e in tokenizer.encode_batch(texts)]


def session(model_path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])


def run(sess, id_lists, batch_size):
    order = sorted(range(len(id_lists)), key=lambda i: -len(id_lists[i]))
    out = [None] * len(id_lists)
    tokens = 0
    start = time.perf_counter()
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        longest = max(len(id_lists[i]) for i in idx)
        ids = np.ones((len(idx), longest), dtype=np.int64)  # <pad> = 1
        mask = np.zeros((len(idx), longest), dtype=np.int64)
        for row, i in enumerate(idx):
            ids[row, : len(id_lists[i])] = id_lists[i]
            mask[row, : len(id_lists[i])] = 1
        tokens += int(mask.sum())
        (vectors,) = sess.run(None, {"input_ids": ids, "attention_mask": mask})
        for row, i in enumerate(idx):
            out[i] = vectors[row]
    return np.stack(out), tokens, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("inputs")
    parser.add_argument("--threads", type=int, action="append")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--fixtures", default="../shared/fixtures/reference-e5-small-q4.jsonl")
    parser.add_argument("--onnx", default="target/e5-small.onnx")
    args = parser.parse_args()
    export(args.model_dir, args.onnx)
    with open(args.inputs, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f if line.strip()]
    id_lists = tokenized(args.model_dir, texts)
    print(f"onnxruntime {ort.__version__}, {len(texts)} texts, {sum(map(len, id_lists))} tokens")

    fixtures = [json.loads(line) for line in open(args.fixtures, encoding="utf-8")]
    check, _, _ = run(session(args.onnx, 1), [f["token_ids"] for f in fixtures], args.batch_size)
    cosine = (check * np.array([f["embedding"] for f in fixtures])).sum(-1)
    print(f"cosine to the {len(fixtures)} fixture embeddings: min {cosine.min():.4f}, mean {cosine.mean():.4f}")

    for threads in args.threads or [1]:
        sess = session(args.onnx, threads)
        run(sess, id_lists[: args.batch_size], args.batch_size)  # warm-up
        for r in range(args.repeat):
            _, tokens, seconds = run(sess, id_lists, args.batch_size)
            print(f"onnxruntime f32, {threads} thread(s), run {r + 1}: {tokens} tokens in {seconds:.2f} s = {tokens / seconds:,.0f} tokens/s")


if __name__ == "__main__":
    main()
