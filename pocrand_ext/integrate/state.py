"""PoCState: the address-stable buffers the attached model reads on every forward.

A captured CUDA graph (or a compiled model) reads whatever was last written into these tensors,
so every setter copies into them in place and none is ever rebound. Rows are the model's rows
(see attach). Setters run on the host between forwards; the forward reads slices [:n] only.
"""
from __future__ import annotations

import torch

from .._checks import check_count, check_device, check_dtype, device_memory
from ..snap import check_finite_codebook

__all__ = ["PoCState"]


def _as(name: str, t, dtype, shape_tail=(), rows_max=None) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(t).__name__}")
    if tuple(t.shape[1:]) != tuple(shape_tail) or t.dim() != 1 + len(shape_tail):
        raise ValueError(f"{name} must be [rows{''.join(', %d' % s for s in shape_tail)}], got "
                         f"{list(t.shape)}")
    if rows_max is not None and t.shape[0] > rows_max:
        raise ValueError(f"{name} has {t.shape[0]} rows, the state holds {rows_max} (max_rows)")
    if dtype is torch.int64 and (t.dtype.is_floating_point or t.dtype == torch.bool):
        raise TypeError(f"{name} must be an integer tensor, got {t.dtype}")
    if dtype is torch.bool and t.dtype != torch.bool:
        raise TypeError(f"{name} must be bool, got {t.dtype}")
    return t


class PoCState:
    """Buffers for PoC rows inside one compiled, graph-captured model.

    max_rows: the most rows of one forward; hidden: the hidden size; n_layers: decoder layers;
    slots: reflection slots (slot 0 is all zeros, so a row pointing at it is left as it is by
    the math, and masked-off rows are copied anyway); n_gates: seeded MoE gates (0 for a dense
    model); codebook: the snap's float32 [P, d] codebook (a stand-in is fine for tests; the
    network's is loaded with pocrand_ext.snap.load_codebook); dtype: the model's dtype.

    Buffers (every one [max_rows, ...] unless said): mask bool, row_group int64, table
    [n_layers, slots, hidden] in dtype, embeds [max_rows, hidden] in dtype, embed_base,
    embed_step, embed_prev_k (-1: not a decode row) int64, route_base [n_gates, max_rows] int64,
    route_step int64, prefill_pick int64 (the pick seeds of rows with prev_k < 0), token_ids
    int64 (the ids PoC rows feed to the token embedding), codebook [P, d] float32, and the snap's
    outputs snap_k int64, snap_bad bool, snap_scores [max_rows, P] and snap_q [max_rows, d]
    float32.

    q_slots, q_steps (both 0 by default: nothing kept): the vector channel's trajectories, every
    step's pre-snap q kept on the device (plugin 0.2.0, SPEC.md 10.13) in snap_q_steps
    [q_slots + 1, q_steps, d] float32, slot = a nonce's, step = the row's decode step (0 for a
    prefill row), written by the snap itself: no host copy per step. Row r's slot is q_slot[r]
    (set_q_slots; rows outside [0, q_slots), masked-off rows and steps outside [0, q_steps)
    write the last, scratch slot). Read a nonce's steps once, at the end (q_trajectory)."""

    def __init__(self, *, max_rows: int, hidden: int, n_layers: int, slots: int,
                 codebook: torch.Tensor, n_gates: int = 0, device="cpu",
                 dtype: torch.dtype = torch.bfloat16, q_slots: int = 0, q_steps: int = 0):
        self.max_rows = check_count("max_rows", max_rows)
        self.hidden_size = check_count("hidden", hidden)
        self.n_layers = check_count("n_layers", n_layers)
        self.slots = check_count("slots", slots)
        if not isinstance(n_gates, int) or isinstance(n_gates, bool) or n_gates < 0:
            raise ValueError(f"n_gates must be an int >= 0, got {n_gates!r}")
        self.n_gates = n_gates
        for name, v in (("q_slots", q_slots), ("q_steps", q_steps)):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 2**31 - 1:
                raise ValueError(f"{name} must be an int in [0, 2^31 - 1], got {v!r}")
        if (q_slots == 0) != (q_steps == 0):
            raise ValueError(f"q_slots and q_steps go together: both 0 (no trajectories) or both "
                             f">= 1, got {q_slots} and {q_steps}")
        self.q_slots, self.q_steps = q_slots, q_steps
        self.device = check_device(device)
        self.dtype = check_dtype("dtype", dtype)
        if not isinstance(codebook, torch.Tensor) or codebook.dim() != 2:
            raise TypeError("codebook must be a 2-D [points, dim] tensor")
        P, d = codebook.shape
        if not (1 <= P <= 1024 and 1 <= d <= min(hidden, 1024)):
            raise ValueError(f"codebook must be [P, d] with 1 <= P <= 1024 and 1 <= d <= "
                             f"min(hidden, 1024), got {list(codebook.shape)}")
        R, dev, i64 = self.max_rows, self.device, torch.int64
        size = torch.empty((), dtype=dtype).element_size()
        need = (n_layers * slots * hidden + R * hidden) * size + R * (8 * (8 + n_gates) + 1) \
            + R * (P + d) * 4 + P * d * 4 + ((q_slots + 1) * q_steps * d * 4 + R * 8) * bool(q_steps)
        if need > device_memory(dev):
            raise ValueError(
                f"the state's buffers for max_rows={max_rows}, hidden={hidden}, n_layers={n_layers}, "
                f"slots={slots}, n_gates={n_gates}, q_slots={q_slots}, q_steps={q_steps} need {need / 2**30:.4g} GiB, more than the "
                f"{device_memory(dev) / 2**30:.4g} GiB of {dev}; ask for fewer rows or layers")
        self.mask = torch.zeros(R, dtype=torch.bool, device=dev)
        self._held_mask = torch.zeros(R, dtype=torch.bool, device=dev)  # the mask while inactive
        self.active = True
        self.row_group = torch.zeros(R, dtype=i64, device=dev)
        self.table = torch.zeros(n_layers, slots, hidden, dtype=dtype, device=dev)
        self.embeds = torch.zeros(R, hidden, dtype=dtype, device=dev)
        self.embed_base = torch.zeros(R, dtype=i64, device=dev)
        self.embed_step = torch.zeros(R, dtype=i64, device=dev)
        self.embed_prev_k = torch.full((R,), -1, dtype=i64, device=dev)
        self.route_base = torch.zeros(n_gates, R, dtype=i64, device=dev)
        self.route_step = torch.zeros(R, dtype=i64, device=dev)
        self.prefill_pick = torch.zeros(R, dtype=i64, device=dev)
        self.token_ids = torch.zeros(R, dtype=i64, device=dev)
        check_finite_codebook(codebook)
        self.codebook = codebook.detach().to(dev, torch.float32).contiguous()
        self.snap_k = torch.zeros(R, dtype=i64, device=dev)
        self.snap_bad = torch.zeros(R, dtype=torch.bool, device=dev)
        self.snap_scores = torch.zeros(R, P, dtype=torch.float32, device=dev)
        self.snap_q = torch.zeros(R, d, dtype=torch.float32, device=dev)
        self.router_meta: list[tuple[int, int]] = []  # (n_experts, top_k) per gate, by attach
        self.snap_q_steps = self.q_slot = None
        if q_steps:
            self.snap_q_steps = torch.zeros(q_slots + 1, q_steps, d, dtype=torch.float32, device=dev)
            self.q_slot = torch.full((R,), q_slots, dtype=i64, device=dev)

    # -- setters: copy_ into the buffers, never rebind ----------------------------------------

    def set_active(self, active: bool) -> None:
        """The per-step switch (plugin 0.2.0's `active`): False turns every transform off, True
        turns them back on with the mask of before. Off is the exact identity for every row (the
        bare model's bits) whatever stale row groups, tables, route bases or prev_k the state
        holds: only the mask buffer changes, in place, so captured graphs and compiled forwards
        follow it without a recompile."""
        if not isinstance(active, bool):
            raise TypeError(f"active must be a bool, got {type(active).__name__}")
        if active == self.active:
            return
        if active:
            self.mask.copy_(self._held_mask)
        else:
            self._held_mask.copy_(self.mask)
            self.mask.zero_()
        self.active = active

    def set_mask(self, mask) -> None:
        """Rows [0, n) are PoC where mask is True; every later row is not (None: no PoC row).
        While the state is inactive (set_active) the mask is kept for the next activation."""
        target = self.mask if self.active else self._held_mask
        target.zero_()
        if mask is not None:
            m = _as("mask", mask, torch.bool, rows_max=self.max_rows)
            target[:m.shape[0]].copy_(m)

    def set_row_group(self, row_group) -> None:
        """Row r reflects by slot row_group[r] (rows from n on point at slot 0)."""
        g = _as("row_group", row_group, torch.int64, rows_max=self.max_rows)
        self.row_group.zero_()
        self.row_group[:g.shape[0]].copy_(g)

    def set_slot(self, slot: int, vectors: torch.Tensor) -> None:
        """Slot `slot`'s vector of every layer: vectors [n_layers, hidden] (cast to the dtype)."""
        if not isinstance(slot, int) or isinstance(slot, bool) or not 1 <= slot < self.slots:
            raise ValueError(f"slot must be in [1, {self.slots}) (slot 0 stays zeros), got "
                             f"{slot!r}")
        if not isinstance(vectors, torch.Tensor) or tuple(vectors.shape) != (
                self.n_layers, self.hidden_size):
            raise ValueError(f"vectors must be [n_layers, hidden] = [{self.n_layers}, "
                             f"{self.hidden_size}]")
        self.table[:, slot].copy_(vectors)

    def set_block_slot(self, slot: int, block_hash: str) -> None:
        """Slot `slot` holds the per-block vectors of block_hash (PoC v2's layer vectors,
        SPEC.md 9.7, in the model's dtype: layers.layer_vectors, the forward hooks' cache; its
        rounding gives the bits of the plugin's .to(dtype) for these finite floats)."""
        from .layers import layer_vectors
        self.set_slot(slot, layer_vectors(block_hash, self.n_layers, self.hidden_size,
                                          self.device, self.dtype))

    def set_embeds(self, embeds) -> None:
        """The pre-filled input embeddings of rows [0, n) (PoC rows with prev_k < 0 read them)."""
        e = _as("embeds", embeds, None, (self.hidden_size,), self.max_rows)
        self.embeds[:e.shape[0]].copy_(e)

    def set_decode_chain(self, base=None, step=None, prev_k=None) -> None:
        """Decode rows [0, n): base seeds, steps and previous snap indices (int64 [n] each).
        prev_k of every row is first reset to -1, so no row of an earlier batch stays a decode
        row; call with no arguments for a forward without decode rows."""
        self.embed_prev_k.fill_(-1)
        if base is None and step is None and prev_k is None:
            return
        b = _as("base", base, torch.int64, rows_max=self.max_rows)
        n = b.shape[0]
        for name, t in (("step", step), ("prev_k", prev_k)):
            if _as(name, t, torch.int64).shape[0] != n:
                raise ValueError(f"{name} must hold {n} values (one per row of base)")
        self.embed_base[:n].copy_(b)
        self.embed_step[:n].copy_(step)
        self.embed_prev_k[:n].copy_(prev_k)

    def set_routing(self, route_base, step) -> None:
        """Routing of rows [0, n): route_base [n, n_gates] int64 (as
        protocols.gonka_poc.route_base_seeds gives it: row by gate) and step [n] (0 for a
        prefill row)."""
        s = _as("step", step, torch.int64, rows_max=self.max_rows)
        n = s.shape[0]
        rb = _as("route_base", route_base, torch.int64, (self.n_gates,), self.max_rows)
        if rb.shape[0] != n:
            raise ValueError(f"route_base must have {n} rows (one per step), got {rb.shape[0]}")
        self.route_base[:, :n].copy_(rb.t())
        self.route_step[:n].copy_(s)

    def set_prefill_pick(self, seeds) -> None:
        """The snap's pick seeds of rows [0, n) that are not decode rows (prev_k < 0)."""
        s = _as("seeds", seeds, torch.int64, rows_max=self.max_rows)
        self.prefill_pick[:s.shape[0]].copy_(s)

    def set_token_ids(self, ids) -> None:
        """The token ids PoC rows [0, n) feed to the token embedding (zeros by default)."""
        t = _as("ids", ids, torch.int64, rows_max=self.max_rows)
        self.token_ids[:t.shape[0]].copy_(t)

    def set_codebook(self, codebook) -> None:
        """A new codebook of the same [P, d] shape."""
        if not isinstance(codebook, torch.Tensor) or codebook.shape != self.codebook.shape:
            raise ValueError(f"codebook must be {list(self.codebook.shape)}")
        check_finite_codebook(codebook)
        self.codebook.copy_(codebook)

    def set_q_slots(self, slots) -> None:
        """The trajectory slot of rows [0, n) (int64 [n]; every later row, and any value outside
        [0, q_slots) such as -1, keeps nothing). Give each nonce's row of a step its nonce's slot
        and every other row -1: a prefill sequence keeps only its last row, the one its k_0 is
        read from, and two rows of one step must not share a slot."""
        if self.q_slot is None:
            raise ValueError("this state keeps no trajectories: make it with q_slots and q_steps")
        s = _as("slots", slots, torch.int64, rows_max=self.max_rows)
        self.q_slot.fill_(self.q_slots)
        self.q_slot[:s.shape[0]].copy_(s)

    def keep_q(self, n: int) -> None:
        """Writes the snap's q of rows [0, n) into their (slot, step) of snap_q_steps, on the
        device (the snap wrapper calls it after every snap; nothing when no trajectories)."""
        if self.snap_q_steps is None:
            return
        prev = self.embed_prev_k[:n]
        step = torch.where(prev >= 0, self.embed_step[:n], torch.zeros_like(prev))
        slot = self.q_slot[:n]
        keep = self.mask[:n] & (slot >= 0) & (slot < self.q_slots) & (step >= 0) \
            & (step < self.q_steps)
        self.snap_q_steps.index_put_((torch.where(keep, slot, self.q_slots),
                                      torch.where(keep, step, torch.zeros_like(step))),
                                     self.snap_q[:n])

    def q_trajectory(self, slot: int, n_steps: int) -> torch.Tensor:
        """float32 [n_steps, d] on the host: slot's q of steps 0 .. n_steps - 1 (one copy, for
        runtime.encode_sph_slices when the nonce's last step is done)."""
        if self.snap_q_steps is None:
            raise ValueError("this state keeps no trajectories: make it with q_slots and q_steps")
        if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot < self.q_slots:
            raise ValueError(f"slot must be an int in [0, {self.q_slots - 1}], got {slot!r}")
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) \
                or not 1 <= n_steps <= self.q_steps:
            raise ValueError(f"n_steps must be an int in [1, {self.q_steps}], got {n_steps!r}")
        return self.snap_q_steps[slot, :n_steps].cpu()

    def snap_outputs(self, n: int):
        """(k, bad, scores, q) of rows [0, n): views of the snap buffers. n in [0, max_rows]; a
        negative n would slice from the end and give rows the caller did not ask for."""
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= self.max_rows:
            raise ValueError(f"n must be an int in [0, max_rows = {self.max_rows}], got {n!r}")
        return self.snap_k[:n], self.snap_bad[:n], self.snap_scores[:n], self.snap_q[:n]
