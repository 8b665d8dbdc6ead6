"""SASRec (Kang & McAuley, ICDM 2018): self-attentive next-item recommendation, a small PyTorch
CPU model for the MovieLens harness (``vidrec eval movielens``, system ``sasrec``).

As in the paper: item embeddings shared between input and output, learned positions, causal
self-attention blocks (pre-norm, GELU feed-forward, dropout), trained to score each position's
next item above one uniformly sampled negative (binary cross-entropy); a user is scored by the last
position's state against every item embedding. Sequences are each user's training items in the
split's order, the newest ``max_len`` kept. Deterministic for a seed on one thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["SASRecConfig", "build_model", "sasrec_scorer"]

Scorer = Callable[[np.ndarray], np.ndarray]  # as evaluation.baselines.Scorer (no import: a circle)

log = logging.getLogger(__name__)


class SASRecConfig:
    dims: int = 64
    blocks: int = 2
    heads: int = 1
    max_len: int = 200
    dropout: float = 0.2
    epochs: int = 200
    batch: int = 128
    lr: float = 1e-3


def _padded(sequences: Sequence[np.ndarray], max_len: int) -> np.ndarray:
    """Users x max_len item ids + 1 (0 = padding), right-aligned, newest last."""
    out = np.zeros((len(sequences), max_len), dtype=np.int64)
    for u, seq in enumerate(sequences):
        tail = np.asarray(seq[-max_len:], dtype=np.int64) + 1
        if len(tail):
            out[u, -len(tail) :] = tail
    return out


def build_model(n_items: int, cfg: SASRecConfig) -> Any:
    """The network (a ``torch.nn.Module``): item ids + 1 (0 = padding), batch x positions in,
    a state per position out.

    As the paper's code does, a position attends only to real items at or before it (padding is
    masked out as a key, and zeroed again after every block); without that, a user with 20 items
    in a 200-slot window had 180 identical padding keys outweighing their own history.
    """
    import torch
    from torch import nn

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, cfg.dims, padding_idx=0)
            self.positions = nn.Embedding(cfg.max_len, cfg.dims)
            self.blocks = nn.ModuleList(
                nn.TransformerEncoderLayer(
                    cfg.dims,
                    cfg.heads,
                    dim_feedforward=cfg.dims,
                    dropout=cfg.dropout,
                    activation="gelu",
                    batch_first=True,
                    norm_first=True,
                )
                for _ in range(cfg.blocks)
            )
            self.norm = nn.LayerNorm(cfg.dims)
            self.drop = nn.Dropout(cfg.dropout)

        def forward(self, seq: torch.Tensor) -> torch.Tensor:
            length = seq.shape[1]
            pos = torch.arange(length, device=seq.device)
            real = (seq > 0).unsqueeze(-1)
            x = self.drop(self.items(seq) * cfg.dims**0.5 + self.positions(pos)) * real
            # True = may not attend: later positions and padding; each position sees itself
            # (a padded one only itself, so no row is empty)
            later = torch.ones(length, length, dtype=torch.bool, device=seq.device).triu(1)
            blocked = later.unsqueeze(0) | (seq == 0).unsqueeze(1)
            blocked = blocked & ~torch.eye(length, dtype=torch.bool, device=seq.device)
            blocked = blocked.repeat_interleave(cfg.heads, dim=0)
            for block in self.blocks:
                x = block(x, src_mask=blocked) * real
            return self.norm(x)

    return Model()


def sasrec_scorer(
    sequences: Sequence[np.ndarray],
    n_items: int,
    *,
    seed: int = 0,
    config: SASRecConfig | None = None,
) -> Scorer:
    """Fit SASRec on ``sequences`` (item indices per user, oldest first); score all items."""
    import torch
    from torch import nn

    cfg = config or SASRecConfig()
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)

    data = _padded(sequences, cfg.max_len + 1)
    inputs, targets = data[:, :-1], data[:, 1:]
    keep = np.flatnonzero((targets > 0).sum(axis=1) > 0)
    model = build_model(n_items, cfg)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98))
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    start = time.perf_counter()
    model.train()
    for epoch in range(cfg.epochs):
        total = 0.0
        order = rng.permutation(keep)
        for lo in range(0, len(order), cfg.batch):
            rows = order[lo : lo + cfg.batch]
            seq = torch.from_numpy(inputs[rows])
            pos = torch.from_numpy(targets[rows])
            neg = torch.from_numpy(rng.integers(1, n_items + 1, size=pos.shape))
            state = model(seq)
            pos_logit = (state * model.items(pos)).sum(-1)
            neg_logit = (state * model.items(neg)).sum(-1)
            valid = (pos > 0).float()
            loss = (
                (loss_fn(pos_logit, torch.ones_like(pos_logit)) * valid).sum()
                + (loss_fn(neg_logit, torch.zeros_like(neg_logit)) * valid).sum()
            ) / valid.sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach())
        if (epoch + 1) % 50 == 0:
            log.info(
                "sasrec epoch %d: loss %.4f (%.0fs)", epoch + 1, total, time.perf_counter() - start
            )
    model.eval()
    last = _padded(sequences, cfg.max_len)

    def score(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            state = model(torch.from_numpy(last[rows]))[:, -1, :]
            scores = state @ model.items.weight[1:].T
        return scores.numpy().astype(np.float32)

    return score
