"""Checks sbp's model folders and exports with the libraries other tools use.

Usage: python test/python/check_interop.py <expect.json>
expect.json is written by test/pystack/interop.test.ts from a toy run: paths and what sbp computed.
Each check prints one line; any mismatch raises AssertionError (exit status 1).
"""
import json
import struct
import sys

import numpy as np

expect = json.load(open(sys.argv[1]))
run = expect["runDir"]
model_dir = expect["modelDir"]


def say(what, detail):
    print(f"ok  {what}: {detail}", flush=True)


# --- transformers: tokenizer ------------------------------------------------------------------
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

tok = AutoTokenizer.from_pretrained(model_dir)
sp = expect["special"]
assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (sp["bos"], sp["eos"], sp["pad"]), (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, sp)
assert len(tok) == expect["tokenizerSize"], (len(tok), expect["tokenizerSize"])
for case in expect["texts"]:
    ids = tok(case["text"])["input_ids"]
    assert ids == case["ids"], f"{case['text']!r}: transformers {ids} != sbp {case['ids']}"
    plain = tok(case["text"], add_special_tokens=False)["input_ids"]
    assert plain == case["ids"][1:] or case["text"].startswith("<|bos|>"), (case["text"], plain)
    back = tok.decode(ids, skip_special_tokens=True)
    assert back == case["withoutSpecial"], f"decode(skip_special_tokens) {back!r} != {case['withoutSpecial']!r}"
say("AutoTokenizer", f"transformers {transformers.__version__}, {len(expect['texts'])} texts give sbp's ids (bos added), special texts map to their ids, skip_special_tokens drops them; bos/eos/pad = {tok.bos_token_id}/{tok.eos_token_id}/{tok.pad_token_id}, {len(tok)} tokens")

# the synthesizer's framing from text, as an OpenAI-compatible server tokenizes a prompt
for f in expect["framing"]:
    prompt_ids = tok(f["d1"] + tok.sep_token)["input_ids"]
    assert prompt_ids == f["prompt"], f"prompt framing {prompt_ids} != sbp {f['prompt']}"
    row_ids = tok(f["d1"] + tok.sep_token + f["d2"] + tok.eos_token)["input_ids"]
    assert row_ids == f["row"], f"row framing differs"
say("synthesizer framing", f"{len(expect['framing'])} pairs: tokenizer(d1 + '<|sep|>') == [bos] d1 [sep] and d1<|sep|>d2<|eos|> == sbp's training row")

# --- transformers: greedy generation ----------------------------------------------------------
import torch

min_gap = float("inf")
checked = []
for entry in expect["greedyModels"]:
    m = AutoModelForCausalLM.from_pretrained(entry["dir"], dtype=torch.float32)
    m.eval()
    for g in entry["greedy"]:
        inp = torch.tensor([g["prompt"]])
        with torch.no_grad():
            out = m.generate(inp, max_new_tokens=len(g["tokens"]) + 1, do_sample=False, eos_token_id=sp["eos"], pad_token_id=sp["pad"], output_scores=True, return_dict_in_generate=True)
        new = out.sequences[0, inp.shape[1]:].tolist()
        if g["stopped"]:
            assert new[len(g["tokens"])] == sp["eos"], f"{entry['name']}: transformers does not stop where sbp does"
        new = new[: len(g["tokens"])]
        assert new == g["tokens"], f"{entry['name']} greedy: transformers {new} != sbp {g['tokens']}"
        for sc in out.scores[: len(g["tokens"])]:
            top = torch.topk(sc[0], 2).values
            min_gap = min(min_gap, float(top[0] - top[1]))
    checked.append(f"{entry['name']} ({m.config.architectures[0]}, {len(entry['greedy'])} prompts, {sum(len(g['tokens']) for g in entry['greedy'])} tokens, {len(set(t for g in entry['greedy'] for t in g['tokens']))} distinct)")
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
say("AutoModelForCausalLM.generate", f"greedy tokens identical to sbp's for {'; '.join(checked)}; smallest top-2 logit gap {min_gap:.2e}")

# --- bf16, sharded model folders come back ------------------------------------------------------
model.to(torch.bfloat16).save_pretrained(expect["bf16Dir"], max_shard_size="10KB")
tok.save_pretrained(expect["bf16Dir"])
say("save_pretrained", f"bf16 sharded copy written to {expect['bf16Dir']} for sbp to load")

# --- token exports --------------------------------------------------------------------------
for ds in expect["tokenDatasets"]:
    want = np.array(ds["tokens"], dtype=np.int64)
    # nanoGPT: raw uint16
    got = np.memmap(f"{run}/export/nanogpt/{ds['name']}.bin", dtype=np.uint16, mode="r")
    assert np.array_equal(got.astype(np.int64), want), ds["name"]
    # llm.c: 256 int32 header then tokens
    raw = open(f"{run}/export/llmc/{ds['name']}.bin", "rb").read()
    header = np.frombuffer(raw[:1024], dtype=np.int32)
    assert header[0] == 20240520 and header[1] == 1 and header[2] == len(want), header[:3]
    assert np.array_equal(np.frombuffer(raw[1024:], dtype=np.uint16).astype(np.int64), want)
    # Megatron MMIDIDX, parsed from the format's description
    idx = open(f"{run}/export/megatron/{ds['name']}.idx", "rb").read()
    assert idx[:9] == b"MMIDIDX\x00\x00"
    version, = struct.unpack("<Q", idx[9:17])
    code, = struct.unpack("<B", idx[17:18])
    seqs, docs = struct.unpack("<QQ", idx[18:34])
    assert version == 1 and code == 8 and docs == seqs + 1
    lengths = np.frombuffer(idx, dtype=np.int32, count=seqs, offset=34)
    pointers = np.frombuffer(idx, dtype=np.int64, count=seqs, offset=34 + 4 * seqs)
    doc_idx = np.frombuffer(idx, dtype=np.int64, count=docs, offset=34 + 12 * seqs)
    assert np.array_equal(doc_idx, np.arange(seqs + 1))
    bin_ = np.memmap(f"{run}/export/megatron/{ds['name']}.bin", dtype=np.uint16, mode="r")
    seq = [bin_[p // 2: p // 2 + n] for p, n in zip(pointers, lengths)]
    assert np.array_equal(np.concatenate(seq).astype(np.int64), want)
    assert all(int(s[0]) == sp["bos"] and int(s[-1]) == sp["eos"] for s in seq)
    assert list(lengths) == ds["lengths"]
say("token exports", f"{len(expect['tokenDatasets'])} datasets: nanoGPT np.memmap, llm.c header + tokens, Megatron .idx/.bin all hold sbp's [bos] doc [eos] stream")

# --- Parquet: pyarrow and datasets ---------------------------------------------------------------
import datasets
import pyarrow.parquet as pq

files = [f"{run}/export/parquet/{f}" for f in ("corpus-train.parquet", "synth-train.parquet")]
schemas = [pq.read_schema(f) for f in files]
assert schemas[0].equals(schemas[1]), (schemas[0], schemas[1])
assert str(schemas[0].field("temperature").type) == "double"
table = pq.read_table(files[0])
assert table.column("id").to_pylist() == [d["id"] for d in expect["corpusTrain"]]
assert table.column("text").to_pylist() == [d["text"] for d in expect["corpusTrain"]]
both = datasets.load_dataset("parquet", data_files={"train": files})["train"]
assert both.num_rows == len(expect["corpusTrain"]) + expect["synthDocs"]
synth = both.filter(lambda r: r["synthetic"])
assert synth.num_rows == expect["synthDocs"] and all(isinstance(t, float) for t in synth["temperature"])
card = datasets.load_dataset(f"{run}/export/parquet")
assert card["train"].num_rows == len(expect["corpusTrain"]), card
say("Parquet", f"pyarrow {pq.__name__.split('.')[0]} schemas of real and synthetic files equal (temperature double); datasets {datasets.__version__} loads both together ({both.num_rows} rows) and the folder by its card ({list(card.keys())})")

# --- pairs JSONL -----------------------------------------------------------------------------
pairs = datasets.load_dataset("json", data_files=f"{run}/export/pairs/pairs.jsonl")["train"]
assert pairs.num_rows == expect["pairs"]
row = pairs[0]
p_ids = tok(row["prompt"])["input_ids"]
c_ids = tok(row["completion"], add_special_tokens=False)["input_ids"]
assert p_ids[0] == sp["bos"] and p_ids[-1] == sp["sep"] and c_ids[-1] == sp["eos"], (p_ids[-3:], c_ids[-3:])
say("pairs JSONL", f"{pairs.num_rows} prompt/completion rows; tokenizer(prompt) = [bos] d1 [sep], completion = d2 [eos]")

# --- GGUF --------------------------------------------------------------------------------------
import gguf
from safetensors.numpy import load_file

reader = gguf.GGUFReader(f"{run}/export/gguf/{expect['ggufModel']}.gguf")
field = lambda k: reader.fields[k]
arch = bytes(field("general.architecture").parts[-1]).decode()
assert int(field(f"{arch}.block_count").parts[-1][0]) == expect["modelConfig"]["num_hidden_layers"]
assert int(field("tokenizer.ggml.eos_token_id").parts[-1][0]) == sp["eos"]
n_tokens = len(field("tokenizer.ggml.tokens").data)
assert n_tokens == expect["modelConfig"]["vocab_size"], n_tokens
weights = load_file(f"{model_dir}/model.safetensors")
tensors = {t.name: t for t in reader.tensors}
emb = tensors["token_embd.weight"]
assert np.array_equal(np.asarray(emb.data).reshape(weights["model.embed_tokens.weight"].shape), weights["model.embed_tokens.weight"])
down = tensors["blk.0.ffn_down.weight"]
assert np.array_equal(np.asarray(down.data).reshape(weights["model.layers.0.mlp.down_proj.weight"].shape), weights["model.layers.0.mlp.down_proj.weight"])
assert len(reader.tensors) == expect["ggufTensors"]
say("GGUF", f"gguf {getattr(gguf, '__version__', '')} reads {arch}, {len(reader.tensors)} tensors, {n_tokens} tokens; token_embd and ffn_down equal the safetensors weights")
print("all interop checks passed")
