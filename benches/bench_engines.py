"""`just bench-engines`: crossthemes, ONNX Runtime and PyTorch side by side
(issue 18), on the same model directory and the same model inputs, one
sitting, at 1 thread and at all of the machine's threads, as one table with
each engine's tokens/s and its ratio to crossthemes f32 at the same threads.

crossthemes runs `bench-embed --input ARTICLES` (f32, bf16 where the CPU
has AVX512-BF16, and on AVX-512 CPUs f32 again capped to its AVX2 path);
the others embed the model inputs that run dumps, batched
the same way. PyTorch is skipped, and says so, when it is not installed.

    pip install onnx onnxruntime tokenizers numpy   (and torch transformers)
    python3 benches/bench_engines.py target/release/crossthemes models/multilingual-e5-small-q4 seeds
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import onnx_reference  # noqa: E402


def cpu_name():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def crossthemes(binary, articles, precision, threads, dump=None, simd=None):
    command = [binary, "bench-embed", "--input", articles, "--precision", precision, "--threads", str(threads)]
    if dump:
        command += ["--dump-inputs", dump]
    env = dict(os.environ, CROSSTHEMES_SIMD=simd) if simd else None
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    tokens_per_s = float(re.search(r"^tokens/s\s+([\d.]+)", out, re.M).group(1))
    device = re.search(r"^device\s+(.*)$", out, re.M).group(1)
    return tokens_per_s, device


def pytorch(model_dir, texts, threads, batch_size, int8=False):
    try:
        import torch
        from transformers import AutoModel, PreTrainedTokenizerFast
    except ImportError:
        return None
    import pytorch_reference

    torch.set_num_threads(threads)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=f"{model_dir}/tokenizer.json", pad_token="<pad>")
    model = AutoModel.from_pretrained(model_dir).eval()
    if int8:
        # PyTorch's CPU int8 path for Linear layers: int8 weights,
        # activations quantized dynamically at run time.
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    pytorch_reference.embed(model, tokenizer, texts[:batch_size], batch_size, False)
    best = 0.0
    for _ in range(2):
        _, tokens, seconds = pytorch_reference.embed(model, tokenizer, texts, batch_size, False)
        best = max(best, tokens / seconds)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("model_dir")
    parser.add_argument("articles")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        help="thread counts to measure (default: 1 and all of the machine's)",
    )
    args = parser.parse_args()

    dump = "target/bench-engines-inputs.jsonl"
    Path(dump).parent.mkdir(parents=True, exist_ok=True)
    all_threads = os.cpu_count() or 1
    thread_counts = sorted(set(args.threads or [1, all_threads]))
    crossthemes(args.binary, args.articles, "f32", 1, dump)  # writes the inputs, warms the caches
    texts = [json.loads(line) for line in open(dump, encoding="utf-8") if line.strip()]
    ids = onnx_reference.tokenized(args.model_dir, texts)
    model_path = onnx_reference.export(args.model_dir, "target/e5-small.onnx")

    rows = []
    for threads in thread_counts:
        ours, device = max(crossthemes(args.binary, args.articles, "f32", threads) for _ in range(2))
        rows.append(("crossthemes native f32", threads, ours, ours))
        bf16, bf16_device = max(crossthemes(args.binary, args.articles, "bf16", threads) for _ in range(2))
        if "bf16" in bf16_device:
            rows.append(("crossthemes native bf16", threads, bf16, ours))
        int8, int8_device = max(crossthemes(args.binary, args.articles, "int8", threads) for _ in range(2))
        if "int8" in int8_device:
            rows.append(("crossthemes native int8 (AVX512-VNNI)", threads, int8, ours))
        int8_256, int8_256_device = max(
            crossthemes(args.binary, args.articles, "int8", threads, simd="avx2") for _ in range(2)
        )
        if "int8" in int8_256_device:
            rows.append(("crossthemes native int8, AVX2 path (AVX-VNNI)", threads, int8_256, ours))
        if "AVX-512" in device:
            # The AVX2 path, as an AVX2-only CPU runs it (CROSSTHEMES_SIMD caps every kernel).
            avx2, _ = max(crossthemes(args.binary, args.articles, "f32", threads, simd="avx2") for _ in range(2))
            rows.append(("crossthemes native f32, AVX2 path (CROSSTHEMES_SIMD=avx2)", threads, avx2, ours))
        session = onnx_reference.session(model_path, threads)
        onnx_reference.run(session, ids[: args.batch_size], args.batch_size)
        best = 0.0
        for _ in range(2):
            _, tokens, seconds = onnx_reference.run(session, ids, args.batch_size)
            best = max(best, tokens / seconds)
        rows.append((f"ONNX Runtime {onnx_reference.ort.__version__} f32", threads, best, ours))
        torch_rate = pytorch(args.model_dir, texts, threads, args.batch_size)
        if torch_rate is None:
            rows.append(("PyTorch f32 (not installed: pip install torch transformers)", threads, None, ours))
        else:
            rows.append(("PyTorch f32", threads, torch_rate, ours))
            torch_int8 = pytorch(args.model_dir, texts, threads, args.batch_size, int8=True)
            rows.append(("PyTorch int8 (quantize_dynamic)", threads, torch_int8, ours))

    tokens = sum(map(len, ids))
    print(f"{cpu_name()}, {all_threads} threads; {args.articles}: {len(texts)} paragraphs, {tokens} tokens; best of 2 runs each")
    print("| engine | threads | tokens/s | crossthemes f32 ÷ engine |")
    print("|---|---|---|---|")
    for name, threads, rate, ours in rows:
        if rate is None:
            print(f"| {name} | {threads} | – | – |")
        else:
            print(f"| {name} | {threads} | {rate:,.0f} | {ours / rate:.2f}× |")
    for threads in thread_counts:
        at = [(name, rate) for name, t, rate, _ in rows if t == threads and rate]
        int8 = [rate for name, rate in at if name.startswith("crossthemes native int8 (")]
        others = [(rate, name) for name, rate in at if not name.startswith("crossthemes")]
        if int8 and others:
            rate, name = max(others)
            print(f"{threads} threads: crossthemes int8 is {int8[0] / rate:.2f}x the fastest other engine ({name})")


if __name__ == "__main__":
    main()
