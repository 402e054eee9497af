"""Small building blocks shared by the model's parts.

:class:`BatchNorm` is ``nn.BatchNorm1d`` that can synchronise its batch statistics across the
processes of a distributed run on any device (PyTorch's ``SyncBatchNorm`` works on GPUs only),
so that a DDP run computes exactly the statistics of the single-process run on the global
batch. Synchronisation is off unless :func:`set_batchnorm_sync` switches it on.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BatchNorm", "linear_bn_relu", "set_batchnorm_sync"]


class _AllReduceSum(torch.autograd.Function):
    """Sum a tensor over all processes; the gradient is summed over them likewise."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, group: object | None) -> torch.Tensor:
        ctx.group = group
        out = tensor.clone()
        torch.distributed.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        out = grad.clone()
        torch.distributed.all_reduce(out, group=ctx.group)
        return out, None


def _all_reduce_sum(tensor: torch.Tensor, group: object | None) -> torch.Tensor:
    """Differentiable sum over all processes (the gradient is summed back likewise)."""
    return _AllReduceSum.apply(tensor, group)


class BatchNorm(nn.BatchNorm1d):
    """Batch normalisation over the rows of a ``(N, C)`` tensor, optionally synchronised.

    With ``sync`` on, in training mode and inside an initialised process group, the mean and
    the (biased) variance are those of the rows of *all* processes (two all-reduces, the
    second on centred values for accuracy), the running statistics are updated with them
    exactly as ``nn.BatchNorm1d`` would on the concatenated batch, and gradients flow
    through the reductions. Otherwise it is plain ``nn.BatchNorm1d``.
    """

    sync: bool = False
    sync_group: object | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` of shape ``(N, C)``; returns the same shape."""
        if not (
            self.sync
            and self.training
            and torch.distributed.is_available()
            and torch.distributed.is_initialized()
        ):
            return super().forward(x)
        if x.dim() != 2:
            raise ValueError(f"BatchNorm expects (N, C) input, got shape {tuple(x.shape)}.")
        xf = x.float()
        count = torch.tensor([float(xf.shape[0])], device=xf.device)
        sums = _all_reduce_sum(torch.cat([xf.sum(0), count]), self.sync_group)
        n = sums[-1]
        mean = sums[:-1] / n
        centred = xf - mean
        var = _all_reduce_sum((centred * centred).sum(0), self.sync_group) / n
        y = centred * torch.rsqrt(var + self.eps)
        if self.affine:
            y = y * self.weight + self.bias
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var * (n / (n - 1).clamp_min(1.0))
                self.running_mean.mul_(1 - m).add_(mean.detach() * m)
                self.running_var.mul_(1 - m).add_(unbiased.detach() * m)
        return y.to(x.dtype)


def set_batchnorm_sync(module: nn.Module, sync: bool, group: object | None = None) -> int:
    """Switch the synchronisation of every :class:`BatchNorm` in ``module``; return their count."""
    n = 0
    for m in module.modules():
        if isinstance(m, BatchNorm):
            m.sync = sync
            m.sync_group = group
            n += 1
    return n


def linear_bn_relu(n_in: int, n_out: int) -> nn.Sequential:
    """``Linear → BatchNorm → ReLU`` (the Linear has no bias: BatchNorm's shift replaces it)."""
    return nn.Sequential(nn.Linear(n_in, n_out, bias=False), BatchNorm(n_out), nn.ReLU())
