"""SASRec (Kang & McAuley, ICDM 2018): self-attentive next-item recommendation, a small PyTorch
CPU model for the MovieLens harness (``vidrec eval movielens``, system ``sasrec``).

As in the paper: item embeddings shared between input and output, learned positions, causal
self-attention blocks (pre-norm, GELU feed-forward, dropout); a user is scored by the last
position's state against every item embedding. Sequences are each user's training items in the
split's order, the newest ``max_len`` kept. Deterministic for a seed on one thread.

The paper's loss (each position's next item against one uniformly sampled negative, binary
cross-entropy) left this model below popularity on MovieLens-small (HR@10 0.041 after 200
epochs: 1,000 steps of 610 users). So the default is the cross-entropy over the next item and
``negatives`` items sampled once per batch (Klenitskiy & Vasilev, RecSys 2023, "Turning dross
into gold loss: is BERT4Rec really better than SASRec?"), in batches of 32, and training stops by
a validation item: each user's last training item is held out of the fit and predicted from the
rest every ``check_every`` epochs; the epoch with the best NDCG@10 is kept (``patience`` checks
without a gain end it). ``loss="bce"`` is the paper's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["SASRecConfig", "sasrec_scorer"]

Scorer = Callable[[np.ndarray], np.ndarray]  # as evaluation.baselines.Scorer (no import: a circle)

log = logging.getLogger(__name__)


class SASRecConfig:
    dims: int = 64
    blocks: int = 2
    heads: int = 1
    max_len: int = 200
    dropout: float = 0.5
    epochs: int = 200
    batch: int = 32
    lr: float = 2e-3
    loss: str = "ce"  # "ce": sampled softmax over ``negatives``; "bce": one negative (the paper)
    negatives: int = 256
    check_every: int = 5  # epochs between validation checks (0: no validation item, no stop)
    patience: int = 4


def _padded(sequences: Sequence[np.ndarray], max_len: int) -> np.ndarray:
    """Users x max_len item ids + 1 (0 = padding), right-aligned, newest last."""
    out = np.zeros((len(sequences), max_len), dtype=np.int64)
    for u, seq in enumerate(sequences):
        tail = np.asarray(seq[-max_len:], dtype=np.int64) + 1
        if len(tail):
            out[u, -len(tail) :] = tail
    return out


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

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, cfg.dims, padding_idx=0)
            self.positions = nn.Embedding(cfg.max_len, cfg.dims)
            layer = nn.TransformerEncoderLayer(
                cfg.dims,
                cfg.heads,
                dim_feedforward=cfg.dims,
                dropout=cfg.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            self.blocks = nn.TransformerEncoder(layer, cfg.blocks, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(cfg.dims)
            self.drop = nn.Dropout(cfg.dropout)
            mask = torch.triu(torch.ones(cfg.max_len, cfg.max_len, dtype=torch.bool), 1)
            self.register_buffer("causal", mask)

        def forward(self, seq: torch.Tensor) -> torch.Tensor:
            pos = torch.arange(seq.shape[1], device=seq.device)
            x = self.items(seq) * cfg.dims**0.5 + self.positions(pos)
            x = self.drop(x) * (seq > 0).unsqueeze(-1)
            x = self.blocks(x, mask=self.causal)
            return self.norm(x)

    validate = cfg.check_every > 0
    fit_on = [s[:-1] for s in sequences] if validate else list(sequences)
    val_users = np.array([u for u, s in enumerate(sequences) if len(s) > 1], dtype=np.int64)
    val_items = np.array([int(sequences[u][-1]) for u in val_users], dtype=np.int64)
    data = _padded(fit_on, cfg.max_len + 1)
    inputs, targets = data[:, :-1], data[:, 1:]
    keep = np.flatnonzero((targets > 0).sum(axis=1) > 0)
    model = Model()
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98))

    def loss_of(state: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        valid = pos > 0
        if cfg.loss == "bce":
            bce = nn.functional.binary_cross_entropy_with_logits
            neg = torch.from_numpy(rng.integers(1, n_items + 1, size=pos.shape))
            pos_logit = (state * model.items(pos)).sum(-1)[valid]
            neg_logit = (state * model.items(neg)).sum(-1)[valid]
            return bce(pos_logit, torch.ones_like(pos_logit)) + bce(
                neg_logit, torch.zeros_like(neg_logit)
            )
        h, t = state[valid], pos[valid]
        neg = torch.from_numpy(rng.integers(1, n_items + 1, size=min(cfg.negatives, n_items)))
        logits = torch.cat([(h * model.items(t)).sum(-1, keepdim=True), h @ model.items(neg).T], 1)
        logits[:, 1:] = logits[:, 1:].masked_fill(neg.unsqueeze(0) == t.unsqueeze(1), -1e9)
        return nn.functional.cross_entropy(logits, torch.zeros(len(t), dtype=torch.long))

    def val_ndcg() -> float:
        model.eval()
        with torch.no_grad():
            state = model(torch.from_numpy(_padded([fit_on[u] for u in val_users], cfg.max_len)))
            scores = (state[:, -1, :] @ model.items.weight[1:].T).numpy()
        model.train()
        for row, u in enumerate(val_users):
            scores[row, np.asarray(fit_on[u], dtype=np.int64)] = -np.inf
        target = scores[np.arange(len(val_users)), val_items]
        rank = (scores > target[:, None]).sum(axis=1)
        return float(np.where(rank < 10, 1.0 / np.log2(rank + 2.0), 0.0).mean())

    best, best_state, waited = -1.0, None, 0
    start = time.perf_counter()
    model.train()
    for epoch in range(cfg.epochs):
        order = rng.permutation(keep)
        for lo in range(0, len(order), cfg.batch):
            rows = order[lo : lo + cfg.batch]
            state = model(torch.from_numpy(inputs[rows]))
            loss = loss_of(state, torch.from_numpy(targets[rows]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if validate and len(val_users) and (epoch + 1) % cfg.check_every == 0:
            ndcg = val_ndcg()
            log.info(
                "sasrec epoch %d: validation NDCG@10 %.4f (%.0fs)",
                epoch + 1,
                ndcg,
                time.perf_counter() - start,
            )
            if ndcg > best:
                best, waited = ndcg, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if waited >= cfg.patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    last = _padded(sequences, cfg.max_len)

    def score(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            state = model(torch.from_numpy(last[rows]))[:, -1, :]
            scores = state @ model.items.weight[1:].T
        return scores.numpy().astype(np.float32)

    return score
