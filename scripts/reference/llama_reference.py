#!/usr/bin/python3
"""PyTorch reference of sbp's Llama/Qwen3-style decoder, written from the maths in plain torch.

Two modes:
  llama_reference.py [--out test/golden]
      builds two tiny configs (one with QK-norm and tied embeddings, one plain), seeds the weights and
      writes golden files in float64-computed precision: the weights as a Hugging Face folder
      (config.json + model.safetensors), inputs / targets / mask, logits, loss, every parameter
      gradient, and the losses and final weights of 10 torch.optim.AdamW steps.
  llama_reference.py --check-checkpoint FOLDER [--logits FILE]
      loads an sbp-written Hugging Face folder, recomputes the logits of the tokens listed in FILE
      (default FOLDER/sbp-logits.json: {"B", "T", "tokens", "logits"}) and prints the largest
      |logit difference| against sbp's, as JSON.

Needs only torch and numpy (Debian: python3-torch). Everything is computed in float64 so that the
goldens measure the float32 error of sbp, not the reference's own.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

# ---------------------------------------------------------------- safetensors (tiny format, by hand)


def write_safetensors(path, tensors):
    """tensors: list of (name, float32 numpy array)."""
    header, offset, blobs = {}, 0, []
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr, dtype='<f4')
        header[name] = {'dtype': 'F32', 'shape': list(arr.shape), 'data_offsets': [offset, offset + arr.nbytes]}
        offset += arr.nbytes
        blobs.append(arr.tobytes())
    text = json.dumps(header).encode('utf8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        begin, end = e['data_offsets']
        dt = {'F32': '<f4', 'F16': '<f2', 'F64': '<f8'}[e['dtype']]
        out[name] = np.frombuffer(data[base + begin:base + end], dtype=dt).astype(np.float32).reshape(e['shape'])
    return out


# ---------------------------------------------------------------- the model


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, theta):
    """x (B, T, NH, D); rotate-half layout: pairs (i, i + D/2) turn by angle t * theta^(-2i/D)."""
    T, D = x.shape[1], x.shape[3]
    half = D // 2
    inv = theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / D)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]  # (T, D/2)
    cos = ang.cos()[None, :, None, :].to(x.dtype)
    sin = ang.sin()[None, :, None, :].to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def forward(cfg, p, tokens):
    """p: name -> tensor (HF names). tokens (B, T) int64. Returns logits (B, T, V)."""
    B, T = tokens.shape
    H, KVH, D, eps = cfg['num_attention_heads'], cfg['num_key_value_heads'], cfg['head_dim'], cfg['rms_norm_eps']
    qk_norm = cfg['architectures'][0] == 'Qwen3ForCausalLM'
    x = p['model.embed_tokens.weight'][tokens]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(cfg['num_hidden_layers']):
        pre = f'model.layers.{l}.'
        h = rmsnorm(x, p[pre + 'input_layernorm.weight'], eps)
        q = (h @ p[pre + 'self_attn.q_proj.weight'].T).view(B, T, H, D)
        k = (h @ p[pre + 'self_attn.k_proj.weight'].T).view(B, T, KVH, D)
        v = (h @ p[pre + 'self_attn.v_proj.weight'].T).view(B, T, KVH, D)
        if qk_norm:
            q = rmsnorm(q, p[pre + 'self_attn.q_norm.weight'], eps)
            k = rmsnorm(k, p[pre + 'self_attn.k_norm.weight'], eps)
        q, k = rope(q, cfg['rope_theta']), rope(k, cfg['rope_theta'])
        k = k.repeat_interleave(H // KVH, dim=2)  # query head h reads KV head h // (H / KVH)
        v = v.repeat_interleave(H // KVH, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, H, T, D)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~causal, float('-inf'))
        att = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * D)
        x = x + att @ p[pre + 'self_attn.o_proj.weight'].T
        h = rmsnorm(x, p[pre + 'post_attention_layernorm.weight'], eps)
        gate = h @ p[pre + 'mlp.gate_proj.weight'].T
        up = h @ p[pre + 'mlp.up_proj.weight'].T
        x = x + (torch.nn.functional.silu(gate) * up) @ p[pre + 'mlp.down_proj.weight'].T
    x = rmsnorm(x, p['model.norm.weight'], eps)
    head = p['model.embed_tokens.weight'] if cfg['tie_word_embeddings'] else p['lm_head.weight']
    return x @ head.T


def masked_loss(logits, targets, mask):
    V = logits.shape[-1]
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction='none')
    m = mask.reshape(-1)
    return (nll * m).sum() / m.sum()


def param_shapes(cfg):
    C, F, V = cfg['hidden_size'], cfg['intermediate_size'], cfg['vocab_size']
    qd = cfg['num_attention_heads'] * cfg['head_dim']
    kvd = cfg['num_key_value_heads'] * cfg['head_dim']
    out = [('model.embed_tokens.weight', (V, C))]
    for l in range(cfg['num_hidden_layers']):
        pre = f'model.layers.{l}.'
        out += [(pre + 'input_layernorm.weight', (C,)), (pre + 'self_attn.q_proj.weight', (qd, C)),
                (pre + 'self_attn.k_proj.weight', (kvd, C)), (pre + 'self_attn.v_proj.weight', (kvd, C)),
                (pre + 'self_attn.o_proj.weight', (C, qd))]
        if cfg['architectures'][0] == 'Qwen3ForCausalLM':
            out += [(pre + 'self_attn.q_norm.weight', (cfg['head_dim'],)), (pre + 'self_attn.k_norm.weight', (cfg['head_dim'],))]
        out += [(pre + 'post_attention_layernorm.weight', (C,)), (pre + 'mlp.gate_proj.weight', (F, C)),
                (pre + 'mlp.up_proj.weight', (F, C)), (pre + 'mlp.down_proj.weight', (C, F))]
    out.append(('model.norm.weight', (C,)))
    if not cfg['tie_word_embeddings']:
        out.append(('lm_head.weight', (V, C)))
    return out


# ---------------------------------------------------------------- goldens

CASES = [
    # name, QK-norm (Qwen3), tied embeddings, seed
    ('qknorm-tied', True, True, 1),
    ('plain-untied', False, False, 2),
]
ADAMW = {'lr': 3e-3, 'beta1': 0.9, 'beta2': 0.95, 'eps': 1e-8, 'weight_decay': 0.1, 'steps': 10}


def hf_config(qk_norm, tied):
    return {
        'architectures': ['Qwen3ForCausalLM' if qk_norm else 'LlamaForCausalLM'],
        'model_type': 'qwen3' if qk_norm else 'llama',
        'vocab_size': 64, 'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': 2,
        'num_attention_heads': 4, 'num_key_value_heads': 2, 'head_dim': 8, 'hidden_act': 'silu',
        'max_position_embeddings': 32, 'rope_theta': 10000.0, 'rope_scaling': None, 'rms_norm_eps': 1e-5,
        'tie_word_embeddings': tied, 'attention_bias': False, 'bos_token_id': 1, 'eos_token_id': 2,
        'pad_token_id': 0, 'torch_dtype': 'float32',
    }


def make_golden(out_dir, name, qk_norm, tied, seed):
    B, T = 2, 16
    cfg = hf_config(qk_norm, tied)
    g = torch.Generator().manual_seed(seed)
    # larger than HF's 0.02 init so that every path carries signal; norms near 1 so their gradients matter
    weights = {}
    for pname, shape in param_shapes(cfg):
        if pname.endswith('norm.weight'):
            w = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            w = 0.2 * torch.randn(shape, generator=g)
        weights[pname] = w.float()
    V = cfg['vocab_size']
    tokens = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    mask = (torch.rand(B, T, generator=g) > 0.3).double()
    mask[0, :4] = 0  # a prompt-like prefix without loss, as the synthesizer's d1

    p = {k: v.double().clone().requires_grad_(True) for k, v in weights.items()}
    logits = forward(cfg, p, tokens)
    loss = masked_loss(logits, targets, mask)
    loss.backward()

    # 10 AdamW steps on the same batch; no weight decay on norm weights
    q = {k: v.double().clone().requires_grad_(True) for k, v in weights.items()}
    decay = [v for k, v in q.items() if not k.endswith('norm.weight')]
    no_decay = [v for k, v in q.items() if k.endswith('norm.weight')]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': ADAMW['weight_decay']}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=ADAMW['lr'], betas=(ADAMW['beta1'], ADAMW['beta2']), eps=ADAMW['eps'])
    losses = []
    for _ in range(ADAMW['steps']):
        opt.zero_grad()
        l = masked_loss(forward(cfg, q, tokens), targets, mask)
        l.backward()
        losses.append(l.item())
        opt.step()
    final_loss = masked_loss(forward(cfg, q, tokens), targets, mask).item()

    case_dir = os.path.join(out_dir, name)
    model_dir = os.path.join(case_dir, 'model')
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(model_dir, 'generation_config.json'), 'w') as f:
        json.dump({'bos_token_id': 1, 'eos_token_id': 2, 'pad_token_id': 0}, f, indent=2)
    names = [n for n, _ in param_shapes(cfg)]
    write_safetensors(os.path.join(model_dir, 'model.safetensors'), [(n, weights[n].numpy()) for n in names])
    write_safetensors(os.path.join(case_dir, 'grads.safetensors'), [(n, p[n].grad.float().numpy()) for n in names])
    write_safetensors(os.path.join(case_dir, 'adamw-final.safetensors'), [(n, q[n].detach().float().numpy()) for n in names])
    write_safetensors(os.path.join(case_dir, 'logits.safetensors'), [('logits', logits.detach().float().numpy())])
    meta = {
        'about': 'golden values from scripts/reference/llama_reference.py, computed in float64 with torch ' + torch.__version__,
        'B': B, 'T': T,
        'tokens': tokens.reshape(-1).tolist(),
        'targets': targets.reshape(-1).tolist(),
        'mask': mask.reshape(-1).tolist(),
        'loss': loss.item(),
        'adamw': {**ADAMW, 'no_decay': 'parameters whose name ends in norm.weight', 'schedule': 'constant lr, same batch every step',
                  'losses': losses, 'loss_after': final_loss},
    }
    with open(os.path.join(case_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    print(f'{name}: loss {loss.item():.6f}, adamw losses {losses[0]:.6f} -> {losses[-1]:.6f} -> {final_loss:.6f}')


def check_checkpoint(folder, logits_file):
    with open(os.path.join(folder, 'config.json')) as f:
        cfg = json.load(f)
    cfg.setdefault('head_dim', cfg['hidden_size'] // cfg['num_attention_heads'])
    cfg.setdefault('num_key_value_heads', cfg['num_attention_heads'])
    weights = read_safetensors(os.path.join(folder, 'model.safetensors'))
    p = {k: torch.from_numpy(v.copy()).double() for k, v in weights.items()}
    with open(logits_file or os.path.join(folder, 'sbp-logits.json')) as f:
        saved = json.load(f)
    tokens = torch.tensor(saved['tokens'], dtype=torch.int64).view(saved['B'], saved['T'])
    with torch.no_grad():
        ours = forward(cfg, p, tokens).reshape(-1)
    theirs = torch.tensor(saved['logits'], dtype=torch.float64)
    diff = (ours - theirs).abs().max().item()
    print(json.dumps({'maxAbsLogitDiff': diff, 'logits': ours.numel(), 'architecture': cfg['architectures'][0]}))
    return diff


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='test/golden')
    ap.add_argument('--check-checkpoint', metavar='FOLDER')
    ap.add_argument('--logits', metavar='FILE')
    ap.add_argument('--tolerance', type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_grad_enabled(True)
    if args.check_checkpoint:
        diff = check_checkpoint(args.check_checkpoint, args.logits)
        sys.exit(0 if diff <= args.tolerance else 1)
    for name, qk_norm, tied, seed in CASES:
        make_golden(args.out, name, qk_norm, tied, seed)


if __name__ == '__main__':
    main()
