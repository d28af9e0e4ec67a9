"""PyTorch side of the embedding throughput comparison (issue 5).

Runs the same model directory and the same model inputs as `crossthemes
bench-embed --dump-inputs FILE` (one JSON string per line, prompt included),
in the same way: sorted by length, batches of 32, mean pooling, L2 norm.
Prints tokens/s for f32, bf16 autocast (f32 weights, bf16 matrix products)
and bf16 weights (the whole model cast), and each one's cosine to f32.

    pip install torch transformers
    python3 benches/pytorch_reference.py models/multilingual-e5-small-q4 inputs.jsonl --threads 2
"""

import argparse
import json
import time

import torch
from transformers import AutoModel, PreTrainedTokenizerFast


def embed(model, tokenizer, texts, batch_size, autocast):
    order = sorted(range(len(texts)), key=lambda i: -len(tokenizer(texts[i])["input_ids"]))
    out = [None] * len(texts)
    tokens = 0
    start = time.perf_counter()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=512, return_tensors="pt")
            tokens += int(enc["attention_mask"].sum())
            hidden = model(**enc).last_hidden_state.float()
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            for i, row in zip(idx, pooled):
                out[i] = row
    seconds = time.perf_counter() - start
    return torch.stack(out), tokens, seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("inputs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.inputs, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f if line.strip()]
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=f"{args.model_dir}/tokenizer.json", pad_token="<pad>")
    model = AutoModel.from_pretrained(args.model_dir).eval()
    print(f"torch {torch.__version__}, {args.threads} threads, {len(texts)} texts")
    results = {}
    for name, dtype, autocast in (
        ("f32", torch.float32, False),
        ("bf16 autocast", torch.float32, True),
        ("bf16 weights", torch.bfloat16, False),
    ):
        model = model.to(dtype)
        embed(model, tokenizer, texts[: args.batch_size], args.batch_size, autocast)  # warm-up
        for run in range(args.repeat):
            vectors, tokens, seconds = embed(model, tokenizer, texts, args.batch_size, autocast)
            print(f"{name:13} run {run + 1}: {tokens} tokens in {seconds:.2f} s = {tokens / seconds:,.0f} tokens/s")
        results[name] = vectors
    for name in ("bf16 autocast", "bf16 weights"):
        cosine = (results["f32"] * results[name]).sum(-1)
        print(f"{name} vs f32 cosine: min {cosine.min():.5f}, mean {cosine.mean():.5f}")

if __name__ == "__main__":
    main()
