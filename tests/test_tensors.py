"""Value snapshots: every number of a small tensor, exact statistics of a large one."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
import torch

from gradviz.torchcapture.tensors import FULL_LIMIT, StatsMemo, storage_key, to_data


@pytest.mark.parametrize(
    "t",
    [
        torch.tensor(2.5),
        torch.tensor([1.0, -2.0, 3.5]),
        torch.arange(12.0).reshape(3, 4).t(),  # not contiguous: row-major order of the view
        torch.tensor([[True, False]]),
        torch.tensor([3, -1], dtype=torch.int64),
        torch.tensor([1 + 2j]),
    ],
)
def test_small_tensors_keep_every_value_in_row_major_order(t: torch.Tensor) -> None:
    data = to_data(t)
    assert data.shape == tuple(t.shape)
    assert data.dtype == str(t.dtype).removeprefix("torch.")
    assert data.data == tuple(t.reshape(-1).tolist())
    assert data.stats is None


def test_a_tensor_that_requires_grad_is_read_without_growing_the_graph() -> None:
    w = torch.randn(2, 3, requires_grad=True)
    data = to_data(w * 2)
    assert data.data == pytest.approx((w * 2).detach().reshape(-1).tolist())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int32])
def test_large_tensors_are_summarized_as_torch_computes_it(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    t = (torch.randn(40, 30) * 5 + 1).to(dtype)
    assert t.numel() > FULL_LIMIT
    stats = to_data(t).stats
    assert stats is not None
    ref = t.double()
    assert stats.min == pytest.approx(float(ref.min()))
    assert stats.max == pytest.approx(float(ref.max()))
    assert stats.mean == pytest.approx(float(ref.mean()), rel=1e-5)
    assert stats.std == pytest.approx(float(ref.std()), rel=1e-4)
    assert stats.norm == pytest.approx(float(ref.norm()), rel=1e-5)


def test_a_large_mean_over_a_tiny_spread_keeps_an_exact_std() -> None:
    t = 1000.0 + torch.linspace(0, 1e-3, 1000, dtype=torch.float64)
    stats = to_data(t).stats
    assert stats is not None and stats.std is not None
    assert stats.std == pytest.approx(float(t.std()), rel=1e-6)


def test_a_spread_of_a_hundredth_of_the_mean_keeps_four_exact_digits() -> None:
    """Log-probabilities of an untrained 10-class classifier: -2.30 ± 0.03, in float32."""
    torch.manual_seed(0)
    t = torch.log_softmax(torch.randn(64, 10) * 0.03, 1)
    stats = to_data(t).stats
    assert stats is not None and stats.std is not None
    assert stats.std == pytest.approx(float(t.double().std()), rel=1e-6)


def test_nan_and_inf_are_counted_and_left_out_of_the_summary() -> None:
    t = torch.ones(1000)
    t[0], t[1], t[2] = math.nan, math.inf, -math.inf
    stats = to_data(t).stats
    assert stats is not None
    assert (stats.nan, stats.inf) == (1, 2)
    assert (stats.min, stats.max, stats.mean) == (1.0, 1.0, 1.0)


def _sparse_cases() -> list[torch.Tensor]:
    torch.manual_seed(0)
    dense = torch.zeros(50, 8)
    dense[[3, 7, 7, 20]] = torch.randn(4, 8) * 3 + 1
    # an embedding's sparse gradient: repeated rows, not yet coalesced
    rows = torch.tensor([[3, 7, 3]])
    duplicated = torch.sparse_coo_tensor(rows, torch.randn(3, 8), (50, 8), check_invariants=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        csr = dense.to_sparse_csr()
    return [dense.to_sparse(), csr, duplicated]


@pytest.mark.parametrize("t", _sparse_cases(), ids=["coo", "csr", "coo-uncoalesced"])
def test_sparse_tensors_are_summarized_with_their_zeros(t: torch.Tensor) -> None:
    """``nn.Embedding(sparse=True)`` gives a sparse gradient; its summary is the dense one's."""
    stats = to_data(t).stats
    assert stats is not None
    ref = t.to_dense().double()
    assert stats.min == pytest.approx(float(ref.min()))
    assert stats.max == pytest.approx(float(ref.max()))
    assert stats.mean == pytest.approx(float(ref.mean()), rel=1e-5)
    assert stats.std == pytest.approx(float(ref.std()), rel=1e-4)
    assert stats.norm == pytest.approx(float(ref.norm()), rel=1e-5)


def test_small_sparse_tensors_keep_every_value_and_empty_ones_are_zero() -> None:
    small = torch.sparse_coo_tensor(
        torch.tensor([[1, 1, 0]]), torch.tensor([2.0, 3.0, -1.0]), (4,), check_invariants=True
    )
    assert to_data(small).data == (-1.0, 5.0, 0.0, 0.0)
    one = torch.sparse_coo_tensor(
        torch.tensor([[7]]), torch.tensor([-3.0]), (1000,), check_invariants=True
    )
    stats = to_data(one).stats
    assert stats is not None and (stats.min, stats.max, stats.norm) == (-3.0, 0.0, 3.0)
    assert stats.mean == pytest.approx(-0.003) and stats.std == pytest.approx(
        float(one.to_dense().std())
    )
    empty = torch.sparse_coo_tensor(
        torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), (30, 30), check_invariants=True
    )
    stats = to_data(empty).stats
    assert stats is not None and (stats.min, stats.max, stats.mean, stats.norm) == (0, 0, 0, 0)


def test_the_memo_reuses_a_summary_for_the_same_elements_in_another_order() -> None:
    w = torch.randn(64, 32)
    memo = StatsMemo()
    first = to_data(w, memo)
    transposed = to_data(w.t(), memo)
    assert transposed.shape == (32, 64)
    assert transposed.stats is first.stats  # reused, not recomputed
    assert len(memo) == 1


def test_the_memo_never_serves_a_tensor_changed_in_place_or_another_slice() -> None:
    w = torch.randn(64, 32)
    memo = StatsMemo()
    before = to_data(w, memo).stats
    w.mul_(2)  # bumps the version counter
    after = to_data(w, memo).stats
    assert before is not None and after is not None
    assert after.max == pytest.approx(2 * before.max)
    half = to_data(w[:32], memo).stats  # same first element, fewer of them
    assert half is not None and half is not after
    assert half.max == pytest.approx(float(w[:32].max()))


def test_storage_key_links_a_saved_tensor_to_the_tensor_it_saved() -> None:
    x = torch.randn(3, 4, requires_grad=True)
    y = x.exp()
    saved = y.grad_fn._saved_result  # type: ignore[union-attr]
    assert saved is not y
    assert storage_key(saved) == storage_key(y)
    assert storage_key(y.t()) != storage_key(y)  # same memory, other numbers at each index


@pytest.mark.parametrize(
    "view",
    [
        lambda w: w.t(),
        lambda w: w.reshape(8, 8, 50).permute(2, 0, 1),
        lambda w: w[:, ::2],  # not one block of memory: read through a copy
        lambda w: w[0].expand(64, 50),  # stride 0: every row the same memory
    ],
)
def test_views_are_summarized_like_their_contiguous_copies(view: Any) -> None:
    torch.manual_seed(1)
    t = view(torch.randn(64, 50))
    stats, ref = to_data(t).stats, to_data(t.contiguous()).stats
    assert stats is not None and ref is not None
    for field in ("min", "max", "mean", "std", "norm"):
        assert getattr(stats, field) == pytest.approx(getattr(ref, field), rel=1e-5)


def test_the_memo_never_serves_a_freed_tensors_summary_to_its_memory_reused() -> None:
    """A gradient freed during backward may leave its address to the next one."""
    memo = StatsMemo()
    first = torch.zeros(64, 50)
    stats = to_data(first, memo).stats
    key = next(iter(memo._entries))
    del first  # its memory may now go to another tensor with the same key
    assert memo.get(key) is None
    again = torch.ones(64, 50)
    fresh = to_data(again, memo).stats
    assert stats is not None and fresh is not None and fresh.mean == 1.0


def test_the_memo_knows_views_of_one_block_read_the_same_elements() -> None:
    x = torch.randn(8, 32, 64)
    memo = StatsMemo()
    first = to_data(x, memo).stats
    for same in (x.view(256, 64), x.transpose(1, 2), x.unflatten(1, (4, 8)), x.permute(2, 0, 1)):
        assert to_data(same, memo).stats is first
    for other in (x[:, ::2], x[:4], x[0:1].expand(3, 32, 64), x.narrow(2, 1, 32)):
        got = to_data(other, memo).stats
        assert got is not first and got is not None
        assert got.max == pytest.approx(float(other.max()))
        assert got.mean == pytest.approx(float(other.double().mean()), abs=1e-6)


def test_the_memo_stays_small_however_many_tensors_it_sees() -> None:
    memo = StatsMemo()
    kept = [torch.randn(300) for _ in range(StatsMemo.LIMIT + 10)]
    for t in kept:
        to_data(t, memo)
    assert len(memo) <= StatsMemo.LIMIT
    assert to_data(kept[-1], memo).stats is to_data(kept[-1], memo).stats  # recent ones stay
