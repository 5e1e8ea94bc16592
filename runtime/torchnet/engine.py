"""`netc run --engine torch`: netc's `Trainer` with the network, the loss, the penalty, the
clipping and the optimizer's step running in PyTorch (CPU, CUDA, or data-parallel under torchrun).

`TorchTrainer` is a `Trainer`: the iteration's order, the position, the epoch's bookkeeping, early
stopping and the state declaration (runtime/state.py) are the NumPy engine's own code. It replaces
only the engine's steps (`batch_arrays`, `forward_pass`, `batch_loss`, `backward_pass`, `update`,
`record_batch`, `evaluate`), and answers the state declaration's `get`/`set` through `TorchModel`
(parameters and buffers under netc's names and layout) and `TorchOptimizer` (torch.optim's moments
as netc's optimizer slots), so checkpoints are netc's whichever engine writes them.

What stays netc's: the data pipeline (split, scaling, each epoch's shuffle and the batches, the
augmentation and mixup: `Trainer.prepare_batch` itself, with its generators), the initial weights
(the NumPy engine's seeded draws), the dropout masks (drawn by netc's kernel from the same
per-iteration generator: `SharedMask`), the schedule, early stopping and the metrics.
What is torch's: forward, backward and the update (torch.optim, the same rules), in the run's
dtype on `device`. The forward and the backward are one call each, so the iteration pauses at the
loss, the update and the epoch's end only (no per-node phases: the debugger stays NumPy's).

Data-parallel (torchrun, `Distributed` active): the training rows come from `EpochSampler`, a
torch DistributedSampler whose `set_epoch` selects netc's shuffle of that epoch; the file's `batch`
is the global batch, `batch / world` rows per rank; DistributedDataParallel averages the
gradients, so with equal parts a step is one process's step on the global batch. Augmentation and
mixup are drawn for the whole global batch on every rank, each keeping its part, so they are the
one-process run's too. Each batch's loss and correct count are summed over ranks before the loss
is shown or checked (every rank sees the same numbers and stops together), validation is split
over ranks and summed. Batch norm is
`nn.SyncBatchNorm` where PyTorch has it (CUDA) and netc's `syncbn.CpuSyncBatchNorm` on
the CPU, where it has not (runtime/torchnet/syncbn.py).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import DistributedSampler

from ...spec.settings import TrainSettings
from ..model import Model
from ..train import EVAL_BATCH, Trainer
from .build import TorchNet


class Distributed:
    """Where this process sits in a torchrun job: `rank` of `world` (0 of 1 when alone)."""

    def __init__(self, rank: int = 0, world: int = 1):
        self.rank, self.world = rank, world

    @property
    def active(self) -> bool:
        """Whether there are other ranks to agree with."""
        return self.world > 1

    def all_sum(self, values: list[float], device) -> list[float]:
        """Element-wise sums over ranks, in float64 (the values themselves when alone)."""
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=device)
        torch.distributed.all_reduce(t)
        return t.tolist()


class EpochSampler(DistributedSampler):
    """torch's DistributedSampler over the `n` training rows with netc's shuffle: `set_epoch(e)`
    selects `order(e)`, the NumPy engine's order of epoch e. As torch's sampler does, the order
    is padded with its first rows to a multiple of `world` and rank r takes every world-th row
    from r, so the r-th rows of each consecutive group of `batch` rows make up rank r's part of
    that global batch."""

    def __init__(self, n: int, world: int, rank: int, order, shuffle: bool):
        super().__init__(range(n), num_replicas=world, rank=rank, shuffle=shuffle, drop_last=False)
        self.order = order

    def all_rows(self) -> np.ndarray:
        """Every rank's rows of the epoch set by `set_epoch`: netc's order, padded as torch pads."""
        rows = self.order(self.epoch)
        pad = self.total_size - len(rows)
        if pad:  # torch's padding: the first rows again (cyclically when the pad is longer)
            rows = np.concatenate([rows, np.resize(rows, pad)])
        return rows

    def __iter__(self):
        return iter(self.all_rows()[self.rank:self.total_size:self.num_replicas].tolist())


class TorchModel:
    """What the trainer, the state declaration and checkpoints ask of a model, answered by the
    torch module: parameters and buffers under netc's names, in netc's layout and dtypes (NumPy
    copies), the gradients and penalized weights as tensors, and the NumPy `reference` model,
    kept in step at every epoch's end for the observers (TensorBoard, figures)."""

    def __init__(self, net: TorchNet, reference: Model):
        self.net, self.reference = net, reference
        self.plan, self.steps, self.dtype = reference.plan, reference.steps, reference.dtype
        self.loss_fn = reference.loss_fn
        self.tensors: dict[str, nn.Parameter] = net.parameters_by_netc_name()
        self.weights = {k: self.tensors[k] for k in reference.weights}  # what `regularize` penalizes
        self.output: torch.Tensor | None = None  # the last forward's output

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Every learned parameter by netc name (copies)."""
        return {k: v for k, v in self.state_dict().items() if k in self.reference.params}

    @property
    def buffers(self) -> dict[str, np.ndarray]:
        """Every buffer (running statistics) by netc name (copies)."""
        return {k: v for k, v in self.state_dict().items() if k in self.reference.buffers}

    @property
    def grads(self) -> dict[str, torch.Tensor]:
        """The last backward's gradients by netc name (the tensors' own layout)."""
        return {k: p.grad for k, p in self.tensors.items() if p.grad is not None}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer by netc name, netc's layout and dtypes."""
        ref = {**self.reference.params, **self.reference.buffers}
        return {k: v.astype(ref[k].dtype, copy=False) for k, v in self.net.netc_state().items()}

    def load_state_dict(self, values: dict[str, np.ndarray]) -> None:
        """Set every parameter and buffer from netc-named arrays (the reference model's too)."""
        self.reference.load_state_dict(values)
        self.net.load_netc_state(values)

    def sync_reference(self) -> None:
        """Copy the module's weights into the NumPy reference model."""
        self.reference.load_state_dict(self.state_dict())

    def first_nonfinite(self):
        """The first step whose output was not finite in the reference model's last forward."""
        return self.reference.first_nonfinite()


class TorchOptimizer:
    """torch.optim's optimizer for netc's optimizer `rule`, whose `state`, `steps` and `slots`
    read and write netc's layout (per netc parameter name and slot, netc's array layout), as the
    state declaration expects of an optimizer."""

    def __init__(self, rule, params: dict[str, nn.Parameter], transposed: set[str]):
        self.rule, self.params, self.transposed = rule, params, transposed
        self.torch = getattr(torch.optim, rule.torch_class)(list(params.values()), lr=0.0,
                                                            **rule.torch_kwargs())
        self.steps = 0
        self._pending: dict | None = None

    def slots(self, shape, dtype) -> dict:
        """The per-parameter state netc's rule keeps (what a checkpoint is checked against)."""
        return self.rule.slots(shape, dtype)

    @property
    def state(self) -> dict[str, dict[str, np.ndarray]]:
        """{netc parameter: {netc slot: array}} (copies; a slot torch has not made yet is absent)."""
        if self._pending is not None:
            return self._pending
        out = {}
        for name, p in self.params.items():
            st = self.torch.state.get(p)
            if not st:
                continue
            entry = {}
            for key, tkey in self.rule.torch_state.items():
                v = st.get(tkey)
                if v is None:
                    continue
                if tkey == "step":
                    entry[key] = np.asarray(int(v), np.int64)
                else:
                    a = v.detach().cpu().numpy()
                    entry[key] = np.array(a.T if name in self.transposed else a)
            if entry:
                out[name] = entry
        return out

    @state.setter
    def state(self, value: dict) -> None:
        # set by a restore (a checkpoint, the state declaration): it reaches torch before the
        # next step, when the parameters' devices and dtypes are certain
        self._pending = value

    def _apply_pending(self) -> None:
        pending, self._pending = self._pending, None
        self.torch.state.clear()
        for name, entry in pending.items():
            p = self.params[name]
            st = {}
            for key, tkey in self.rule.torch_state.items():
                if key not in entry:
                    continue
                if tkey == "step":
                    st[tkey] = torch.tensor(float(entry[key]), dtype=torch.float32)
                else:
                    a = entry[key].T if name in self.transposed else entry[key]
                    st[tkey] = torch.from_numpy(np.ascontiguousarray(a)).to(device=p.device, dtype=p.dtype)
            if st and "step" in self.rule.torch_state.values():
                # torch counts steps per parameter; a rule whose netc state has no count of its
                # own (RMSprop) uses the optimizer's
                st.setdefault("step", torch.tensor(float(self.steps), dtype=torch.float32))
            if st:
                self.torch.state[p] = st

    def step(self, lr: float) -> None:
        """One update of every parameter with a gradient in .grad, at learning rate lr."""
        if self._pending is not None:
            self._apply_pending()
        for group in self.torch.param_groups:
            group["lr"] = lr
        self.torch.step()
        self.steps += 1


class TorchTrainer(Trainer):
    """A `Trainer` whose batches run through PyTorch on `device` (see the module's docstring);
    `dist` says which rank of a torchrun job this process is (alone by default)."""

    def __init__(self, model: Model, dataset, settings: TrainSettings, device: str = "cpu",
                 dist: Distributed | None = None, *, shuffle: bool):
        super().__init__(model, dataset, settings, shuffle=shuffle)
        self.dist = dist or Distributed()
        self.device = torch.device(device)
        net = TorchNet(model.plan, "net", model.dtype, device)
        net.share_masks()
        net.load_netc_state(model.state_dict())
        if self.dist.active:
            from .syncbn import synchronize_batchnorm
            net.module = synchronize_batchnorm(net.module, self.device)
        self.net = net
        self.model = TorchModel(net, model)
        transposed = {n.netc for n in net.names if n.transposed}
        self.optimizer = TorchOptimizer(self.optimizer, self.model.tensors, transposed)
        self.run_module = net.module
        self.sampler = None
        if self.dist.active:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.run_module = nn.parallel.DistributedDataParallel(net.module, device_ids=ids)
            if dataset is not None:
                self.sampler = EpochSampler(len(dataset.x_train), self.dist.world, self.dist.rank,
                                            self.epoch_order, shuffle)
        self._x: np.ndarray | None = None  # the running batch's inputs as the network sees them
        self._global: tuple | None = None  # under torchrun: ((seed, epoch), the global batches)
        self._counts = (0, 0.0)

    # --- the batches -----------------------------------------------------------------------------

    def batches(self, epoch: int) -> list[np.ndarray]:
        """Alone: the NumPy engine's batches. Under torchrun: this rank's part of each global
        batch, from the distributed sampler set to the epoch: rows r, r + world, ... of each
        group of `batch` rows of the sampler's order (a last part smaller than the ops take,
        `min_batch`, is dropped on every rank alike: the parts are equal)."""
        if self.sampler is None:
            return super().batches(epoch)
        key = (self.seed, epoch)
        if self._chunks is not None and self._chunks[0] == key:
            return self._chunks[1]
        self.sampler.set_epoch(epoch)
        rows = self.sampler.all_rows()
        size = self.settings.batch
        whole = [rows[i:i + size] for i in range(0, len(rows), size)]
        chunks = [g[self.dist.rank::self.dist.world] for g in whole]
        if len(chunks) > 1 and len(chunks[-1]) < self.min_batch:
            chunks.pop()
            whole.pop()
        self._chunks, self._global = (key, chunks), (key, whole)
        return chunks

    def global_batch(self) -> np.ndarray:
        """Under torchrun: the rows of the whole global batch this rank's next part belongs to."""
        return self._global[1][self.position.batch]

    def dropout_rng(self, iteration: int) -> np.random.Generator:
        """netc's generator of the iteration; under torchrun each rank draws its own stream."""
        if self.dist.active:
            return np.random.default_rng([self.seed, 11, iteration, self.dist.rank])
        return super().dropout_rng(iteration)

    # --- the engine's steps ----------------------------------------------------------------------

    def prepare_batch(self, x, iteration: int):
        """The NumPy engine's own augmentation and mixup (`Trainer.prepare_batch`, the same
        generators): alone, of this batch. Under torchrun, of the whole global batch, which every
        rank gathers from its own copy of the data, keeping its part (and the mixup draw for its
        rows, `Mix.part`): each rank's examples and their partners are the one-process run's."""
        if self.sampler is None:
            return super().prepare_batch(x, iteration)
        whole = self.global_batch()
        mine = np.arange(self.dist.rank, len(whole), self.dist.world)
        xs, mix = super().prepare_batch(np.asarray(self.data.x_train[whole], self.model.dtype), iteration)
        return xs[mine], (mix.part(mine) if mix is not None else None)

    def batch_arrays(self, idx):
        """The batch's inputs in the run's dtype (NumPy; no copy when they are in it already)
        and its targets."""
        return np.asarray(self.data.x_train[idx], self.model.dtype), self.data.y_train[idx]

    def forward_pass(self, b, x, rng):
        """The whole network forward in one call (no per-node pauses) on the inputs `x` as a
        tensor on the device (no copy on the CPU), masks drawn from `rng`."""
        self._x = x
        self.net.set_rng(rng)
        self.run_module.train(b.training)
        self.model.output = self.run_module(torch.from_numpy(np.ascontiguousarray(x)).to(self.device))
        return ()

    def batch_loss(self, y, mix=None) -> tuple[float, float]:
        """(the batch's loss plus the penalties, the penalties): the loss and the activity
        penalties are the global batch's under torchrun; with a mixup draw `mix`, the loss is
        against the mixed targets netc's `Mix.targets` makes (as the NumPy engine's loss reads
        them), and the accuracy counted as `Mix.accuracy` counts it."""
        out = self.model.output
        fn, n, correct = self.model.loss_fn, len(y), 0.0
        if mix is None:
            self._loss = self.net.loss(out, torch.from_numpy(np.asarray(y)).to(self.device))
            if self.classification:
                correct = fn.accuracy(out.detach().cpu().numpy(), y) * n
        else:
            out_np = out.detach().cpu().numpy()
            whole = y if mix.rows is None else self.data.y_train[self.global_batch()]
            target = torch.from_numpy(np.ascontiguousarray(mix.targets(fn, whole, out_np)))
            self._loss = self.net.target_loss(out, target.to(self.device))
            if self.classification:
                correct = mix.accuracy(fn, out_np, whole) * n
        value = float(self._loss.detach())
        # the activity penalties the modules of the ops that add one kept in their forward (a
        # mean over this batch, or part; their gradients come from the modules' backward hooks)
        activity = sum(float(m.penalty) for m in self.net.penalty_modules())
        if self.dist.active:  # the global batch's means: the parts' sums over their total size
            sums = self.dist.all_sum([value * n, correct, activity * n, float(n)], self.device)
            total, correct, act, n = sums
            value, activity, n = total / n, act / n, int(n)
        self._counts = (n, correct)
        extra = activity + self.weight_penalty()
        return value + extra, extra

    @torch.no_grad()
    def weight_penalty(self) -> float:
        """l1 sum|W| + (l2 / 2) sum W^2 over the penalized weights, as netc's `penalty`."""
        reg = self.settings.regularize
        total = 0.0
        if not reg:
            return total
        for w in self.model.weights.values():
            if reg.l1:
                total += reg.l1 * float(w.abs().sum())
            if reg.l2:
                total += 0.5 * reg.l2 * float(torch.vdot(w.flatten(), w.flatten()))
        return total

    def backward_pass(self, b, loss: float, extra: float):
        """Autograd through the whole network in one call (DDP averages the gradients)."""
        for p in self.model.tensors.values():
            p.grad = None
        self._loss.backward()
        self._loss = None
        return ()

    @torch.no_grad()
    def update(self, grads: dict, lr: float) -> None:
        """netc's order: penalty gradients, clipping (by value, or the global norm), then
        torch.optim's step; advances the iteration count."""
        reg, limit = self.settings.regularize, self.settings.clip
        if reg:
            for name, w in self.model.weights.items():
                g = grads.get(name)
                if g is None:
                    continue
                if reg.l2:
                    g.add_(w, alpha=reg.l2)
                if reg.l1:
                    g.add_(torch.sign(w), alpha=reg.l1)
        if limit:
            gs = list(grads.values())
            if limit.kind == "value":
                for g in gs:
                    g.clamp_(-limit.limit, limit.limit)
            else:
                norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in gs])))
                if norm > limit.limit:
                    scale = limit.limit / (norm + 1e-6)  # netc's (and clip_grad_norm_'s) epsilon
                    for g in gs:
                        g.mul_(scale)
        self.optimizer.step(lr)
        constrain = self.settings.constrain
        if constrain:  # netc's max-norm, on netc's layout of each weight (a view: in place)
            limit, axes = constrain.maxnorm, self.model.reference.weight_axes
            transposed = {n.netc for n in self.net.names if n.transposed}
            for name, w in self.model.weights.items():
                v = w.T if name in transposed else w
                norm = torch.sqrt((v.double() ** 2).sum(dim=axes[name], keepdim=True))
                v.mul_(torch.where(norm > limit, limit / (norm + 1e-7), torch.ones_like(norm)).to(v.dtype))
        self.position.iteration += 1

    def record_batch(self, loss: float, yb, mix=None) -> None:
        """Add the batch that just ran (all ranks' parts) to the epoch's running sums."""
        pos = self.position
        n, correct = self._counts
        pos.loss_sum += loss * n
        pos.seen += n
        if self.classification:
            pos.correct += correct
        pos.batch += 1

    def end_epoch(self, lr: float, seconds: float):
        result = super().end_epoch(lr, seconds)
        self.model.sync_reference()  # the observers read the NumPy model between epochs
        return result

    def divergence(self, phase):
        """The error for a non-finite loss: the NumPy engine reruns the batch (as the network saw
        it: augmented, mixed) with the module's weights and the same masks to name the first node
        to blame."""
        ref = self.model.reference
        ref.load_state_dict(self.model.state_dict())
        rng = self.dropout_rng(phase.batch.iteration)
        ref.forward(np.asarray(self._x, ref.dtype), training=True, rng=rng)
        return super().divergence(phase)

    def stop_agreed(self, requested: bool) -> bool:
        """Under torchrun, stop when any rank was asked to (Ctrl-C, SIGTERM reach the ranks at
        slightly different batches; a rank that stopped alone would leave the others waiting)."""
        if not self.dist.active:
            return requested
        return self.dist.all_sum([1.0 if requested else 0.0], self.device)[0] > 0

    @torch.no_grad()
    def evaluate(self, x, y):
        """Loss and accuracy in evaluation mode over (x, y): each rank its share, summed."""
        if x is None or len(x) == 0:
            return None, None
        share = np.array_split(np.arange(len(x)), self.dist.world)[self.dist.rank]
        module = self.net.module
        module.eval()
        total = correct = 0.0
        for i in range(0, len(share), EVAL_BATCH):
            rows = share[i:i + EVAL_BATCH]
            xb = torch.from_numpy(np.ascontiguousarray(x[rows])).to(device=self.device, dtype=self.net.dtype)
            out = module(xb)
            yb = np.asarray(y[rows])
            total += float(self.net.loss(out, torch.from_numpy(yb).to(self.device))) * len(rows)
            if self.classification:
                correct += self.model.loss_fn.accuracy(out.cpu().numpy(), yb) * len(rows)
        total, correct = self.dist.all_sum([total, correct], self.device)
        return total / len(x), (correct / len(x) if self.classification else None)
