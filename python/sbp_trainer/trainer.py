"""The training loop of sbp's PyTorch engine, honouring the trainer contract of docs/trainers.md.

    python -m sbp_trainer JOB.json                                   one process (CPU or one GPU)
    python -m torch.distributed.run --standalone --nproc_per_node=N -m sbp_trainer JOB.json

It does what sbp's native trainer does, step for step: the same batches (read from the job's batch
files), the same loss (per micro-batch mean over counted tokens, averaged over the micro-batches of a
step), global-norm clipping (scale by clip/norm when norm > clip), AdamW with decoupled decay on the
parameters the job marks, linear warm-up then cosine to the floor, skipping of non-finite steps,
held-out evaluation, metrics.jsonl rows, checkpoints and resume. Many processes split the rows of
each step (DDP: gradients averaged; FSDP: weights, gradients and optimizer state sharded); every row
keeps the weight it has in the one-process loss, so the result does not depend on how rows are split.
"""
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from .batch_file import BatchFile

CHECKPOINT_FORMAT = 'sbp-torch-checkpoint'


def learning_rate(s, step):
    """The rate of the update that ends step `step` (0-based): src/train/lr-schedule.ts, line for line."""
    if step < s['warmupSteps']:
        return s['peakLr'] * (step + 1) / s['warmupSteps']
    decay_steps = s['totalSteps'] - s['warmupSteps']
    if decay_steps <= 0:
        return s['peakLr']
    progress = min(1.0, (step - s['warmupSteps']) / max(1, decay_steps - 1))
    return s['floorLr'] + 0.5 * (s['peakLr'] - s['floorLr']) * (1 + math.cos(math.pi * progress))


def step_weights(masks, k, B, T):
    """Per-token loss weights of one step (k micro-batches): mask / (k · counted tokens of its micro-batch),
    so Σ w · CE equals the mean over micro-batches of each one's mean loss (sbp's loss). float64 (k·B, T)."""
    out = np.zeros((k * B, T), dtype=np.float64)
    for a, m in enumerate(masks):
        if m is None:
            out[a * B:(a + 1) * B] = 1.0 / (k * B * T)
        else:
            c = float(m.sum())
            if c > 0:
                out[a * B:(a + 1) * B] = m / (k * c)
    return out


def finite_or_none(x):
    return x if x is not None and math.isfinite(x) else None


class Trainer:
    def __init__(self, job_path):
        self.job_path = os.path.abspath(job_path)
        self.job_dir = os.path.dirname(self.job_path)
        with open(self.job_path) as f:
            job = json.load(f)
        if job.get('format') != 'sbp-trainer-job' or job.get('version') != 1:
            raise SystemExit(f'{job_path}: not an sbp trainer job of version 1 (format {job.get("format")!r}, version {job.get("version")!r})')
        self.job = job
        self.tcfg = job.get('torch') or {}
        self.out = os.path.normpath(os.path.join(self.job_dir, job['out']))
        self.stop_requested = False

        self.world = int(os.environ.get('WORLD_SIZE', '1'))
        self.rank = int(os.environ.get('RANK', '0'))
        self.local_rank = int(os.environ.get('LOCAL_RANK', '0'))
        want = self.tcfg.get('device', 'auto')
        if want == 'cuda' and not torch.cuda.is_available():
            raise SystemExit('train.torch.device is cuda but torch sees no GPU')
        self.cuda = torch.cuda.is_available() and want != 'cpu'
        self.device = torch.device('cuda', self.local_rank) if self.cuda else torch.device('cpu')
        if self.cuda:
            torch.cuda.set_device(self.device)
        if self.world > 1:
            dist.init_process_group('nccl' if self.cuda else 'gloo')
        if not self.cuda and job.get('cpuThreads'):
            # sbp's `threads`, shared by the processes on this node; more threads than that oversubscribe
            # the cores (OpenMP workers spin while waiting: 10× slower on a busy machine, measured).
            local_world = int(os.environ.get('LOCAL_WORLD_SIZE', '1'))
            torch.set_num_threads(max(1, job['cpuThreads'] // local_world))
        dtype = self.tcfg.get('dtype', 'auto')
        self.bf16 = dtype == 'bf16' or (dtype == 'auto' and self.cuda)
        self.fsdp = bool(self.tcfg.get('fsdp', False))
        torch.manual_seed(0)  # nothing random happens here (no dropout); sbp owns the initial weights and the data order

    # ------------------------------------------------------------------ output helpers (rank 0)

    def emit(self, row):
        if self.rank == 0:
            print(json.dumps(row), flush=True)

    def log(self, message):
        self.emit({'kind': 'log', 'message': message})

    def write_metrics(self, row):
        if self.rank == 0:
            with open(os.path.join(self.out, 'metrics.jsonl'), 'a') as f:
                f.write(json.dumps(row) + '\n')
        self.emit(row)

    # ------------------------------------------------------------------ model

    def build_model(self):
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        init = os.path.join(self.job_dir, self.job['model']['init'])
        model = AutoModelForCausalLM.from_pretrained(init, dtype=torch.float32, attn_implementation='sdpa')
        named = dict(model.named_parameters())
        want = {p['name']: p for p in self.job['model']['params']}
        if set(named) != set(want):
            raise SystemExit(f'{init}: transformers builds parameters {sorted(set(named) - set(want))} that the job does not list, '
                             f'and the job lists {sorted(set(want) - set(named))} that transformers does not build')
        for name, p in named.items():
            if list(p.shape) != want[name]['shape']:
                raise SystemExit(f'{init}: {name} has shape {list(p.shape)}, the job says {want[name]["shape"]}')
        self.param_order = [p['name'] for p in self.job['model']['params']]
        self.decay = {p['name']: p['decay'] for p in self.job['model']['params']}
        self.tied = bool(getattr(model.config, 'tie_word_embeddings', False))
        self.vocab = model.config.vocab_size
        model.to(self.device)
        model.train()
        self.core = model
        if self.tcfg.get('compile', False):
            model.compile()
        if self.fsdp:
            from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

            if self.world == 1 and not dist.is_initialized():
                raise SystemExit('train.torch.fsdp needs torchrun (train.torch.nprocPerNode > 1)')
            mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if self.bf16 else MixedPrecisionPolicy()
            for layer in model.model.layers:
                fully_shard(layer, mp_policy=mp)
            fully_shard(model, mp_policy=mp)
            self.model = model
        elif self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.model = DDP(model, device_ids=[self.local_rank] if self.cuda else None)
        else:
            self.model = model
        named = dict(self.core.named_parameters())
        opt = self.job['optimizer']
        groups = [
            {'params': [named[n] for n in self.param_order if self.decay[n]], 'weight_decay': opt['weightDecay']},
            {'params': [named[n] for n in self.param_order if not self.decay[n]], 'weight_decay': 0.0},
        ]
        self.params = [named[n] for n in self.param_order]
        self.optimizer = torch.optim.AdamW(groups, lr=self.job['schedule']['peakLr'], betas=(opt['beta1'], opt['beta2']), eps=opt['eps'])

    def autocast(self):
        if self.bf16 and not self.fsdp:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def token_losses(self, module, tokens, targets):
        """Per-token cross-entropy (rows·T,) in float32."""
        with self.autocast():
            logits = module(input_ids=tokens, use_cache=False).logits
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction='none')

    # ------------------------------------------------------------------ checkpoints

    def state_dicts(self):
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict, get_optimizer_state_dict

        opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
        msd = get_model_state_dict(self.model, options=opts)
        osd = get_optimizer_state_dict(self.model, self.optimizer, options=opts)
        return msd, osd

    def save_model_folder(self, folder, msd):
        """config.json + model.safetensors, the tensors the job lists (the tied lm_head is not saved twice)."""
        from safetensors.torch import save_file

        tensors = {n: msd[n].detach().to('cpu', torch.float32).contiguous() for n in self.param_order}
        tmp = os.path.join(folder, 'model.safetensors.tmp')
        save_file(tensors, tmp, metadata={'format': 'pt'})
        os.replace(tmp, os.path.join(folder, 'model.safetensors'))
        tmp = os.path.join(folder, 'config.json.tmp')
        with open(tmp, 'w') as f:
            json.dump(self.job['model']['config'], f, indent=2)
        os.replace(tmp, os.path.join(folder, 'config.json'))

    def checkpoint(self):
        msd, osd = self.state_dicts()
        if self.rank == 0:
            base = os.path.join(self.out, 'checkpoint')
            tmp, old = base + '.tmp', base + '.old'
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            self.save_model_folder(tmp, msd)
            torch.save(osd, os.path.join(tmp, 'optimizer.pt'))
            self.state['savedAt'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
            with open(os.path.join(tmp, 'trainer-state.json'), 'w') as f:
                json.dump(self.state, f, indent=2)
            shutil.rmtree(old, ignore_errors=True)
            if os.path.exists(base):
                os.replace(base, old)
            os.replace(tmp, base)
            shutil.rmtree(old, ignore_errors=True)
        self.barrier()

    def latest_checkpoint(self):
        for name in ('checkpoint', 'checkpoint.old'):
            p = os.path.join(self.out, name)
            if os.path.exists(os.path.join(p, 'trainer-state.json')):
                return p
        return None

    def resume(self, folder):
        from safetensors.torch import load_file
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict, set_optimizer_state_dict

        with open(os.path.join(folder, 'trainer-state.json')) as f:
            state = json.load(f)
        if state.get('format') != CHECKPOINT_FORMAT:
            raise SystemExit(f'{folder}: not a checkpoint of this trainer (format {state.get("format")!r}); delete it to start over')
        if state['totalSteps'] != self.job['steps']:
            raise SystemExit(f'{folder}: the checkpoint belongs to a run of {state["totalSteps"]} steps, the job has {self.job["steps"]}; delete it to start over')
        sd = load_file(os.path.join(folder, 'model.safetensors'))
        if self.tied:
            sd['lm_head.weight'] = sd['model.embed_tokens.weight']
        opts = StateDictOptions(full_state_dict=True)
        set_model_state_dict(self.model, sd, options=opts)
        osd = torch.load(os.path.join(folder, 'optimizer.pt'), map_location='cpu', weights_only=True)
        set_optimizer_state_dict(self.model, self.optimizer, osd, options=opts)
        return state

    def launcher_alive(self):
        """False once the sbp process that launched this trainer is gone (killed): then checkpoint and stop
        rather than train on, orphaned. SBP_PARENT_PID is unset when the trainer runs on its own."""
        pid = int(os.environ.get('SBP_PARENT_PID', '0'))
        if pid <= 0:
            return True
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def all_sum(self, values):
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.world > 1:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, heldout):
        """Mean loss over every counted held-out token; batches are dealt to the processes round-robin
        (a process with none left runs batch 0 with weight 0, so FSDP's collectives stay in step)."""
        module = self.model if self.fsdp else self.core
        module.eval()
        total, count = 0.0, 0.0
        with torch.no_grad():
            for j in range(math.ceil(heldout.num_batches / self.world)):
                i = self.rank + j * self.world
                real = i < heldout.num_batches
                t, y, m = heldout.batch(i if real else 0)
                ce = self.token_losses(module, torch.from_numpy(t).to(self.device), torch.from_numpy(y).to(self.device)).double().cpu().numpy()
                mk = m.reshape(-1) if m is not None else np.ones(ce.shape[0])
                if real:
                    total += float((ce * mk).sum())
                    count += float(mk.sum())
        module.train()
        total, count = self.all_sum([total, count])
        loss = total / count if count > 0 else float('nan')
        return loss, count

    # ------------------------------------------------------------------ the loop

    def run(self):
        job = self.job
        os.makedirs(self.out, exist_ok=True)
        self.build_model()
        train = BatchFile(os.path.join(self.job_dir, job['data']['train']))
        heldout = BatchFile(os.path.join(self.job_dir, job['data']['heldout'])) if job['data']['heldout'] else None
        k, B, T = job['gradAccumSteps'], train.B, train.T
        steps = job['steps']
        if train.num_batches < steps * k:
            raise SystemExit(f'{train.path}: {train.num_batches} batches, the job needs {steps * k}')
        rows = k * B
        if rows % self.world != 0:
            raise SystemExit(f'{rows} rows per step (gradAccumSteps {k} · batchSize {B}) do not split over {self.world} processes; '
                             'make gradAccumSteps · batchSize a multiple of train.torch.nprocPerNode')
        per_rank = rows // self.world
        micro = int(self.tcfg.get('microBatch') or B)
        tokens_per_step = job['tokensPerStep']
        metrics_path = os.path.join(self.out, 'metrics.jsonl')

        self.state = {'format': CHECKPOINT_FORMAT, 'version': 1, 'step': 0, 'tokens': 0, 'totalSteps': steps, 'skippedSteps': 0,
                      'consecutiveBad': 0, 'lastLoss': None, 'lastHeldout': None, 'worldSize': self.world, 'savedAt': ''}
        resumed_from = None
        latest = self.latest_checkpoint()
        if latest:
            self.state = self.resume(latest)
            resumed_from = self.state['step']
            if self.rank == 0 and os.path.exists(metrics_path):
                with open(metrics_path) as f:
                    kept = [line for line in f if line.strip() and _row_step(line) is not None and _row_step(line) <= self.state['step']]
                with open(metrics_path, 'w') as f:
                    f.writelines(kept)
            self.log(f'resuming from step {self.state["step"]} ({self.state["tokens"]} tokens)')
        elif self.rank == 0:
            open(metrics_path, 'w').close()
        self.barrier()
        self.emit({'kind': 'start', 'step': self.state['step'], 'steps': steps, 'world': self.world, 'device': str(self.device),
                   'dtype': 'bf16' if self.bf16 else 'fp32', 'fsdp': self.fsdp, 'torch': torch.__version__})

        last_eval = None

        def evaluate():
            nonlocal last_eval
            if heldout is None:
                return
            loss, count = self.evaluate(heldout)
            last_eval = {'step': self.state['step'], 'tokens': self.state['tokens'], 'heldoutLoss': loss, 'heldoutPpl': math.exp(loss), 'heldoutTokens': count}
            self.state['lastHeldout'] = {'loss': loss, 'ppl': math.exp(loss), 'step': self.state['step']}
            self.write_metrics({'kind': 'eval', **last_eval})

        if self.state['step'] == 0 and job['evalEvery'] > 0:
            evaluate()

        stop_file = os.path.join(self.job_dir, 'STOP')
        t0 = time.perf_counter()
        train_s, session_tokens, interrupted = 0.0, 0, False
        sched = job['schedule']
        clip = job['clip']
        while self.state['step'] < steps:
            step = self.state['step']
            ts = time.perf_counter()
            batches = [train.batch(step * k + a) for a in range(k)]
            weights = step_weights([b[2] for b in batches], k, B, T)
            lo, hi = self.rank * per_rank, (self.rank + 1) * per_rank
            tokens = np.concatenate([b[0] for b in batches])[lo:hi]
            targets = np.concatenate([b[1] for b in batches])[lo:hi]
            w64 = weights[lo:hi]
            loss_acc = torch.zeros((), dtype=torch.float64, device=self.device)  # summed on the device: one sync per step
            chunks = list(range(0, per_rank, micro))
            for ci, c0 in enumerate(chunks):
                last_chunk = ci == len(chunks) - 1
                x = torch.from_numpy(tokens[c0:c0 + micro]).to(self.device, non_blocking=True)
                y = torch.from_numpy(targets[c0:c0 + micro]).to(self.device, non_blocking=True)
                w = torch.from_numpy(w64[c0:c0 + micro]).to(self.device, non_blocking=True)
                if self.fsdp:
                    self.model.set_requires_gradient_sync(last_chunk)
                    sync = contextlib.nullcontext()
                elif self.world > 1 and not last_chunk:
                    sync = self.model.no_sync()
                else:
                    sync = contextlib.nullcontext()
                with sync:
                    ce = self.token_losses(self.model, x, y)
                    # DDP and FSDP average gradients over processes; the loss is a sum over all rows, hence · world.
                    (ce * w.reshape(-1).float()).sum().mul(self.world).backward()
                loss_acc += (ce.detach().double() * w.reshape(-1)).sum()
            if self.world > 1:
                dist.all_reduce(loss_acc, op=dist.ReduceOp.SUM)
            loss = float(loss_acc)
            grads = [p.grad for p in self.params if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads, norm_type=2.0, error_if_nonfinite=False)
            if hasattr(norm, 'full_tensor'):
                norm = norm.full_tensor()
            grad_norm = float(norm)
            lr = learning_rate(sched, step)
            finite = math.isfinite(loss) and math.isfinite(grad_norm)
            if finite:
                if clip > 0 and grad_norm > clip:
                    torch._foreach_mul_(grads, clip / grad_norm)
                for g in self.optimizer.param_groups:
                    g['lr'] = lr
                self.optimizer.step()
                self.state['consecutiveBad'] = 0
                self.state['lastLoss'] = loss
            else:
                self.state['skippedSteps'] += 1
                self.state['consecutiveBad'] += 1
            self.optimizer.zero_grad(set_to_none=True)
            if self.cuda:
                torch.cuda.synchronize()
            self.state['step'] += 1
            self.state['tokens'] += tokens_per_step
            session_tokens += tokens_per_step
            train_s += time.perf_counter() - ts
            row = {'kind': 'step', 'step': self.state['step'], 'tokens': self.state['tokens'], 'lr': lr, 'loss': finite_or_none(loss),
                   'gradNorm': finite_or_none(grad_norm), 'skipped': not finite, 'tokensPerSec': session_tokens / train_s}
            last = self.state['step'] == steps
            if not finite or self.state['step'] % job['logEvery'] == 0 or last:
                self.write_metrics(row)
            else:
                self.emit(row)
            if not finite:
                self.log(f'step {self.state["step"]}: non-finite loss or gradient (loss {loss}, grad norm {grad_norm}); step skipped ({self.state["consecutiveBad"]} in a row)')
                if self.state['consecutiveBad'] >= job['maxBadSteps']:
                    print(f'training stopped: the loss or gradient was non-finite for {self.state["consecutiveBad"]} steps in a row; '
                          'lower train.lr, set train.clip, or check the data', file=sys.stderr, flush=True)
                    return 3
            if (job['evalEvery'] > 0 and self.state['step'] % job['evalEvery'] == 0) or last:
                evaluate()
            stop = 0.0 if last else float(self.stop_requested or os.path.exists(stop_file) or not self.launcher_alive())
            (stop,) = self.all_sum([stop])  # every process stops at the same step
            if (job['checkpointEvery'] > 0 and self.state['step'] % job['checkpointEvery'] == 0) or last or stop > 0:
                self.checkpoint()
            if stop > 0:
                interrupted = True
                break

        if not interrupted:
            msd, _ = self.state_dicts()
            if self.rank == 0:
                self.save_model_folder(self.out, msd)
        result = {'format': 'sbp-trainer-result', 'status': 'interrupted' if interrupted else 'finished', 'resumedFrom': resumed_from,
                  'step': self.state['step'], 'tokens': self.state['tokens'], 'skippedSteps': self.state['skippedSteps'],
                  'lastLoss': self.state['lastLoss'], 'heldout': last_eval, 'seconds': time.perf_counter() - t0,
                  'tokensPerSec': session_tokens / train_s if train_s > 0 else 0}
        if self.rank == 0:
            tmp = os.path.join(self.out, 'trainer-result.json.tmp')
            with open(tmp, 'w') as f:
                json.dump(result, f, indent=2)
            os.replace(tmp, os.path.join(self.out, 'trainer-result.json'))
        self.barrier()
        return 0


def _row_step(line):
    try:
        return json.loads(line)['step']
    except (ValueError, KeyError, TypeError):
        return None


def main(argv):
    if len(argv) != 1:
        print('usage: python -m sbp_trainer JOB.json   (or under torchrun; see docs/trainers.md)', file=sys.stderr)
        return 2
    trainer = Trainer(argv[0])

    def on_signal(signum, frame):
        trainer.stop_requested = True  # checkpoint at the end of this step, then exit

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return trainer.run()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
