"""Every chain-rule formula that `gradviz explain` shows equals what torch computes.

For each rule, the op runs on random float64 inputs; the rule's own formula
strings are evaluated with the node's saved attributes and compared with
``torch.autograd.grad``. Every rule has a case here, and every case a rule.
"""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from gradviz.explain.evaluate import evaluate
from gradviz.explain.rules import RULES, VARIANTS, Rule, rule_for, variant_label

Case = Callable[[], tuple[torch.Tensor, list[torch.Tensor | None]]]


def P(*shape: int, positive: bool = False, unit: bool = False) -> torch.Tensor:
    t = torch.randn(*shape, dtype=torch.float64)
    if positive:
        t = t.abs() + 0.5
    if unit:
        t = torch.rand(*shape, dtype=torch.float64) * 0.8 + 0.1
    return t.requires_grad_()


def one(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor | None) -> Any:
    return fn(*[i for i in inputs if i is not None]), list(inputs)


def unary(fn: Callable[[torch.Tensor], torch.Tensor], **kw: bool) -> Case:
    def case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        x = P(2, 3, **kw)
        return fn(x), [x]

    return case


def binary(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    a: tuple[int, ...],
    b: tuple[int, ...],
    **kw: bool,
) -> Case:
    def case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        x, y = P(*a), P(*b, **kw)
        return fn(x, y), [x, y]

    return case


def with_target(fn: Callable[[torch.Tensor], torch.Tensor], x: Callable[[], torch.Tensor]) -> Case:
    def case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        t = x()
        return fn(t), [t, None]

    return case


def cat_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    a, b = P(2, 3), P(1, 3)
    return torch.cat([a, b]), [a, b]


def stack_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    a, b = P(3), P(3)
    return torch.stack([a, b], dim=1), [a, b]


def where_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    a, b = P(2, 3), P(3)
    return torch.where(torch.tensor([True, False, True]), a, b), [a, b]


def layer(fn: Callable[..., torch.Tensor], *shapes: tuple[int, ...]) -> Case:
    def case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        ts = [P(*s) for s in shapes]
        return fn(*ts), list(ts)

    return case


def embedding_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    w = P(4, 3)
    return F.embedding(torch.tensor([[0, 2], [0, 3]]), w), [w]


def dropout_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    x = P(2, 3)
    out, _ = torch.native_dropout(x, 0.4, True)
    return out, [x]


def pow_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    a, b = P(2, 3, positive=True), P(2, 3)
    return a**b, [a, b]


def soft_margin_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    x = P(2, 3)
    return F.soft_margin_loss(x, torch.tensor([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]])), [x]


def bce_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    p, y = P(2, 3, unit=True), P(2, 3, unit=True)
    return F.binary_cross_entropy(p, y), [p, y]


def leaf_pairs() -> dict[str, Case]:
    t = torch.tensor
    return {
        "AddBackward0": binary(lambda a, b: torch.add(a, b, alpha=2.0), (2, 3), (3,)),
        "SubBackward0": binary(lambda a, b: torch.sub(a, b, alpha=0.5), (2, 3), (1, 3)),
        "RsubBackward1": unary(lambda x: 2 - x),
        "MulBackward0": binary(lambda a, b: a * b, (2, 3), (2, 1)),
        "DivBackward0": binary(lambda a, b: a / b, (2, 3), (3,), positive=True),
        "MulBackward1": unary(lambda x: torch.ops.aten.mul.Scalar(x, 2.5)),
        "AddBackward1": unary(lambda x: torch.ops.aten.add.Scalar(x, 2.5)),
        "SubBackward1": unary(lambda x: torch.ops.aten.sub.Scalar(x, 2.5, alpha=2)),
        "DivBackward1": unary(lambda x: torch.ops.aten.div.Scalar(x, 2.5)),
        "NegBackward0": unary(lambda x: -x),
        "PowBackward0": unary(lambda x: x**3, positive=True),
        "PowBackward1": pow_case,
        "ExpBackward0": unary(torch.exp),
        "LogBackward0": unary(torch.log, positive=True),
        "SqrtBackward0": unary(torch.sqrt, positive=True),
        "AbsBackward0": unary(torch.abs),
        "SinBackward0": unary(torch.sin),
        "CosBackward0": unary(torch.cos),
        "TanhBackward0": unary(torch.tanh),
        "SigmoidBackward0": unary(torch.sigmoid),
        "ReluBackward0": unary(torch.relu),
        "LogSigmoidBackward0": unary(F.logsigmoid),
        "MaskedFillBackward0": unary(
            lambda x: x.masked_fill(torch.tensor([[True, False, True], [False, False, True]]), -1.0)
        ),
        "GatherBackward0": unary(lambda x: x.gather(1, torch.tensor([[0, 0, 2], [1, 2, 1]]))),
        "TanhBackwardBackward0": binary(torch.ops.aten.tanh_backward, (2, 3), (2, 3)),
        "SigmoidBackwardBackward0": binary(torch.ops.aten.sigmoid_backward, (2, 3), (2, 3)),
        "LeakyReluBackwardBackward0": binary(
            lambda g, x: torch.ops.aten.leaky_relu_backward(g, x, 0.2, False), (2, 3), (2, 3)
        ),
        "ThresholdBackwardBackward0": binary(
            lambda g, x: torch.ops.aten.threshold_backward(g, x, 0.2), (2, 3), (2, 3)
        ),
        "LeakyReluBackward0": unary(lambda x: F.leaky_relu(x, 0.1)),
        "GeluBackward0": unary(F.gelu),
        "SiluBackward0": unary(F.silu),
        "ClampBackward1": unary(lambda x: x.clamp(-0.5, 0.5)),
        "ClampMinBackward0": unary(lambda x: torch.clamp_min(x, 0.2)),
        "WhereBackward0": where_case,
        "SumBackward0": unary(torch.sum),
        "SumBackward1": unary(lambda x: x.sum(1)),
        "MeanBackward0": unary(torch.mean),
        "MeanBackward1": unary(lambda x: x.mean(0, keepdim=True)),
        "MaxBackward1": unary(torch.max),
        "MinBackward1": unary(torch.min),
        "MaxBackward0": unary(lambda x: x.max(1).values),
        "MinBackward0": unary(lambda x: x.min(0, keepdim=True).values),
        "AmaxBackward0": unary(lambda x: x.amax(1)),
        "AminBackward0": unary(lambda x: x.amin(0, keepdim=True)),
        "LinalgVectorNormBackward0": unary(torch.linalg.vector_norm),
        "SoftmaxBackward0": unary(lambda x: F.softmax(x, dim=1)),
        "LogSoftmaxBackward0": unary(lambda x: F.log_softmax(x, dim=0)),
        "MmBackward0": binary(torch.mm, (2, 3), (3, 4)),
        "AddmmBackward0": layer(
            lambda b, m1, m2: torch.addmm(b, m1, m2, beta=0.5, alpha=2.0), (4,), (2, 3), (3, 4)
        ),
        "BmmBackward0": binary(torch.bmm, (2, 2, 3), (2, 3, 4)),
        "MvBackward0": binary(torch.mv, (2, 3), (3,)),
        "DotBackward0": binary(torch.dot, (3,), (3,)),
        "VdotBackward0": binary(torch.vdot, (3,), (3,)),
        "TBackward0": unary(torch.t),
        "TBackward1": unary(lambda x: (x * 1).t_()),
        "TransposeBackward1": layer(lambda x: (x * 1).transpose_(0, 2), (2, 3, 4)),
        "SqueezeBackward3": layer(lambda x: (x * 1).squeeze_(), (2, 1, 3)),
        "SqueezeBackward4": layer(lambda x: (x * 1).squeeze_(1), (2, 1, 3)),
        "ConstantPadNdBackward0": layer(lambda x: F.pad(x, (1, 2, -1, 0), value=0.5), (3, 4)),
        "TraceBackward0": layer(torch.trace, (3, 4)),
        "DiagonalBackward0": layer(lambda x: torch.diagonal(x, 1, 0, 2), (3, 2, 4)),
        "NormBackward1": layer(
            lambda x: torch.ops.aten.norm.ScalarOpt_dim(x, 2.0, [1], True), (3, 4)
        ),
        "BaddbmmBackward0": layer(
            lambda s, b1, b2: torch.baddbmm(s, b1, b2, beta=0.5, alpha=2.0),
            (1, 4),
            (2, 3, 2),
            (2, 2, 4),
        ),
        "TransposeBackward0": layer(lambda x: x.transpose(0, 2), (2, 3, 4)),
        "PermuteBackward0": layer(lambda x: x.permute(2, 0, 1), (2, 3, 4)),
        "ViewBackward0": unary(lambda x: x.view(3, 2)),
        "UnsafeViewBackward0": layer(lambda x: torch.ops.aten._unsafe_view(x, [3, 2]), (2, 3)),
        "ReshapeAliasBackward0": None,  # type: ignore[dict-item]
        "SqueezeBackward0": layer(lambda x: x.squeeze(), (1, 3)),
        "SqueezeBackward1": layer(lambda x: x.squeeze(0), (1, 3)),
        "SqueezeBackward2": layer(lambda x: x.squeeze((0, 2)), (1, 3, 1)),
        "UnsqueezeBackward0": layer(lambda x: x.unsqueeze(1), (3,)),
        "ExpandBackward0": layer(lambda x: x.expand(2, 3), (1, 3)),
        "CloneBackward0": unary(torch.clone),
        "ToCopyBackward0": unary(lambda x: x.to(torch.float32)),
        "CatBackward0": cat_case,
        "StackBackward0": stack_case,
        "ReciprocalBackward0": unary(torch.reciprocal, positive=True),
        "RsqrtBackward0": unary(torch.rsqrt, positive=True),
        "Expm1Backward0": unary(torch.expm1),
        "Log1PBackward0": unary(torch.log1p, positive=True),
        "TanBackward0": unary(torch.tan, unit=True),
        "ErfBackward0": unary(torch.erf),
        "AtanBackward0": unary(torch.atan),
        "PowBackward2": unary(lambda x: 2.5**x),
        "SoftplusBackward0": unary(lambda x: F.softplus(x, beta=2.0, threshold=1.0)),
        "EluBackward0": unary(lambda x: F.elu(x, alpha=0.7)),
        "HardtanhBackward0": unary(lambda x: F.hardtanh(x, -0.5, 0.8)),
        "ErfcBackward0": unary(torch.erfc),
        "Deg2RadBackward0": unary(torch.deg2rad),
        "SpecialEntrBackward0": unary(torch.special.entr, positive=True),
        "FminBackward0": binary(torch.fmin, (2, 3), (3,)),
        "CopysignBackward0": with_target(
            lambda x: torch.copysign(x, torch.tensor([1.0, -1.0, -0.0])), lambda: P(2, 3)
        ),
        "Rot90Backward0": unary(lambda x: torch.rot90(x, 3, (0, 1))),
        "IndexFillBackward0": unary(lambda x: x.index_fill(1, torch.tensor([0, 2]), -1.0)),
        "IndexCopyBackward0": binary(
            lambda x, y: x.index_copy(0, torch.tensor([1, 0]), y), (3, 3), (2, 3)
        ),
        "ComplexBackward0": binary(torch.complex, (2, 3), (2, 3)),
        "FakeQuantizePerTensorAffineCachemaskBackward0": unary(
            lambda x: torch.fake_quantize_per_tensor_affine(x, 0.25, 1, -4, 3)
        ),
        "FakeQuantizePerChannelAffineCachemaskBackward0": unary(
            lambda x: torch.fake_quantize_per_channel_affine(
                x, torch.tensor([0.25, 0.5]), torch.tensor([0, 1], dtype=torch.int32), 0, -4, 3
            )
        ),
        "MishBackward0": unary(F.mish),
        "MaximumBackward0": binary(torch.maximum, (2, 3), (3,)),
        "LeakyReluBackward1": unary(lambda x: F.leaky_relu_(x * 1, 0.2)),
        "MinimumBackward0": binary(torch.minimum, (2, 3), (2, 3)),
        "AddcmulBackward0": layer(
            lambda a, b, c: torch.addcmul(a, b, c, value=0.5), (2, 3), (3,), (2, 3)
        ),
        "LogsumexpBackward0": layer(lambda x: torch.logsumexp(x, 1), (3, 4)),
        "VarBackward0": layer(lambda x: x.var(0, keepdim=True), (4, 3)),
        "StdBackward0": layer(lambda x: x.std(dim=(1, 2), correction=0), (2, 3, 4)),
        "CumsumBackward0": layer(lambda x: x.cumsum(1), (2, 4)),
        "CummaxBackward0": layer(lambda x: torch.cummax(x, 1).values, (2, 5)),
        "CumminBackward0": layer(lambda x: torch.cummin(x, 0).values, (5, 2)),
        "TopkBackward0": layer(lambda x: x.topk(2, dim=1).values, (3, 4)),
        "SortBackward0": layer(lambda x: x.sort(dim=0, descending=True).values, (3, 4)),
        "SafeSoftmaxBackward0": layer(lambda x: torch.ops.aten._safe_softmax(x, -1), (2, 4)),
        "AliasBackward0": layer(torch.ops.aten.alias, (2, 3)),
        "FlipBackward0": layer(lambda x: x.flip((0, 1)), (2, 3)),
        "TrilBackward0": layer(lambda x: x.tril(-1), (3, 3)),
        "TriuBackward0": layer(lambda x: x.triu(1), (3, 4)),
        "IndexSelectBackward0": layer(lambda x: x.index_select(0, t([2, 0, 2])), (3, 2)),
        "SmoothL1LossBackward0": with_target(
            lambda x: F.smooth_l1_loss(x, torch.zeros(2, 3, dtype=torch.float64), beta=0.7),
            lambda: P(2, 3),
        ),
        "HuberLossBackward0": with_target(
            lambda x: F.huber_loss(x, torch.zeros(2, 3, dtype=torch.float64), delta=0.6),
            lambda: P(2, 3),
        ),
        "AvgPool2DBackward0": layer(
            lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), (2, 3, 7, 6)
        ),
        "MaxPool2DWithIndicesBackward0": layer(
            lambda x: F.max_pool2d(x, 3, stride=2, padding=1), (2, 3, 6, 5)
        ),
        "SplitBackward0": layer(lambda x: x.split(2, dim=1), (3, 5)),
        "SplitWithSizesBackward0": layer(lambda x: x.split([1, 3], dim=1), (2, 4)),
        "UnsafeSplitBackward0": layer(lambda x: x.unsafe_split(2, dim=0), (4, 3)),
        "UnbindBackward0": layer(lambda x: x.unbind(1), (2, 3)),
        "SelectBackward0": unary(lambda x: x[1]),
        "SliceBackward0": layer(lambda x: x[1:4:2], (5, 3)),
        "IndexBackward0": layer(lambda x: x[t([0, 2, 0])], (4, 3)),
        "MseLossBackward0": binary(F.mse_loss, (2, 3), (2, 3)),
        "NllLossBackward0": with_target(lambda x: F.nll_loss(x, t([0, 2])), lambda: P(2, 3)),
        "BinaryCrossEntropyBackward0": bce_case,
        "SoftMarginLossBackward0": soft_margin_case,
        "BinaryCrossEntropyWithLogitsBackward0": binary(
            F.binary_cross_entropy_with_logits, (2, 3), (2, 3), unit=True
        ),
        "ConvolutionBackward0": layer(
            lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), (2, 2, 5, 5), (3, 2, 3, 3), (3,)
        ),
        "NativeBatchNormBackward0": layer(
            lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
            (4, 3, 2, 2),
            (3,),
            (3,),
        ),
        "NativeGroupNormBackward0": layer(
            lambda x, w, b: F.group_norm(x, 2, w, b), (2, 4, 3, 2), (4,), (4,)
        ),
        "NativeLayerNormBackward0": layer(
            lambda x, w, b: F.layer_norm(x, (3,), w, b), (2, 4, 3), (3,), (3,)
        ),
        "NativeDropoutBackward0": dropout_case,
        "EmbeddingBackward0": embedding_case,
        **more_leaf_pairs(),
    }


def on(fn: Callable[..., Any], *leaves: Callable[[], torch.Tensor]) -> Case:
    """``fn`` on leaves made as given (in a domain, complex...), each one requiring grad."""

    def case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        ts = [make().detach().requires_grad_() for make in leaves]
        return fn(*ts), list(ts)

    return case


def number() -> torch.Tensor:
    return torch.tensor(0.7, dtype=torch.float64)


def R(*shape: int, lo: float = -2.0, hi: float = 2.0) -> Callable[[], torch.Tensor]:
    """Uniform float64 values in [lo, hi): a function's domain (acosh: from 1)."""
    return lambda: torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo


def more_leaf_pairs() -> dict[str, Case]:
    """The rules of the less common ops: elementwise functions, picking reductions,
    indexed writes, resampling and linear algebra."""
    t = torch.tensor
    return {
        "AsinBackward0": unary(torch.asin, unit=True),
        "AcosBackward0": unary(torch.acos, unit=True),
        "SinhBackward0": unary(torch.sinh),
        "CoshBackward0": unary(torch.cosh),
        "AsinhBackward0": unary(torch.asinh),
        "AcoshBackward0": on(torch.acosh, R(2, 3, lo=1.2, hi=3.0)),
        "AtanhBackward0": unary(torch.atanh, unit=True),
        "Log2Backward0": unary(torch.log2, positive=True),
        "Log10Backward0": unary(torch.log10, positive=True),
        "Exp2Backward0": unary(torch.exp2),
        "ErfinvBackward0": on(torch.erfinv, R(2, 3, lo=-0.9, hi=0.9)),
        "LgammaBackward0": unary(torch.lgamma, positive=True),
        "DigammaBackward0": unary(torch.digamma, positive=True),
        "LogitBackward0": unary(torch.logit, unit=True),
        "SignBackward0": unary(torch.sign),
        "SgnBackward0": unary(torch.sgn),
        "FloorBackward0": unary(torch.floor),
        "CeilBackward0": unary(torch.ceil),
        "RoundBackward0": unary(torch.round),
        "TruncBackward0": unary(torch.trunc),
        "FracBackward0": unary(torch.frac),
        "FmodBackward0": unary(lambda x: torch.fmod(x, 0.3)),
        "RemainderBackward0": unary(lambda x: torch.remainder(x, 0.3)),
        "NanToNumBackward0": on(
            torch.nan_to_num,
            lambda: torch.tensor([[1.5, math.nan, -2.0], [math.inf, 0.5, -math.inf]]).double(),
        ),
        "Atan2Backward0": binary(torch.atan2, (2, 3), (3,)),
        "HypotBackward0": binary(torch.hypot, (2, 3), (2, 3)),
        "LogaddexpBackward0": binary(torch.logaddexp, (2, 3), (1, 3)),
        "XlogyBackward0": binary(torch.xlogy, (2, 3), (2, 3), positive=True),
        "AddcdivBackward0": on(
            lambda a, b, c: torch.addcdiv(a, b, c, value=0.5), R(2, 3), R(3), R(2, 3, lo=0.5)
        ),
        "LerpBackward0": binary(lambda a, b: torch.lerp(a, b, 0.3), (2, 3), (3,)),
        "LerpBackward1": layer(torch.lerp, (2, 3), (2, 3), (3,)),
        "ClampBackward0": on(torch.clamp, R(3, 4), R(4, lo=-1.5, hi=-0.5), R(3, 4, lo=0.5, hi=1.5)),
        "CeluBackward0": unary(lambda x: F.celu(x, alpha=0.7)),
        "HardswishBackward0": on(F.hardswish, R(3, 4, lo=-5, hi=5)),
        "HardsigmoidBackward0": on(F.hardsigmoid, R(3, 4, lo=-5, hi=5)),
        "SoftshrinkBackward0": unary(lambda x: F.softshrink(x, 0.4)),
        "HardshrinkBackward0": unary(lambda x: F.hardshrink(x, 0.4)),
        "ThresholdBackward0": unary(lambda x: F.threshold(x, 0.1, -1.0)),
        "RreluWithNoiseBackward0": unary(lambda x: F.rrelu(x, training=True)),
        "PreluKernelBackward0": layer(F.prelu, (2, 3, 4), (3,)),
        "ProdBackward0": layer(torch.prod, (2, 3)),
        "ProdBackward1": layer(lambda x: x.prod(1, keepdim=True), (3, 4)),
        "CumprodBackward0": layer(lambda x: x.cumprod(1), (2, 4)),
        "LogcumsumexpBackward0": layer(lambda x: x.logcumsumexp(0), (4, 2)),
        "NansumBackward0": on(
            lambda x: x.nansum(1), lambda: torch.tensor([[1.0, math.nan], [2.0, 3.0]]).double()
        ),
        "MedianBackward0": layer(torch.median, (3, 5)),
        "MedianBackward1": layer(lambda x: x.median(1).values, (3, 5)),
        "KthvalueBackward0": layer(lambda x: x.kthvalue(2, 0, keepdim=True).values, (3, 4)),
        "ModeBackward0": layer(lambda x: x.mode(1).values, (3, 4)),
        "RepeatBackward0": layer(lambda x: x.repeat(2, 1, 3), (2, 3)),
        "RollBackward0": layer(lambda x: x.roll((1, -2), (0, 1)), (3, 4)),
        "DiagEmbedBackward0": layer(lambda x: torch.diag_embed(x, 1), (2, 3)),
        "DiagonalBackward0_copy": layer(lambda x: torch.diag(x, -1), (3, 4)),
        "ViewAsRealBackward0": on(
            torch.view_as_real, lambda: torch.randn(3, dtype=torch.complex128)
        ),
        "ViewAsComplexBackward0": layer(lambda x: torch.view_as_complex(x), (3, 2)),
        "ConjBackward0": on(torch.conj, lambda: torch.randn(3, dtype=torch.complex128)),
        "GluBackward0": layer(lambda x: F.glu(x, 1), (2, 6)),
        "ScatterBackward0": layer(
            lambda x, src: x.scatter(1, t([[0, 2], [1, 1]]), src), (2, 3), (2, 2)
        ),
        "ScatterBackward1": layer(lambda x: x.scatter(0, t([[1, 0, 1]]), 0.5), (2, 3)),
        "ScatterAddBackward0": layer(
            lambda x, src: x.scatter_add(1, t([[0, 0], [2, 1]]), src), (2, 3), (2, 2)
        ),
        "IndexAddBackward0": layer(
            lambda x, src: x.index_add(0, t([2, 0, 2]), src, alpha=0.5), (3, 2), (3, 2)
        ),
        "IndexPutBackward0": layer(
            lambda x, v: x.index_put((t([0, 2]), t([1, 1])), v), (3, 2), (2,)
        ),
        "MaskedSelectBackward0": layer(lambda x: x.masked_select(t([True, False, True])), (2, 3)),
        "MaskedScatterBackward0": layer(
            lambda x, s: x.masked_scatter(t([[True, False], [False, True]]), s), (2, 2), (5,)
        ),
        "TakeBackward0": layer(lambda x: x.take(t([0, 4, 0])), (2, 3)),
        "CopyBackwards": layer(lambda x, s: (x * 1).copy_(s), (2, 3), (3,)),
        "PixelShuffleBackward0": layer(lambda x: F.pixel_shuffle(x, 2), (2, 8, 3, 3)),
        "PixelUnshuffleBackward0": layer(lambda x: F.pixel_unshuffle(x, 2), (2, 3, 4, 6)),
        "ReflectionPad1DBackward0": layer(lambda x: F.pad(x, (2, 1), mode="reflect"), (2, 3, 5)),
        "ReflectionPad2DBackward0": layer(
            lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), (2, 2, 4, 5)
        ),
        "ReflectionPad3DBackward0": layer(
            lambda x: F.pad(x, (1, 1, 0, 1, 1, 0), mode="reflect"), (1, 2, 3, 3, 4)
        ),
        "ReplicationPad1DBackward0": layer(lambda x: F.pad(x, (2, 1), mode="replicate"), (2, 3, 4)),
        "ReplicationPad2DBackward0": layer(
            lambda x: F.pad(x, (1, 2, 2, 0), mode="replicate"), (2, 2, 3, 4)
        ),
        "ReplicationPad3DBackward0": layer(
            lambda x: F.pad(x, (1, 0, 0, 2, 1, 1), mode="replicate"), (1, 2, 3, 2, 3)
        ),
        "Im2ColBackward0": layer(
            lambda x: F.unfold(x, (2, 3), dilation=1, padding=1, stride=2), (2, 3, 5, 6)
        ),
        "Col2ImBackward0": layer(lambda x: F.fold(x, (4, 5), (2, 2), stride=1), (2, 8, 12)),
        "UnfoldBackward0": layer(lambda x: x.unfold(1, 3, 2), (2, 7)),
        "AdaptiveAvgPool2DBackward0": layer(
            lambda x: F.adaptive_avg_pool2d(x, (3, 2)), (2, 2, 7, 5)
        ),
        "AdaptiveMaxPool2DBackward0": layer(
            lambda x: F.adaptive_max_pool2d(x, (3, 2)), (2, 2, 7, 5)
        ),
        "MaxUnpool2DBackward0": unpool_case,
        "UpsampleNearest1DBackward0": layer(
            lambda x: F.interpolate(x, size=7, mode="nearest"), (2, 3, 4)
        ),
        "UpsampleNearest2DBackward0": layer(
            lambda x: F.interpolate(x, scale_factor=(2, 1.5), mode="nearest"), (1, 2, 3, 4)
        ),
        "UpsampleLinear1DBackward0": layer(
            lambda x: F.interpolate(x, size=9, mode="linear"), (2, 3, 4)
        ),
        "UpsampleBilinear2DBackward0": layer(
            lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), (1, 2, 3, 4)
        ),
        "LinalgInvExBackward0": on(torch.linalg.inv, well_conditioned),
        "LinalgDetBackward0": layer(torch.linalg.det, (3, 3)),
        "LinalgSlogdetBackward0": layer(lambda a: torch.linalg.slogdet(a).logabsdet, (3, 3)),
        "LinalgSolveExBackward0": on(torch.linalg.solve, well_conditioned, R(3, 2)),
        "LinalgCrossBackward0": binary(torch.linalg.cross, (2, 3), (1, 3)),
        "AddmvBackward0": layer(
            lambda s, m, v: torch.addmv(s, m, v, beta=0.5, alpha=2.0), (1,), (2, 3), (3,)
        ),
        "AddrBackward0": layer(
            lambda s, a, b: torch.addr(s, a, b, beta=0.5, alpha=2.0), (2, 3), (2,), (3,)
        ),
        "AddbmmBackward0": layer(
            lambda s, b1, b2: torch.addbmm(s, b1, b2, beta=0.5, alpha=2.0),
            (1, 4),
            (2, 3, 2),
            (2, 2, 4),
        ),
        "DistBackward0": binary(torch.dist, (2, 3), (3,)),
        "CdistBackward0": binary(torch.cdist, (2, 4, 3), (2, 5, 3)),
        "EuclideanDistBackward0": binary(torch._euclidean_dist, (30, 3), (4, 3)),  # cdist > 25
        "PdistBackward0": layer(torch.nn.functional.pdist, (4, 3)),
        "VarMeanBackward0": layer(lambda x: torch.var_mean(x, 1, correction=0), (3, 4)),
        "StdMeanBackward0": layer(lambda x: torch.std_mean(x, (0, 2), keepdim=True), (2, 3, 4)),
        "SincBackward0": on(
            torch.sinc, lambda: torch.tensor([[0.0, 0.3, -1.2], [2.5, 1.0, -0.4]]).double()
        ),
        "FmaxBackward0": on(
            torch.fmax,
            lambda: torch.tensor([[1.0, math.nan, 2.0], [0.5, -1.0, 3.0]]).double(),
            lambda: torch.tensor([[0.0, 1.0, math.nan], [0.5, 2.0, -3.0]]).double(),
        ),
        "NllLoss2DBackward0": with_target(
            lambda x: F.nll_loss(x, t([[[0, 2], [1, 1]], [[2, 2], [0, 1]]])),
            lambda: P(2, 3, 2, 2),
        ),
        "EmbeddingBagBackward0": bag_case,
        "SoftplusBackwardBackward0": layer(
            lambda go, x: torch.ops.aten.softplus_backward(go, x, 1.5, 1.0), (3, 4), (3, 4)
        ),
        "MseLossBackwardBackward0": on(
            lambda go, x, y: torch.ops.aten.mse_loss_backward(go, x, y, 1), number, R(3, 4), R(3, 4)
        ),
        "SelectBackwardBackward0": layer(
            lambda go: torch.ops.aten.select_backward(go, [3, 4, 2], 1, 2), (3, 2)
        ),
        "LogSoftmaxBackwardDataBackward0": on(
            lambda go, out: torch.ops.aten._log_softmax_backward_data(go, out, 1, torch.float64),
            R(3, 4),
            lambda: torch.randn(3, 4, dtype=torch.float64).log_softmax(1),
        ),
        "NllLossBackwardBackward0": on(
            lambda go, x: torch.ops.aten.nll_loss_backward(
                go, x, t([0, 2, 1]), None, 1, 1, torch.tensor(2.0, dtype=torch.float64)
            ),
            number,
            R(3, 4),
        ),
    }


def well_conditioned() -> torch.Tensor:
    return torch.randn(3, 3, dtype=torch.float64) + 3 * torch.eye(3, dtype=torch.float64)


def unpool_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    x = P(2, 2, 4, 4)
    pooled, where = F.max_pool2d(x.detach(), 2, return_indices=True)
    y = pooled.clone().requires_grad_()
    return F.max_unpool2d(y, where, 2), [y]


def bag_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    w = P(5, 3)
    idx, offsets = torch.tensor([0, 2, 2, 4, 1]), torch.tensor([0, 3, 3])
    return F.embedding_bag(idx, w, offsets, mode="mean"), [w]


def saved_symbols(node: Any) -> dict[str, Any]:
    """What the node saved, by the names the formulas use (tensors detached), read as the
    capture reads them: a dimension of -1, which autograd keeps as ``2**64 - 1``, is -1."""
    symbols: dict[str, Any] = {}
    for attr in dir(node):
        if attr.startswith("_saved_"):
            with contextlib.suppress(RuntimeError):
                value = getattr(node, attr)
                if isinstance(value, torch.Tensor):
                    value = value.detach()
                elif isinstance(value, tuple):
                    value = tuple(_signed(v) for v in value)
                symbols[attr.removeprefix("_saved_")] = _signed(value)
    return symbols


def _signed(value: Any) -> Any:
    return value - (1 << 64) if type(value) is int and value >= 1 << 63 else value


CASES = {k: v for k, v in leaf_pairs().items() if v is not None}
# ReshapeAliasBackward0 is what older torch builds give for reshape; 2.13 gives
# ViewBackward0 for every reshape, so its formula (shared) is checked there.
UNREACHABLE = {"ReshapeAliasBackward0"}


def test_every_rule_has_a_case() -> None:
    assert set(RULES) == set(CASES) | UNREACHABLE


def transposed_conv_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    x, w, b = P(2, 3, 4, 4), P(3, 2, 3, 3), P(2)
    return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1), [x, w, b]


def bag_sum_case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    w = P(5, 3)
    return F.embedding_bag(torch.tensor([[0, 2], [4, 4]]), w, mode="sum"), [w]


MORE_CASES = {
    "ConvolutionBackward0 (transposed)": transposed_conv_case,
    "UpsampleBilinear2DBackward0 (align_corners, odd size)": layer(
        lambda x: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True), (1, 2, 3, 4)
    ),
    "UpsampleBilinear2DBackward0 (downsampling)": layer(
        lambda x: F.interpolate(x, size=(2, 3), mode="bilinear"), (1, 2, 5, 7)
    ),
    "UpsampleNearest2DBackward0 (size)": layer(
        lambda x: F.interpolate(x, size=(5, 3), mode="nearest"), (1, 2, 3, 4)
    ),
    "UpsampleLinear1DBackward0 (align_corners)": layer(
        lambda x: F.interpolate(x, scale_factor=2.5, mode="linear", align_corners=True), (2, 3, 4)
    ),
    "PreluKernelBackward0 (one slope)": layer(F.prelu, (2, 3, 4), (1,)),
    "EmbeddingBagBackward0 (sum, 2-D)": bag_sum_case,
    "NllLossBackward0 (ignore_index)": with_target(
        lambda x: F.nll_loss(x, torch.tensor([0, -100, 2])), lambda: P(3, 3)
    ),
}
"""A rule checked on a second kind of call, named ``node (what)``."""


@pytest.mark.parametrize("name", [*sorted(CASES), *sorted(MORE_CASES)])
def test_rule_matches_torch(name: str) -> None:
    torch.manual_seed(sum(map(ord, name)))
    case = {**CASES, **MORE_CASES}[name]
    name = name.split(" ")[0]
    check_rule(name, RULES[name], case)


def _reduced_cases(reduction: str) -> dict[str, Case]:
    """A case for each loss called with ``reduction`` ('none', 'sum')."""
    t, r = torch.tensor, reduction

    def zeros() -> torch.Tensor:
        return torch.zeros(2, 3, dtype=torch.float64)

    def bce() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        p, y = P(2, 3, unit=True), P(2, 3, unit=True)
        return F.binary_cross_entropy(p, y, reduction=r), [p, y]

    def soft_margin() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        x = P(2, 3)
        y = torch.tensor([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]], dtype=torch.float64)
        return F.soft_margin_loss(x, y, reduction=r), [x]

    cases: dict[str, Case] = {
        "MseLossBackward0": binary(lambda a, b: F.mse_loss(a, b, reduction=r), (2, 3), (2, 3)),
        "SmoothL1LossBackward0": with_target(
            lambda x: F.smooth_l1_loss(x, zeros(), beta=0.7, reduction=r), lambda: P(2, 3)
        ),
        "HuberLossBackward0": with_target(
            lambda x: F.huber_loss(x, zeros(), delta=0.6, reduction=r), lambda: P(2, 3)
        ),
        "BinaryCrossEntropyBackward0": bce,
        "SoftMarginLossBackward0": soft_margin,
        "BinaryCrossEntropyWithLogitsBackward0": binary(
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=r),
            (2, 3),
            (2, 3),
            unit=True,
        ),
        # with a target left out (ignore_index), whose row gets nothing
        "NllLossBackward0": with_target(
            lambda x: F.nll_loss(x, t([0, 2, -100]), reduction=r), lambda: P(3, 3)
        ),
        "NllLoss2DBackward0": with_target(
            lambda x: F.nll_loss(x, t([[[0, 2], [1, -100]], [[2, 2], [0, 1]]]), reduction=r),
            lambda: P(2, 3, 2, 2),
        ),
    }
    if reduction == "sum":
        cases["MseLossBackwardBackward0"] = on(
            lambda go, x, y: torch.ops.aten.mse_loss_backward(go, x, y, 2),
            number,
            R(3, 4),
            R(3, 4),
        )
    return cases


def _weighted_cases(reduction: str) -> dict[str, Case]:
    """A case for each loss called with class weights, and ``reduction``."""
    r = reduction

    def w(*values: float) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float64)

    def bce() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        p, y = P(2, 3, unit=True), P(2, 3, unit=True)
        return F.binary_cross_entropy(p, y, weight=w(0.5, 2.0, 1.5), reduction=r), [p, y]

    return {
        "NllLossBackward0 weight": with_target(
            lambda x: F.nll_loss(
                x, torch.tensor([0, 2, -100, 2]), weight=w(0.5, 2.0, 1.5), reduction=r
            ),
            lambda: P(4, 3),
        ),
        "NllLoss2DBackward0 weight": with_target(
            lambda x: F.nll_loss(
                x,
                torch.tensor([[[0, 2], [1, -100]], [[2, 2], [0, 1]]]),
                weight=w(0.5, 2.0, 1.5),
                reduction=r,
            ),
            lambda: P(2, 3, 2, 2),
        ),
        "BinaryCrossEntropyBackward0 weight": bce,
        "BinaryCrossEntropyWithLogitsBackward0 weight": binary(
            lambda a, b: F.binary_cross_entropy_with_logits(
                a, b, weight=w(0.5, 2.0, 1.5), reduction=r
            ),
            (2, 3),
            (2, 3),
            unit=True,
        ),
        "BinaryCrossEntropyWithLogitsBackward0 weight, pos_weight": binary(
            lambda a, b: F.binary_cross_entropy_with_logits(
                a, b, weight=w(0.5, 2.0, 1.5), pos_weight=w(3.0, 0.5, 1.0), reduction=r
            ),
            (2, 3),
            (2, 3),
            unit=True,
        ),
        "BinaryCrossEntropyWithLogitsBackward0 pos_weight": binary(
            lambda a, b: F.binary_cross_entropy_with_logits(
                a, b, pos_weight=w(3.0, 0.5, 1.0), reduction=r
            ),
            (2, 3),
            (2, 3),
            unit=True,
        ),
    }


def _variant_cases() -> dict[tuple[str, str], Case]:
    found: dict[tuple[str, str], Case] = {}
    for reduction in ("none", "sum"):
        for node, case in _reduced_cases(reduction).items():
            found[node, reduction] = case
    for reduction in ("none", "mean", "sum"):
        for key, case in _weighted_cases(reduction).items():
            node, _, weight = key.partition(" ")
            found[node, weight if reduction == "mean" else f"{weight}, {reduction}"] = case
    found.update(_affine_less_cases())
    return found


def _affine_less_cases() -> dict[tuple[str, str], Case]:
    """Normalizations without a learned scale or shift (nn.InstanceNorm2d's default, DiT's
    LayerNorm, nanoGPT's LayerNorm without bias)."""

    def norm(fn: Callable[..., torch.Tensor], shape: tuple[int, ...], *extra: int) -> Case:
        def case() -> tuple[torch.Tensor, list[torch.Tensor | None]]:
            x = P(*shape)
            more = [P(n) for n in extra]
            return fn(x, *more), [x, *more, *([None] * (2 - len(more)))]

        return case

    return {
        ("NativeBatchNormBackward0", "weight=None"): norm(
            lambda x: F.batch_norm(x, None, None, training=True), (4, 3, 2, 2)
        ),
        ("NativeLayerNormBackward0", "weight=None, bias=None"): norm(
            lambda x: F.layer_norm(x, (3,)), (2, 4, 3)
        ),
        ("NativeLayerNormBackward0", "bias=None"): norm(
            lambda x, w: F.layer_norm(x, (3,), w), (2, 4, 3), 3
        ),
        ("NativeGroupNormBackward0", "weight=None"): norm(
            lambda x: F.group_norm(x, 2), (2, 4, 3, 2)
        ),
    }


VARIANT_CASES = _variant_cases()
VARIANT_RULES = {
    (node, variant_label(node, form)): form for node, forms in VARIANTS.items() for form in forms
}


def test_every_variant_of_a_rule_has_a_case() -> None:
    assert set(VARIANT_RULES) == set(VARIANT_CASES)


@pytest.mark.parametrize(("name", "variant"), sorted(VARIANT_CASES))
def test_a_loss_summed_kept_per_element_or_weighted_has_its_rule(name: str, variant: str) -> None:
    """``F.binary_cross_entropy(..., reduction='sum')`` (PyTorch's VAE example),
    ``nn.MSELoss(reduction='sum')`` ("Learning PyTorch with Examples"), class weights
    for imbalanced data, a normalization without its scale or shift: each is explained
    with its own formulas, not the plain rule's."""
    torch.manual_seed(sum(map(ord, name + variant)))
    rule = VARIANT_RULES[name, variant]
    if variant in ("none", "sum"):  # nothing averages
        assert "numel" not in " ".join(rule.chain) and "total_weight" not in " ".join(rule.chain)
    check_rule(name, rule, VARIANT_CASES[name, variant])


def test_explain_picks_the_form_the_saved_attributes_call_for() -> None:
    assert (
        rule_for("MseLossBackward0", {"reduction": "2"}) is VARIANT_RULES["MseLossBackward0", "sum"]
    )
    weighted = {"reduction": "0", "weight": "tensor", "pos_weight": "None"}
    assert (
        rule_for("BinaryCrossEntropyWithLogitsBackward0", weighted)
        is VARIANT_RULES["BinaryCrossEntropyWithLogitsBackward0", "weight, none"]
    )
    # a condition no form meets (label smoothing's, here made up): the plain rule, which
    # explain then says it does not apply
    odd = {"reduction": "3", "weight": "None"}
    assert rule_for("NllLossBackward0", odd) is RULES["NllLossBackward0"]


def check_rule(name: str, rule: Rule, case: Case) -> None:
    """The rule's formulas, evaluated on the case's tensors, give torch's gradients."""
    out, inputs = case()
    outs = out if isinstance(out, tuple) else (out,)  # split, unbind: several
    node = outs[0].grad_fn
    assert type(node).__name__ == name
    assert (rule.outputs is not None) == (len(outs) > 1)
    symbols = saved_symbols(node)
    for attr, expected in rule.when.items():
        have = "tensor" if isinstance(symbols[attr], torch.Tensor) else repr(symbols[attr])
        assert have == expected, f"case does not meet the rule's condition {attr}"
    symbols["result"] = outs[0].detach()
    if rule.variadic:
        symbols[rule.input_symbol(0)] = [t.detach() for t in inputs if t is not None]
    else:
        for slot, t in enumerate(inputs):
            if t is not None:
                symbols[rule.input_symbol(slot)] = t.detach()
    grads = [torch.randn_like(o) for o in outs]
    grad = symbols["grad"] = grads[0]
    if rule.outputs is not None:
        symbols[rule.outputs] = grads
    wanted = [t for t in inputs if t is not None and t.requires_grad]
    expected = torch.autograd.grad(outs, wanted, grads)
    for slot, t in enumerate(inputs):
        if t is None or not t.requires_grad:
            continue
        got = evaluate(rule.chain_for(slot), {**symbols, "i": slot})
        want = expected[next(i for i, w in enumerate(wanted) if w is t)]
        assert torch.allclose(torch.as_tensor(got, dtype=want.dtype), want, atol=1e-8), (
            f"{name} input {slot}: {rule.chain_for(slot)}"
        )
        local = rule.local_for(slot)
        if local is not None:  # elementwise: chain == sum_to(grad * local)
            factor = torch.as_tensor(evaluate(local, symbols), dtype=want.dtype)
            from gradviz.explain.evaluate import sum_to

            assert torch.allclose(sum_to(grad * factor, t).to(want.dtype), want, atol=1e-8), (
                f"{name} input {slot}: local {local}"
            )


SCALAR_CASES = {
    "AddBackward0": lambda a, b: torch.add(a, b, alpha=2.0),
    "SubBackward0": lambda a, b: a - b,
    "MulBackward0": lambda a, b: a * b,
    "MulBackward1": lambda a: torch.ops.aten.mul.Scalar(a, 2.5),
    "DivBackward0": lambda a, b: a / b,
    "DivBackward1": lambda a: torch.ops.aten.div.Scalar(a, 2.5),
    "PowBackward0": lambda a: a**3,
    "PowBackward1": lambda a, b: a**b,
    "ExpBackward0": torch.exp,
    "LogBackward0": torch.log,
    "SqrtBackward0": torch.sqrt,
    "AbsBackward0": torch.abs,
    "SinBackward0": torch.sin,
    "CosBackward0": torch.cos,
    "TanhBackward0": torch.tanh,
    "SigmoidBackward0": torch.sigmoid,
    "ReluBackward0": torch.relu,
    "LeakyReluBackward0": lambda a: F.leaky_relu(a, 0.1),
    "GeluBackward0": F.gelu,
    "SiluBackward0": F.silu,
    "ClampBackward1": lambda a: a.clamp(0.1, 2.0),
    "SumBackward0": torch.sum,
    "MeanBackward0": torch.mean,
    "SinhBackward0": torch.sinh,
    "CoshBackward0": torch.cosh,
    "AsinhBackward0": torch.asinh,
    "AtanBackward0": torch.atan,
    "ErfBackward0": torch.erf,
    "Log2Backward0": torch.log2,
    "Log10Backward0": torch.log10,
    "Exp2Backward0": torch.exp2,
    "Expm1Backward0": torch.expm1,
    "Log1PBackward0": torch.log1p,
    "ReciprocalBackward0": torch.reciprocal,
    "RsqrtBackward0": torch.rsqrt,
    "SoftplusBackward0": F.softplus,
    "CeluBackward0": lambda a: F.celu(a, 0.5),
    "HardswishBackward0": F.hardswish,
    "MishBackward0": F.mish,
    "Atan2Backward0": torch.atan2,
    "HypotBackward0": torch.hypot,
    "LogaddexpBackward0": torch.logaddexp,
    "LerpBackward0": lambda a, b: torch.lerp(a, b, 0.3),
}


@pytest.mark.parametrize("name", sorted(SCALAR_CASES))
@pytest.mark.parametrize("value", [0.7, 1.3])
def test_scalar_formulas_mean_what_the_tensor_ones_mean(name: str, value: float) -> None:
    """`explain` puts numbers into the local derivative of scalar graphs with plain Python."""
    from gradviz.explain.scalars import evaluate_scalar

    fn = SCALAR_CASES[name]
    n_inputs = len(RULES[name].inputs)
    inputs = [
        torch.tensor(value + 0.4 * i, dtype=torch.float64, requires_grad=True)
        for i in range(n_inputs)
    ]
    out = fn(*inputs)
    node = out.grad_fn
    assert type(node).__name__ == name
    rule = RULES[name]
    symbols = saved_symbols(node)
    symbols["result"] = out.detach()
    for slot, t in enumerate(inputs):
        symbols[rule.input_symbol(slot)] = t.detach()
    plain = {
        k: v.item() if isinstance(v, torch.Tensor) and v.numel() == 1 else v
        for k, v in symbols.items()
    }
    for slot in range(len(inputs)):
        local = rule.local_for(slot)
        assert local is not None
        want = float(torch.as_tensor(evaluate(local, symbols), dtype=torch.float64))
        got = evaluate_scalar(local, plain)
        assert got is not None and got == pytest.approx(want, rel=1e-9), local


@pytest.mark.parametrize("name", [*sorted(RULES), *(f"{n} {v}" for n, v in sorted(VARIANT_RULES))])
def test_every_forward_is_an_expression_the_snippets_names_go_into(name: str) -> None:
    """explain puts the snippet's names into a rule's forward formula by parsing it: one
    that does not parse would be shown with torch's symbols (``self``, ``A``)."""
    import ast

    node, _, variant = name.partition(" ")
    forward = (VARIANT_RULES[node, variant] if variant else RULES[node]).forward
    assert forward.startswith("result = ")
    ast.parse(forward.removeprefix("result = "), mode="eval")


def test_a_formula_passing_python_numbers_to_torch_evaluates_in_a_fresh_process() -> None:
    """torch's argument parser imports through the calling frame's builtins the first
    time an op gets a Python number: the formulas' namespace must allow that import."""
    code = (
        "import torch\n"
        "from gradviz.explain.evaluate import evaluate\n"
        "x = torch.tensor([0.25, -1.5, 3.0])\n"
        "print(evaluate('clamp(x, -delta, delta)', {'x': x, 'delta': 1.0}).tolist())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[0.25,", "-1.0,", "1.0]"]
