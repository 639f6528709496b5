"""The chain rule of each op, as formulas that can be both shown and evaluated.

Each formula is a Python expression over a few symbols:

- ``grad``: the gradient arriving at the op's output (``y.grad`` for ``y = f(x)``);
- ``result``: the op's output; ``self``, ``other``, ``mat1``... : its inputs, in
  the order of the autograd node's ``next_functions`` (torch's own names, from
  its derivatives.yaml);
- the scalar attributes the node saved (``alpha``, ``dim``, ``exponent``...);
- helper functions named in ``gradviz.explain.evaluate`` (``sum_to``,
  ``expand_as``...), which give the formulas their exact meaning.

``gradviz explain`` shows them with the snippet's names and numbers put in;
the tests evaluate the very same strings with torch on random inputs and
compare them with the gradients torch computes. Nothing here imports torch.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

__all__ = ["IN_WORDS", "RULES", "VARIANTS", "Rule", "rule_for", "unmet", "variant_label"]


@dataclass(frozen=True)
class Rule:
    """How one autograd node turns its output's gradient into its inputs' gradients.

    ``inputs`` names the ``next_functions`` slots (``"tensors*"`` for a
    variable number, as in ``cat``). ``outputs`` names, for an op with several
    outputs (``split``, ``unbind``), the list of their gradients that its
    formulas use instead of ``grad``. ``local`` is the elementwise derivative
    ``∂result/∂input`` where there is one (None for matrix, reduction and shape
    ops, whose Jacobian is not a single factor); ``chain`` the input's
    gradient contribution. ``when`` names saved attributes and the values the
    formulas assume (``reduction == 1`` is the default ``'mean'``).
    """

    op: str
    forward: str
    inputs: tuple[str, ...]
    chain: tuple[str, ...]
    local: tuple[str | None, ...] = ()
    when: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None
    outputs: str | None = None

    def local_for(self, slot: int) -> str | None:
        return self.local[slot] if slot < len(self.local) else None

    def chain_for(self, slot: int) -> str:
        return self.chain[min(slot, len(self.chain) - 1)]

    def input_symbol(self, slot: int) -> str:
        name = self.inputs[min(slot, len(self.inputs) - 1)]
        return name.rstrip("*")

    @property
    def variadic(self) -> bool:
        return bool(self.inputs) and self.inputs[-1].endswith("*")


def _unary(op: str, forward: str, local: str, chain: str | None = None) -> Rule:
    return Rule(op, forward, ("self",), (chain or f"grad * {_grouped(local)}",), (local,))


def _grouped(formula: str) -> str:
    """``formula`` in parentheses when it is a sum, so that ``grad * (a + b)`` means it."""
    depth = 0
    for i, ch in enumerate(formula):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and ch in "+-" and i > 0 and formula[i - 1] == " ":
            return f"({formula})"
    return formula


def _pieces(op: str, forward: str, join: str) -> Rule:
    """An op that cuts its input into pieces (``split``, ``unbind``): their gradients
    are joined back with ``cat`` or ``stack``."""
    note = (
        "the pieces' gradients laid back side by side; a piece not used gives zeros"
        if join == "cat"
        else "the slices' gradients stacked back; a slice not used gives zeros"
    )
    return Rule(
        op, f"result = {forward}", ("self",), (f"{join}(grads, dim)",), note=note, outputs="grads"
    )


_SHAPE = "reshape_as(grad, self)"


def _copied_pad(mode: str) -> Rule:
    """Reflection or replication padding: each new cell is a copy of an input cell."""
    return Rule(
        "pad",
        f"result = pad(self, padding, '{mode}')",
        ("self",),
        (f"pad_back(grad, self, padding, '{mode}')",),
        note="each padded cell is a copy of an input cell near the edge, which gets the "
        "gradients of its copies as well as its own",
    )


def _flat(op: str, forward: str) -> Rule:
    """A step function (``floor``, ``sign``): flat wherever it is differentiable."""
    return Rule(
        op,
        forward,
        ("self",),
        ("0 * grad",),
        ("0",),
        note="a step function is flat almost everywhere: no gradient flows back through it",
    )


def _picked(op: str, forward: str, note: str) -> Rule:
    """A reduction that picks one element along ``dim`` (median, kthvalue, mode)."""
    return Rule(
        op, forward, ("self",), ("scatter_back(grad, self, dim, indices, keepdim)",), note=note
    )


def _two_norm(power: str, two: str) -> Rule:
    """The Euclidean length over ``dim``, whose power is the saved attribute ``power``."""
    return Rule(
        "norm",
        "result = sqrt(sum(self ** 2, dim))",
        ("self",),
        ("expand_as(grad, self, dim, keepdim) * self / expand_as(result, self, dim, keepdim)",),
        when={power: two},
        note="each element's share of the length is its own size over the length",
    )


RULES: dict[str, Rule] = {
    # -- arithmetic (broadcasting sums the gradient back to the input's shape) --
    "AddBackward0": Rule(
        "add",
        "result = self + alpha * other",
        ("self", "other"),
        ("sum_to(grad, self)", "sum_to(grad * alpha, other)"),
        ("1", "alpha"),
    ),
    "SubBackward0": Rule(
        "sub",
        "result = self - alpha * other",
        ("self", "other"),
        ("sum_to(grad, self)", "sum_to(-grad * alpha, other)"),
        ("1", "-alpha"),
    ),
    "RsubBackward1": Rule(
        "rsub", "result = other - alpha * self", ("self",), ("-grad * alpha",), ("-alpha",)
    ),
    "MulBackward0": Rule(
        "mul",
        "result = self * other",
        ("self", "other"),
        ("sum_to(grad * other, self)", "sum_to(grad * self, other)"),
        ("other", "self"),
    ),
    "DivBackward0": Rule(
        "div",
        "result = self / other",
        ("self", "other"),
        ("sum_to(grad / other, self)", "sum_to(-grad * self / other ** 2, other)"),
        ("1 / other", "-self / other ** 2"),
    ),
    # a Python number as ``other``: made by backward formulas (create_graph), or aten's
    # ``mul.Scalar``; ``x * 3`` in Python gives MulBackward0 with a 0-dim ``other``
    "MulBackward1": _unary("mul", "result = self * other", "other"),
    # torch keeps no copy of the number added (``other`` stays a name), nor needs one
    "AddBackward1": _unary("add", "result = self + other", "1", "grad"),
    "SubBackward1": _unary("sub", "result = self - other", "1", "grad"),
    "DivBackward1": _unary("div", "result = self / other", "1 / other"),
    "NegBackward0": _unary("neg", "result = -self", "-1", "-grad"),
    "PowBackward0": _unary("pow", "result = self ** exponent", "exponent * self ** (exponent - 1)"),
    "PowBackward1": Rule(
        "pow",
        "result = self ** exponent",
        ("self", "exponent"),
        (
            "sum_to(grad * exponent * self ** (exponent - 1), self)",
            "sum_to(grad * result * log(self), exponent)",
        ),
        ("exponent * self ** (exponent - 1)", "result * log(self)"),
    ),
    # -- elementwise functions ---------------------------------------------------
    "ExpBackward0": _unary("exp", "result = exp(self)", "result"),
    "LogBackward0": _unary("log", "result = log(self)", "1 / self", "grad / self"),
    "SqrtBackward0": _unary(
        "sqrt", "result = sqrt(self)", "1 / (2 * result)", "grad / (2 * result)"
    ),
    "AbsBackward0": _unary("abs", "result = abs(self)", "sign(self)"),
    "SinBackward0": _unary("sin", "result = sin(self)", "cos(self)"),
    "CosBackward0": _unary("cos", "result = cos(self)", "-sin(self)"),
    "TanhBackward0": _unary("tanh", "result = tanh(self)", "(1 - result ** 2)"),
    "SigmoidBackward0": _unary("sigmoid", "result = sigmoid(self)", "result * (1 - result)"),
    "ReluBackward0": _unary("relu", "result = max(self, 0)", "(result > 0)"),
    "LogSigmoidBackward0": _unary("logsigmoid", "result = log(sigmoid(self))", "sigmoid(-self)"),
    "ReciprocalBackward0": _unary("reciprocal", "result = 1 / self", "-(result ** 2)"),
    "RsqrtBackward0": _unary("rsqrt", "result = 1 / sqrt(self)", "-0.5 * result ** 3"),
    "Expm1Backward0": _unary("expm1", "result = exp(self) - 1", "(result + 1)"),
    "Log1PBackward0": _unary(
        "log1p", "result = log(1 + self)", "1 / (1 + self)", "grad / (1 + self)"
    ),
    "TanBackward0": _unary("tan", "result = tan(self)", "(1 + result ** 2)"),
    "ErfBackward0": _unary("erf", "result = erf(self)", "2 / sqrt(pi) * exp(-(self ** 2))"),
    "ErfcBackward0": _unary("erfc", "result = 1 - erf(self)", "-2 / sqrt(pi) * exp(-(self ** 2))"),
    "Deg2RadBackward0": _unary("deg2rad", "result = self * pi / 180", "pi / 180"),
    "SpecialEntrBackward0": _unary("entr", "result = -self * log(self)", "-(log(self) + 1)"),
    "AtanBackward0": _unary(
        "atan", "result = atan(self)", "1 / (1 + self ** 2)", "grad / (1 + self ** 2)"
    ),
    "AsinBackward0": _unary(
        "asin", "result = asin(self)", "1 / sqrt(1 - self ** 2)", "grad / sqrt(1 - self ** 2)"
    ),
    "AcosBackward0": _unary(
        "acos", "result = acos(self)", "-1 / sqrt(1 - self ** 2)", "-grad / sqrt(1 - self ** 2)"
    ),
    "SinhBackward0": _unary("sinh", "result = sinh(self)", "cosh(self)"),
    "CoshBackward0": _unary("cosh", "result = cosh(self)", "sinh(self)"),
    "AsinhBackward0": _unary(
        "asinh", "result = asinh(self)", "1 / sqrt(self ** 2 + 1)", "grad / sqrt(self ** 2 + 1)"
    ),
    "AcoshBackward0": _unary(
        "acosh", "result = acosh(self)", "1 / sqrt(self ** 2 - 1)", "grad / sqrt(self ** 2 - 1)"
    ),
    "AtanhBackward0": _unary(
        "atanh", "result = atanh(self)", "1 / (1 - self ** 2)", "grad / (1 - self ** 2)"
    ),
    "Log2Backward0": _unary(
        "log2", "result = log(self) / log(2)", "1 / (self * log(2))", "grad / (self * log(2))"
    ),
    "Log10Backward0": _unary(
        "log10", "result = log(self) / log(10)", "1 / (self * log(10))", "grad / (self * log(10))"
    ),
    "Exp2Backward0": _unary("exp2", "result = 2 ** self", "result * log(2)"),
    "ErfinvBackward0": _unary(
        "erfinv", "result = erfinv(self)", "sqrt(pi) / 2 * exp(erfinv(self) ** 2)"
    ),
    "LgammaBackward0": _unary("lgamma", "result = log(abs(gamma(self)))", "digamma(self)"),
    "DigammaBackward0": _unary("digamma", "result = digamma(self)", "polygamma(1, self)"),
    "LogitBackward0": Rule(
        "logit",
        "result = log(self / (1 - self))",
        ("self",),
        ("grad / (self * (1 - self))",),
        ("1 / (self * (1 - self))",),
        when={"eps": "None"},
    ),
    "SincBackward0": _unary(
        "sinc",
        "result = sin(pi * self) / (pi * self)",
        "where(self == 0, 0.0, (cos(pi * self) - sinc(self)) / self)",
    ),
    "SignBackward0": _flat("sign", "result = sign(self)"),
    "SgnBackward0": _flat("sgn", "result = sign(self)"),
    "FloorBackward0": _flat("floor", "result = floor(self)"),
    "CeilBackward0": _flat("ceil", "result = ceil(self)"),
    "RoundBackward0": _flat("round", "result = round(self)"),
    "TruncBackward0": _flat("trunc", "result = trunc(self)"),
    "FracBackward0": _unary("frac", "result = self - trunc(self)", "1", "grad"),
    "FmodBackward0": _unary("fmod", "result = fmod(self, other)", "1", "grad"),
    "RemainderBackward0": _unary("remainder", "result = remainder(self, other)", "1", "grad"),
    "NanToNumBackward0": _unary("nan_to_num", "result = nan_to_num(self)", "isfinite(self)"),
    "Atan2Backward0": Rule(
        "atan2",
        "result = atan2(self, other)",
        ("self", "other"),
        (
            "sum_to(grad * other / (self ** 2 + other ** 2), self)",
            "sum_to(-grad * self / (self ** 2 + other ** 2), other)",
        ),
        ("other / (self ** 2 + other ** 2)", "-self / (self ** 2 + other ** 2)"),
    ),
    "HypotBackward0": Rule(
        "hypot",
        "result = sqrt(self ** 2 + other ** 2)",
        ("self", "other"),
        ("sum_to(grad * self / result, self)", "sum_to(grad * other / result, other)"),
        ("self / result", "other / result"),
    ),
    "LogaddexpBackward0": Rule(
        "logaddexp",
        "result = log(exp(self) + exp(other))",
        ("self", "other"),
        (
            "sum_to(grad * exp(self - result), self)",
            "sum_to(grad * exp(other - result), other)",
        ),
        ("exp(self - result)", "exp(other - result)"),
        note="each side gets its softmax weight of the gradient",
    ),
    "XlogyBackward0": Rule(
        "xlogy",
        "result = self * log(other)",
        ("self", "other"),
        ("sum_to(xlogy(grad, other), self)", "sum_to(grad * self / other, other)"),
        note="0 where self is 0 (xlogy(0, 0) = 0): kl_div and entropies are written with it",
    ),
    "AddcdivBackward0": Rule(
        "addcdiv",
        "result = self + value * tensor1 / tensor2",
        ("self", "tensor1", "tensor2"),
        (
            "sum_to(grad, self)",
            "sum_to(grad * value / tensor2, tensor1)",
            "sum_to(-grad * value * tensor1 / tensor2 ** 2, tensor2)",
        ),
        ("1", "value / tensor2", "-value * tensor1 / tensor2 ** 2"),
    ),
    "LerpBackward0": Rule(
        "lerp",
        "result = self + weight * (end - self)",
        ("self", "end"),
        ("sum_to(grad * (1 - weight), self)", "sum_to(grad * weight, end)"),
        ("1 - weight", "weight"),
    ),
    "LerpBackward1": Rule(
        "lerp",
        "result = self + weight * (end - self)",
        ("self", "end", "weight"),
        (
            "sum_to(grad * (1 - weight), self)",
            "sum_to(grad * weight, end)",
            "sum_to(grad * (end - self), weight)",
        ),
        ("1 - weight", "weight", "end - self"),
    ),
    "ClampBackward0": Rule(
        "clamp",
        "result = min(max(self, min), max)",
        ("self", "min", "max"),
        (
            "grad * in_range(self, min, max)",
            "sum_to(grad * (self < min), min)",
            "sum_to(grad * (self > max), max)",
        ),
        ("in_range(self, min, max)", "(self < min)", "(self > max)"),
        note="where a bound held the value, the bound gets the gradient instead",
    ),
    "CeluBackward0": _unary(
        "celu",
        "result = where(self > 0, self, alpha * (exp(self / alpha) - 1))",
        "where(self > 0, 1.0, exp(self / alpha))",
    ),
    "HardswishBackward0": _unary(
        "hardswish",
        "result = self * clamp(self + 3, 0, 6) / 6",
        "where(self < -3, 0.0, where(self <= 3, self / 3 + 0.5, 1.0))",
    ),
    "HardsigmoidBackward0": _unary(
        "hardsigmoid",
        "result = clamp(self / 6 + 0.5, 0, 1)",
        "(self > -3) * (self < 3) / 6",
    ),
    "SoftshrinkBackward0": _unary(
        "softshrink",
        "result = where(abs(self) > lambd, self - lambd * sign(self), 0)",
        "(abs(self) > lambd)",
    ),
    "HardshrinkBackward0": _unary(
        "hardshrink", "result = where(abs(self) > lambd, self, 0)", "(abs(self) > lambd)"
    ),
    "ThresholdBackward0": _unary(
        "threshold", "result = where(self > threshold, self, value)", "(self > threshold)"
    ),
    "RreluWithNoiseBackward0": Rule(
        "rrelu",
        "result = self * noise",
        ("self",),
        ("grad * noise",),
        ("noise",),
        when={"training": "True"},
        note="noise holds each element's slope: 1 where the input was positive, a random "
        "one between lower and upper elsewhere",
    ),
    "FakeQuantizePerTensorAffineCachemaskBackward0": Rule(
        "fake_quantize_per_tensor_affine",
        "result = (clamp(round(self / scale) + zero_point, quant_min, quant_max) - zero_point) "
        "* scale",
        ("self",),
        ("grad * mask",),
        ("mask",),
        note="straight through: the rounding passes the gradient on unchanged; mask is "
        "False where the value was clamped to the quantized range, which gets none",
    ),
    "FakeQuantizePerChannelAffineCachemaskBackward0": Rule(
        "fake_quantize_per_channel_affine",
        "result = (clamp(round(self / scale) + zero_point, quant_min, quant_max) - zero_point) "
        "* scale",
        ("self",),
        ("grad * mask",),
        ("mask",),
        note="a scale and zero_point per channel along axis; straight through: the rounding "
        "passes the gradient on unchanged; mask is False where the value was clamped to the "
        "quantized range, which gets none",
    ),
    "PowBackward2": Rule(
        "pow",
        "result = self ** exponent",
        ("exponent",),
        ("grad * result * log(self)",),
        ("result * log(self)",),
        note="a number raised to a tensor: the derivative of a ** x is a ** x * log(a)",
    ),
    "SoftplusBackward0": _unary(
        "softplus",
        "result = log(1 + exp(beta * self)) / beta",
        "where(self * beta > threshold, 1.0, sigmoid(beta * self))",
    ),
    "EluBackward0": _unary(
        "elu",
        "result = where(self > 0, scale * self, scale * alpha * (exp(input_scale * self) - 1))",
        "where(self > 0, scale, scale * alpha * input_scale * exp(input_scale * self))",
    ),
    "HardtanhBackward0": _unary(
        "hardtanh",
        "result = min(max(self, min_val), max_val)",
        "(self > min_val) * (self < max_val)",
    ),
    "MishBackward0": _unary(
        "mish",
        "result = self * tanh(softplus(self))",
        "tanh(softplus(self)) + self * sigmoid(self) * (1 - tanh(softplus(self)) ** 2)",
    ),
    "MaximumBackward0": Rule(
        "maximum",
        "result = maximum(self, other)",
        ("self", "other"),
        (
            "sum_to(grad * ((self > other) + 0.5 * (self == other)), self)",
            "sum_to(grad * ((other > self) + 0.5 * (self == other)), other)",
        ),
        ("(self > other) + 0.5 * (self == other)", "(other > self) + 0.5 * (self == other)"),
        note="the larger one gets the gradient; a tie splits it",
    ),
    "MinimumBackward0": Rule(
        "minimum",
        "result = minimum(self, other)",
        ("self", "other"),
        (
            "sum_to(grad * ((self < other) + 0.5 * (self == other)), self)",
            "sum_to(grad * ((other < self) + 0.5 * (self == other)), other)",
        ),
        ("(self < other) + 0.5 * (self == other)", "(other < self) + 0.5 * (self == other)"),
        note="the smaller one gets the gradient; a tie splits it",
    ),
    "FminBackward0": Rule(
        "fmin",
        "result = fmin(self, other)",
        ("self", "other"),
        (
            "sum_to(grad * ((self <= other) | isnan(other)), self)",
            "sum_to(grad * ~((self <= other) | isnan(other)), other)",
        ),
        note="the smaller one gets the gradient (self on a tie); a NaN is passed over",
    ),
    "CopysignBackward0": Rule(
        "copysign",
        "result = abs(self) * sign(other)",
        ("self",),
        ("grad * where(self == 0, 0.0, result / self)",),
        ("where(self == 0, 0.0, result / self)",),
        note="other only lends its sign, which has no gradient",
    ),
    "FmaxBackward0": Rule(
        "fmax",
        "result = fmax(self, other)",
        ("self", "other"),
        (
            "sum_to(grad * ((self >= other) | isnan(other)), self)",
            "sum_to(grad * ~((self >= other) | isnan(other)), other)",
        ),
        note="the larger one gets the gradient (self on a tie); a NaN is passed over",
    ),
    "AddcmulBackward0": Rule(
        "addcmul",
        "result = self + value * tensor1 * tensor2",
        ("self", "tensor1", "tensor2"),
        (
            "sum_to(grad, self)",
            "sum_to(grad * value * tensor2, tensor1)",
            "sum_to(grad * value * tensor1, tensor2)",
        ),
        ("1", "value * tensor2", "value * tensor1"),
    ),
    "MaskedFillBackward0": Rule(
        "masked_fill",
        "result = where(mask, value, self)",
        ("self",),
        ("where(mask, 0, grad)",),
        ("where(mask, 0, 1)",),
        note="where the mask put a value, nothing flows back",
    ),
    "GatherBackward0": Rule(
        "gather",
        "result = self.gather(dim, index)",
        ("self",),
        ("gather_back(grad, self, dim, index)",),
        note="each gradient goes back to the element it was read from",
    ),
    # -- the backward of an activation, differentiated again (create_graph=True) --
    "TanhBackwardBackward0": Rule(
        "tanh_backward",
        "result = grad_output * (1 - output ** 2)",
        ("grad_output", "output"),
        ("grad * (1 - output ** 2)", "grad * -2 * grad_output * output"),
        ("(1 - output ** 2)", "-2 * grad_output * output"),
        note="tanh's derivative at its output, times the gradient that reached it",
    ),
    "SigmoidBackwardBackward0": Rule(
        "sigmoid_backward",
        "result = grad_output * output * (1 - output)",
        ("grad_output", "output"),
        ("grad * output * (1 - output)", "grad * grad_output * (1 - 2 * output)"),
        ("output * (1 - output)", "grad_output * (1 - 2 * output)"),
        note="sigmoid's derivative at its output, times the gradient that reached it",
    ),
    "ThresholdBackwardBackward0": Rule(
        "threshold_backward",
        "result = where(self > threshold, grad_output, 0)",
        ("grad_output", "self"),
        ("grad * (self > threshold)", "0 * grad"),
        ("(self > threshold)", "0"),
        note="relu's backward: the gradient passes where the input was positive",
    ),
    "LeakyReluBackwardBackward0": Rule(
        "leaky_relu_backward",
        "result = where(self > 0, grad_output, negative_slope * grad_output)",
        ("grad_output", "self"),
        ("grad * where(self > 0, 1.0, negative_slope)", "0 * grad"),
        ("where(self > 0, 1.0, negative_slope)", "0"),
        note="leaky_relu's backward (a gradient penalty differentiates it again): its slope "
        "scales the gradient, and does not depend on the input's value",
    ),
    "SoftplusBackwardBackward0": Rule(
        "softplus_backward",
        "result = grad_output * where(self * beta > threshold, 1.0, sigmoid(beta * self))",
        ("grad_output", "self"),
        (
            "grad * where(self * beta > threshold, 1.0, sigmoid(beta * self))",
            "grad * grad_output * where(self * beta > threshold, 0.0, "
            "beta * sigmoid(beta * self) * (1 - sigmoid(beta * self)))",
        ),
        note="softplus's derivative, sigmoid, at its input, times the gradient that reached it",
    ),
    "MseLossBackwardBackward0": Rule(
        "mse_loss_backward",
        "result = 2 * (self - target) * grad_output / numel(self)",
        ("grad_output", "self", "target"),
        (
            "sum(grad * 2 * (self - target) / numel(self))",
            "grad * 2 * grad_output / numel(self)",
            "-grad * 2 * grad_output / numel(self)",
        ),
        when={"reduction": "1"},
        note="mse_loss's gradient (MAML's inner step differentiates it again): linear in "
        "self, so its own derivative is a constant",
    ),
    "LogSoftmaxBackwardDataBackward0": Rule(
        "log_softmax_backward",
        "result = grad_output - exp(output) * sum(grad_output, dim, keepdim=True)",
        ("grad_output", "output"),
        (
            "grad - sum(grad * exp(output), dim, keepdim=True)",
            "-grad * exp(output) * sum(grad_output, dim, keepdim=True)",
        ),
        note="log_softmax's backward, differentiated again: output is log_softmax's result, "
        "so exp(output) is the softmax",
    ),
    "NllLossBackwardBackward0": Rule(
        "nll_loss_backward",
        "result = -picked(target, self, ignore_index) * grad_output "
        "/ targets_kept(target, ignore_index)",
        ("grad_output", "self"),
        (
            "-sum(grad * picked(target, self, ignore_index)) / targets_kept(target, ignore_index)",
            "0 * grad",
        ),
        when={"reduction": "1", "weight": "None"},
        note="nll_loss's gradient depends on no value of its input, only on which classes "
        "were the targets (picked: one-hot rows, zeros for an ignored target)",
    ),
    "LeakyReluBackward1": _unary(
        "leaky_relu_",
        "result = where(self > 0, self, negative_slope * self)",
        "where(result > 0, 1.0, negative_slope)",
    ),
    "LeakyReluBackward0": _unary(
        "leaky_relu",
        "result = where(self > 0, self, negative_slope * self)",
        "where(self > 0, 1.0, negative_slope)",
    ),
    "GeluBackward0": Rule(
        "gelu",
        "result = self * Phi(self)",
        ("self",),
        ("grad * (Phi(self) + self * phi(self))",),
        ("Phi(self) + self * phi(self)",),
        when={"approximate": "'none'"},
        note="Phi and phi are the standard normal CDF and density",
    ),
    "SiluBackward0": _unary(
        "silu", "result = self * sigmoid(self)", "sigmoid(self) * (1 + self * (1 - sigmoid(self)))"
    ),
    "ClampBackward1": _unary(
        "clamp", "result = min(max(self, min), max)", "in_range(self, min, max)"
    ),
    "ClampMinBackward0": _unary("clamp_min", "result = max(self, min)", "(self >= min)"),
    "WhereBackward0": Rule(
        "where",
        "result = where(condition, self, other)",
        ("self", "other"),
        ("sum_to(where(condition, grad, 0.0), self)", "sum_to(where(condition, 0.0, grad), other)"),
        ("condition", "~condition"),
    ),
    # -- reductions ----------------------------------------------------------------
    "SumBackward0": Rule(
        "sum", "result = sum(self)", ("self",), ("expand_as(grad, self)",), ("1",)
    ),
    "SumBackward1": Rule(
        "sum",
        "result = sum(self, dim)",
        ("self",),
        ("expand_as(grad, self, dim, keepdim)",),
        note="every element gets the gradient of the sum it went into",
    ),
    "MeanBackward0": Rule(
        "mean",
        "result = sum(self) / numel(self)",
        ("self",),
        ("expand_as(grad, self) / numel(self)",),
        ("1 / numel(self)",),
    ),
    "MeanBackward1": Rule(
        "mean",
        "result = mean(self, dim)",
        ("self",),
        ("expand_as(grad, self, dim, keepdim) / count(self, dim)",),
        note="every element gets its share of the gradient of the mean it went into",
    ),
    "MaxBackward1": Rule(
        "max",
        "result = max(self)",
        ("self",),
        ("grad * (self == result) / sum(self == result)",),
        ("(self == result) / sum(self == result)",),
        note="ties share the gradient evenly",
    ),
    "MinBackward1": Rule(
        "min",
        "result = min(self)",
        ("self",),
        ("grad * (self == result) / sum(self == result)",),
        ("(self == result) / sum(self == result)",),
        note="ties share the gradient evenly",
    ),
    "MaxBackward0": Rule(
        "max",
        "result = max(self, dim).values",
        ("self",),
        ("scatter_back(grad, self, dim, indices, keepdim)",),
        note="the gradient goes only to the element that was the max",
    ),
    "MinBackward0": Rule(
        "min",
        "result = min(self, dim).values",
        ("self",),
        ("scatter_back(grad, self, dim, indices, keepdim)",),
        note="the gradient goes only to the element that was the min",
    ),
    "AmaxBackward0": Rule(
        "amax",
        "result = amax(self, dim)",
        ("self",),
        ("share_among_max(grad, self, result, dim, keepdim)",),
        note="ties share the gradient evenly",
    ),
    "AminBackward0": Rule(
        "amin",
        "result = amin(self, dim)",
        ("self",),
        ("share_among_max(grad, self, result, dim, keepdim)",),
        note="ties share the gradient evenly",
    ),
    "LinalgVectorNormBackward0": _two_norm("ord", "2"),
    "NormBackward1": _two_norm("p", "2.0"),  # the old norm over dims: pairwise_distance's
    "LogsumexpBackward0": Rule(
        "logsumexp",
        "result = log(sum(exp(self), dim))",
        ("self",),
        (
            "expand_as(grad, self, dim, keepdim) "
            "* exp(self - expand_as(result, self, dim, keepdim))",
        ),
        note="each element gets the gradient times its softmax weight",
    ),
    "VarBackward0": Rule(
        "var",
        "result = sum((self - mean(self, dim)) ** 2, dim) / (count(self, dim) - correction)",
        ("self",),
        (
            "expand_as(grad, self, dim, keepdim) * 2 * (self - avg(self, dim)) "
            "/ (count(self, dim) - correction)",
        ),
        note="each element pulls on the variance by its distance from the mean",
    ),
    "VarMeanBackward0": Rule(
        "var_mean",
        "result = var_mean(self, dim, correction)",
        ("self",),
        ("var_mean_back(grads, self, dim, correction, keepdim)",),
        note="the variance's gradient, 2 * (self - mean) / (count - correction), plus the "
        "mean's, 1 / count, each spread over what it reduced",
        outputs="grads",
    ),
    "StdMeanBackward0": Rule(
        "std_mean",
        "result = std_mean(self, dim, correction)",
        ("self",),
        ("std_mean_back(grads, self, result0, dim, correction, keepdim)",),
        note="the std's gradient, (self - mean) / ((count - correction) * std), plus the "
        "mean's, 1 / count, each spread over what it reduced",
        outputs="grads",
    ),
    "StdBackward0": Rule(
        "std",
        "result = sqrt(var(self, dim, correction))",
        ("self",),
        (
            "expand_as(grad, self, dim, keepdim) * (self - avg(self, dim)) "
            "/ ((count(self, dim) - correction) * expand_as(result, self, dim, keepdim))",
        ),
        note="the variance's gradient, divided by twice the std",
    ),
    "ProdBackward0": Rule(
        "prod",
        "result = prod(self)",
        ("self",),
        ("expand_as(grad, self) * others_product(self)",),
        ("others_product(self)",),
        note="each element's derivative is the product of all the others",
    ),
    "ProdBackward1": Rule(
        "prod",
        "result = prod(self, dim)",
        ("self",),
        ("expand_as(grad, self, dim, keepdim) * others_product(self, dim)",),
        note="each element's derivative is the product of the others along dim",
    ),
    "CumprodBackward0": Rule(
        "cumprod",
        "result = cumprod(self, dim)",
        ("self",),
        ("cumprod_back(grad, self, dim)",),
        note="each element is in every later running product; its derivative there is the "
        "product of the others in it",
    ),
    "LogcumsumexpBackward0": Rule(
        "logcumsumexp",
        "result = log(cumsum(exp(self), dim))",
        ("self",),
        ("exp(self) * flip(cumsum(flip(grad * exp(-result), dim), dim), dim)",),
        note="each element gets, from every later running log-sum, its softmax weight in it",
    ),
    "NansumBackward0": Rule(
        "nansum",
        "result = sum(where(isnan(self), 0, self), dim)",
        ("self",),
        ("where(isnan(self), 0.0, expand_as(grad, self, dim, keepdim))",),
        note="a NaN was left out of the sum, and gets no gradient",
    ),
    "MedianBackward0": Rule(
        "median",
        "result = median(self)",
        ("self",),
        ("grad * (self == result) / sum(self == result)",),
        ("(self == result) / sum(self == result)",),
        note="the gradient goes to the middle element; ties share it evenly",
    ),
    "MedianBackward1": _picked(
        "median",
        "result = median(self, dim).values",
        "the gradient goes only to the element that was the median",
    ),
    "KthvalueBackward0": _picked(
        "kthvalue",
        "result = kthvalue(self, k, dim).values",
        "the gradient goes only to the element that was the k-th smallest",
    ),
    "ModeBackward0": _picked(
        "mode",
        "result = mode(self, dim).values",
        "the gradient goes only to the element picked as the most frequent value",
    ),
    "CumsumBackward0": Rule(
        "cumsum",
        "result = cumsum(self, dim)",
        ("self",),
        ("flip(cumsum(flip(grad, dim), dim), dim)",),
        note="each element is in every later running sum, so it gets all their gradients",
    ),
    "CummaxBackward0": Rule(
        "cummax",
        "result = cummax(self, dim).values",
        ("self",),
        ("gather_back(grad, self, dim, indices)",),
        note="each running max is an element of self, which gets the gradients of all the "
        "places it was the max so far",
    ),
    "CumminBackward0": Rule(
        "cummin",
        "result = cummin(self, dim).values",
        ("self",),
        ("gather_back(grad, self, dim, indices)",),
        note="each running min is an element of self, which gets the gradients of all the "
        "places it was the min so far",
    ),
    "TopkBackward0": Rule(
        "topk",
        "result = topk(self, k, dim).values",
        ("self",),
        ("scatter_back(grad, self, dim, indices, True)",),
        note="the gradient goes back to the elements picked; the rest get none",
    ),
    "SortBackward0": Rule(
        "sort",
        "result = sort(self, dim).values",
        ("self",),
        ("scatter_back(grad, self, dim, indices, True)",),
        note="each gradient goes back to where its element was before sorting",
    ),
    "SafeSoftmaxBackward0": Rule(
        "softmax",
        "result = exp(self) / sum(exp(self), dim)",
        ("self",),
        ("result * (grad - sum(grad * result, dim, keepdim=True))",),
        note="attention's softmax: a row masked out entirely is zeros, and gets no gradient",
    ),
    "SoftmaxBackward0": Rule(
        "softmax",
        "result = exp(self) / sum(exp(self), dim)",
        ("self",),
        ("result * (grad - sum(grad * result, dim, keepdim=True))",),
    ),
    "LogSoftmaxBackward0": Rule(
        "log_softmax",
        "result = self - log(sum(exp(self), dim))",
        ("self",),
        ("grad - exp(result) * sum(grad, dim, keepdim=True)",),
    ),
    # -- linear algebra --------------------------------------------------------------
    "MmBackward0": Rule(
        "mm", "result = self @ mat2", ("self", "mat2"), ("grad @ mat2.T", "self.T @ grad")
    ),
    "AddmmBackward0": Rule(
        "addmm",
        "result = beta * self + alpha * (mat1 @ mat2)",
        ("self", "mat1", "mat2"),
        ("sum_to(beta * grad, self)", "alpha * (grad @ mat2.T)", "alpha * (mat1.T @ grad)"),
        note="nn.Linear: self is the bias, mat1 the input, mat2 the weight transposed",
    ),
    "BmmBackward0": Rule(
        "bmm", "result = self @ mat2", ("self", "mat2"), ("grad @ mat2.mT", "self.mT @ grad")
    ),
    "BaddbmmBackward0": Rule(
        "baddbmm",
        "result = beta * self + alpha * (batch1 @ batch2)",
        ("self", "batch1", "batch2"),
        (
            "sum_to(beta * grad, self)",
            "alpha * (grad @ batch2.mT)",
            "alpha * (batch1.mT @ grad)",
        ),
    ),
    "DiagonalBackward0": Rule(
        "diagonal",
        "result = diagonal(self, offset, dim1, dim2)",
        ("self",),
        ("diagonal_back(grad, self, offset, dim1, dim2)",),
        note="the diagonal's gradient goes back onto the diagonal; the rest gets 0",
    ),
    "TraceBackward0": Rule(
        "trace",
        "result = sum(diagonal(self))",
        ("self",),
        ("grad * eye_like(self)",),
        note="only the diagonal counts towards the trace",
    ),
    "MvBackward0": Rule(
        "mv", "result = self @ vec", ("self", "vec"), ("outer(grad, vec)", "self.T @ grad")
    ),
    "DotBackward0": Rule(
        "dot",
        "result = sum(self * tensor)",
        ("self", "tensor"),
        ("grad * tensor", "grad * self"),
        ("tensor", "self"),
    ),
    "VdotBackward0": Rule(
        "vdot",
        "result = sum(self * other)",
        ("self", "other"),
        ("grad * other", "grad * self"),
        ("other", "self"),
        note="for real tensors; on complex ones vdot conjugates self",
    ),
    # -- shapes: the gradient goes back through the inverse rearrangement ---------------
    "TBackward0": Rule("t", "result = self.T", ("self",), ("grad.T",)),
    "TBackward1": Rule("t_", "result = self.T", ("self",), ("grad.T",)),
    "TransposeBackward0": Rule(
        "transpose",
        "result = self.transpose(dim0, dim1)",
        ("self",),
        ("grad.transpose(dim0, dim1)",),
    ),
    "TransposeBackward1": Rule(
        "transpose_",
        "result = self.transpose(dim0, dim1)",
        ("self",),
        ("grad.transpose(dim0, dim1)",),
    ),
    "PermuteBackward0": Rule(
        "permute", "result = self.permute(dims)", ("self",), ("grad.permute(inverse(dims))",)
    ),
    "ViewBackward0": Rule("view", "result = self.view(shape)", ("self",), (_SHAPE,)),
    "UnsafeViewBackward0": Rule("view", "result = self.view(shape)", ("self",), (_SHAPE,)),
    "ReshapeAliasBackward0": Rule("reshape", "result = self.reshape(shape)", ("self",), (_SHAPE,)),
    "SqueezeBackward0": Rule("squeeze", "result = self.squeeze()", ("self",), (_SHAPE,)),
    "SqueezeBackward1": Rule("squeeze", "result = self.squeeze(dim)", ("self",), (_SHAPE,)),
    "SqueezeBackward2": Rule("squeeze", "result = self.squeeze(dims)", ("self",), (_SHAPE,)),
    "SqueezeBackward3": Rule("squeeze_", "result = self.squeeze()", ("self",), (_SHAPE,)),
    "SqueezeBackward4": Rule("squeeze_", "result = self.squeeze(dim)", ("self",), (_SHAPE,)),
    "UnsqueezeBackward0": Rule("unsqueeze", "result = self.unsqueeze(dim)", ("self",), (_SHAPE,)),
    "ConstantPadNdBackward0": Rule(
        "pad",
        "result = pad(self, pad)",
        ("self",),
        ("unpad(grad, pad)",),
        note="the padding's cells lead nowhere: the gradient is cropped back to the input",
    ),
    "ExpandBackward0": Rule(
        "expand", "result = self.expand(shape)", ("self",), ("sum_to(grad, self)",)
    ),
    "CloneBackward0": Rule("clone", "result = self.clone()", ("self",), ("grad",), ("1",)),
    "AliasBackward0": Rule("alias", "result = self", ("self",), ("grad",), ("1",)),
    "Rot90Backward0": Rule(
        "rot90",
        "result = self.rot90(k, dims)",
        ("self",),
        ("grad.rot90(-k, dims)",),
        note="the gradient is turned back the other way",
    ),
    "IndexFillBackward0": Rule(
        "index_fill",
        "result = self.index_fill(dim, index, value)",
        ("self",),
        ("grad.index_fill(dim, index, 0)",),
        note="what was filled gets no gradient",
    ),
    "IndexCopyBackward0": Rule(
        "index_copy",
        "result = self.index_copy(dim, index, source)",
        ("self", "source"),
        ("grad.index_fill(dim, index, 0)", "grad.index_select(dim, index)"),
        note="the rows source overwrote get nothing in self; source gets their gradients",
    ),
    "ComplexBackward0": Rule(
        "complex",
        "result = real + 1j * imag",
        ("real", "imag"),
        ("grad.real", "grad.imag"),
    ),
    "FlipBackward0": Rule("flip", "result = self.flip(dims)", ("self",), ("grad.flip(dims)",)),
    "TrilBackward0": Rule(
        "tril",
        "result = tril(self, diagonal)",
        ("self",),
        ("tril(grad, diagonal)",),
        note="what the mask zeroed gets no gradient",
    ),
    "TriuBackward0": Rule(
        "triu",
        "result = triu(self, diagonal)",
        ("self",),
        ("triu(grad, diagonal)",),
        note="what the mask zeroed gets no gradient",
    ),
    "IndexSelectBackward0": Rule(
        "index_select",
        "result = self.index_select(dim, index)",
        ("self",),
        ("index_add_back(grad, self, dim, index)",),
        note="each row goes back where it was taken from; rows taken twice get both",
    ),
    "ToCopyBackward0": Rule("to", "result = self.to(dtype)", ("self",), ("grad",), ("1",)),
    "CatBackward0": Rule(
        "cat",
        "result = cat(tensors, dim)",
        ("tensors*",),
        ("piece(grad, dim, tensors, i)",),
        note="each input gets the slice of the gradient where it was placed",
    ),
    "StackBackward0": Rule(
        "stack", "result = stack(tensors, dim)", ("tensors*",), ("grad.select(dim, i)",)
    ),
    "SplitBackward0": _pieces("split", "self.split(split_size, dim)", "cat"),
    "SplitWithSizesBackward0": _pieces("split", "self.split(split_sizes, dim)", "cat"),
    "UnsafeSplitBackward0": _pieces("unsafe_split", "self.split(split_size, dim)", "cat"),
    "UnbindBackward0": _pieces("unbind", "self.unbind(dim)", "stack"),
    "SelectBackward0": Rule(
        "select",
        "result = self.select(dim, index)",
        ("self",),
        ("place(grad, self, dim, index)",),
        note="zeros everywhere but where the element was taken",
    ),
    "SelectBackwardBackward0": Rule(
        "select_backward",
        "result = place(grad_output, zeros(input_sizes), dim, index)",
        ("grad_output",),
        ("grad.select(dim, index)",),
        note="select's gradient, differentiated again (a Hessian, a gradient penalty): "
        "it put grad_output in one place among zeros, so it takes back what is there",
    ),
    "SliceBackward0": Rule(
        "slice",
        "result = slice(self, dim, start, end, step)",
        ("self",),
        ("place_slice(grad, self, dim, start, end, step)",),
        note="zeros everywhere but the slice",
    ),
    "RepeatBackward0": Rule(
        "repeat",
        "result = self.repeat(repeats)",
        ("self",),
        ("untile(grad, self, repeats)",),
        note="each copy's gradient is added back onto the original",
    ),
    "RollBackward0": Rule(
        "roll",
        "result = self.roll(shifts, dims)",
        ("self",),
        ("unroll(grad, shifts, dims)",),
        note="the gradient is rolled back by the same shift",
    ),
    "DiagEmbedBackward0": Rule(
        "diag_embed",
        "result = diag_embed(self, offset, dim1, dim2)",
        ("self",),
        ("diagonal(grad, offset, dim1, dim2)",),
        note="only the diagonal came from the input: it takes the gradient's diagonal",
    ),
    "DiagonalBackward0_copy": Rule(
        "diagonal",
        "result = diagonal(self, offset, dim1, dim2)",
        ("self",),
        ("diagonal_back(grad, self, offset, dim1, dim2)",),
        note="the diagonal's gradient goes back onto the diagonal; the rest gets 0",
    ),
    "ConjBackward0": Rule(
        "conj",
        "result = conj(self)",
        ("self",),
        ("conj(grad)",),
        note="a complex conjugate's gradient is the gradient conjugated",
    ),
    "ViewAsRealBackward0": Rule(
        "view_as_real", "result = view_as_real(self)", ("self",), ("view_as_complex(grad)",)
    ),
    "ViewAsComplexBackward0": Rule(
        "view_as_complex", "result = view_as_complex(self)", ("self",), ("view_as_real(grad)",)
    ),
    "GluBackward0": Rule(
        "glu",
        "result = glu(self, dim)",
        ("self",),
        ("glu_back(grad, self, dim)",),
        note="glu splits self in halves a, b along dim and gives a * sigmoid(b): a gets "
        "grad * sigmoid(b), b gets grad * a * sigmoid(b) * (1 - sigmoid(b))",
    ),
    "ScatterBackward0": Rule(
        "scatter",
        "result = self.scatter(dim, index, src)",
        ("self", "src"),
        ("grad.scatter(dim, index, 0.0)", "grad.gather(dim, index)"),
        note="the cells written over get no gradient back; src reads the gradient of "
        "where it was written",
    ),
    "ScatterBackward1": Rule(
        "scatter",
        "result = self.scatter(dim, index, value)",
        ("self",),
        ("grad.scatter(dim, index, 0.0)",),
        note="the cells written over get no gradient back",
    ),
    "ScatterAddBackward0": Rule(
        "scatter_add",
        "result = self.scatter_add(dim, index, src)",
        ("self", "src"),
        ("grad", "grad.gather(dim, index)"),
        note="src reads the gradient of where it was added",
    ),
    "IndexAddBackward0": Rule(
        "index_add",
        "result = self.index_add(dim, index, source, alpha=alpha)",
        ("self", "source"),
        ("grad", "alpha * grad.index_select(dim, index)"),
        note="source reads the gradient of the rows it was added to",
    ),
    "IndexPutBackward0": Rule(
        "index_put",
        "result = self.index_put(indices, values)",
        ("self", "values"),
        ("zero_at(grad, indices)", "sum_to(taken(grad, indices), values)"),
        when={"accumulate": "False"},
        note="the cells written over get no gradient back; values read the gradient of "
        "where they were written",
    ),
    "MaskedSelectBackward0": Rule(
        "masked_select",
        "result = self[mask]",
        ("self",),
        ("place_masked(grad, self, mask)",),
        note="each value goes back where the mask took it from; zeros elsewhere",
    ),
    "MaskedScatterBackward0": Rule(
        "masked_scatter",
        "result = self.masked_scatter(mask, source)",
        ("self", "source"),
        ("where(mask, 0.0, grad)", "masked_source_back(grad, mask, source)"),
        note="the cells written over get no gradient back; source's values read the "
        "gradient of where they were written",
    ),
    "TakeBackward0": Rule(
        "take",
        "result = self.flatten()[index]",
        ("self",),
        ("put_back(grad, self, index)",),
        note="each value goes back to the place it was taken from; taken twice, it gets both",
    ),
    "CopyBackwards": Rule(
        "copy_",
        "result = self.copy_(src)",
        ("self", "src"),
        ("0 * grad", "sum_to(grad, src)"),
        note="what was in self is overwritten and gets no gradient; src gets it all",
    ),
    "IndexBackward0": Rule(
        "index",
        "result = self[indices]",
        ("self",),
        ("index_back(grad, self, indices)",),
        note="rows picked twice get both gradients",
    ),
    # -- losses (default reduction 'mean', no class weights) -----------------------------
    "MseLossBackward0": Rule(
        "mse_loss",
        "result = mean((self - target) ** 2)",
        ("self", "target"),
        (
            "2 * (self - target) * grad / numel(self)",
            "-2 * (self - target) * grad / numel(self)",
        ),
        ("2 * (self - target) / numel(self)", "-2 * (self - target) / numel(self)"),
        when={"reduction": "1"},
    ),
    "NllLoss2DBackward0": Rule(
        "nll_loss2d",
        "result = -mean(self[n, target[n, h, w], h, w])",
        ("self",),
        ("-one_hot(target, self, ignore_index=ignore_index) * grad / total_weight",),
        when={"reduction": "1", "weight": "None"},
        note="cross_entropy over every pixel (segmentation): each pixel's true class "
        "gets -1 / the number of pixels",
    ),
    "NllLossBackward0": Rule(
        "nll_loss",
        "result = -mean(self[i, target[i]])",
        ("self",),
        ("-one_hot(target, self, ignore_index=ignore_index) * grad / total_weight",),
        when={"reduction": "1", "weight": "None"},
        note="with log_softmax before it, this is cross_entropy",
    ),
    "SmoothL1LossBackward0": Rule(
        "smooth_l1_loss",
        "result = mean(where(abs(self - target) < beta, "
        "0.5 * (self - target) ** 2 / beta, abs(self - target) - 0.5 * beta))",
        ("self", "target"),
        (
            "grad * clamp((self - target) / beta, -1, 1) / numel(self)",
            "-grad * clamp((self - target) / beta, -1, 1) / numel(self)",
        ),
        when={"reduction": "1"},
        note="squared near the target, absolute far from it: the gradient is capped at 1",
    ),
    "HuberLossBackward0": Rule(
        "huber_loss",
        "result = mean(where(abs(self - target) < delta, "
        "0.5 * (self - target) ** 2, delta * (abs(self - target) - 0.5 * delta)))",
        ("self", "target"),
        (
            "grad * clamp(self - target, -delta, delta) / numel(self)",
            "-grad * clamp(self - target, -delta, delta) / numel(self)",
        ),
        when={"reduction": "1"},
        note="squared near the target, absolute far from it: the gradient is capped at delta",
    ),
    "BinaryCrossEntropyBackward0": Rule(
        "binary_cross_entropy",
        "result = -mean(target * log(self) + (1 - target) * log(1 - self))",
        ("self", "target"),
        (
            "grad * (self - target) / (self * (1 - self)) / numel(self)",
            "grad * (log(1 - self) - log(self)) / numel(self)",
        ),
        when={"reduction": "1", "weight": "None"},
    ),
    "SoftMarginLossBackward0": Rule(
        "soft_margin_loss",
        "result = mean(log(1 + exp(-target * self)))",
        ("self",),
        ("-grad * target * sigmoid(-target * self) / numel(self)",),
        when={"reduction": "1"},
        note="the logistic loss of labels ±1: a margin already wide gets almost nothing",
    ),
    "BinaryCrossEntropyWithLogitsBackward0": Rule(
        "binary_cross_entropy_with_logits",
        "result = mean(bce(sigmoid(self), target))",
        ("self", "target"),
        ("grad * (sigmoid(self) - target) / numel(self)", "-grad * self / numel(self)"),
        when={"reduction": "1", "weight": "None", "pos_weight": "None"},
    ),
    # -- layers ----------------------------------------------------------------------------
    "ConvolutionBackward0": Rule(
        "conv2d",
        "result = conv2d(input, weight, bias, stride, padding, dilation, groups, transposed)",
        ("input", "weight", "bias"),
        (
            "conv2d_input_grad(grad, input, weight, stride, padding, dilation, groups, transposed)",
            "conv2d_weight_grad(grad, input, weight, stride, padding, dilation, groups, "
            "transposed)",
            "sum(grad, (0, 2, 3))",
        ),
        note="the input gradient is a transposed convolution of grad with the weight; "
        "for ConvTranspose2d, a plain one",
    ),
    "MaxPool2DWithIndicesBackward0": Rule(
        "max_pool2d",
        "result = max_pool2d(self, kernel_size, stride, padding)",
        ("self",),
        ("max_pool_back(grad, self, result1)",),
        note="result1 is where each window's max was: its gradient goes there, the rest none",
    ),
    "AvgPool2DBackward0": Rule(
        "avg_pool2d",
        "result = avg_pool2d(self, kernel_size, stride, padding)",
        ("self",),
        ("spread_back(grad, self, kernel_size, stride, padding)",),
        when={"ceil_mode": "False", "count_include_pad": "True", "divisor_override": "None"},
        note="each window's gradient is shared evenly among the elements it averaged",
    ),
    "NativeBatchNormBackward0": Rule(
        "batch_norm",
        "result = weight * xhat(input, result1, result2) + bias",
        ("input", "weight", "bias"),
        (
            "per_channel(weight * result2, input) * (grad - mean_c(grad) - "
            "xhat(input, result1, result2) * mean_c(grad * xhat(input, result1, result2)))",
            "sum_c(grad * xhat(input, result1, result2))",
            "sum_c(grad)",
        ),
        when={"training": "True", "weight": "tensor"},
        note="result1, result2: the batch mean and 1/std; xhat the normalized input",
    ),
    "NativeGroupNormBackward0": Rule(
        "group_norm",
        "result = weight * xhat_g(input, result1, result2, group) + bias",
        ("input", "weight", "bias"),
        (
            "per_group(result2, input, group) * (grad * per_channel(weight, input) - "
            "mean_g(grad * per_channel(weight, input), group) - "
            "xhat_g(input, result1, result2, group) * "
            "mean_g(grad * per_channel(weight, input) * xhat_g(input, result1, result2, group), "
            "group))",
            "sum_c(grad * xhat_g(input, result1, result2, group))",
            "sum_c(grad)",
        ),
        when={"weight": "tensor"},
        note="result1, result2: each sample's and group's mean and 1/std; xhat_g the input "
        "normalized within its group of channels",
    ),
    "NativeLayerNormBackward0": Rule(
        "layer_norm",
        "result = weight * (input - result1) * result2 + bias",
        ("input", "weight", "bias"),
        (
            "result2 * (grad * weight - mean_n(grad * weight, normalized_shape) - "
            "(input - result1) * result2 * "
            "mean_n(grad * weight * (input - result1) * result2, normalized_shape))",
            "sum_lead(grad * (input - result1) * result2, normalized_shape)",
            "sum_lead(grad, normalized_shape)",
        ),
        when={"weight": "tensor", "bias": "tensor"},
        note="result1, result2: each row's mean and 1/std",
    ),
    "NativeDropoutBackward0": Rule(
        "dropout",
        "result = self * result1 / (1 - p)",
        ("self",),
        ("grad * result1 / (1 - p)",),
        ("result1 / (1 - p)",),
        note="result1 is the mask of the elements kept; they are scaled up by 1 / (1 - p)",
    ),
    "EmbeddingBackward0": Rule(
        "embedding",
        "result = weight[indices]",
        ("weight",),
        ("embedding_back(grad, indices, weight)",),
        note="each row of the table gets the gradients of every place it was looked up",
    ),
    "EmbeddingBagBackward0": Rule(
        "embedding_bag",
        "result = embedding_bag(indices, weight, offsets, mode)",
        ("weight",),
        ("bag_back(grad, weight, indices, offsets, mode)",),
        when={"per_sample_weights": "None"},
        note="each bag (a row of the result) is the mean (mode 1) or sum (mode 0) of the rows "
        "it looked up; every row looked up gets its bag's gradient, divided by the bag's "
        "size for the mean",
    ),
    "PreluKernelBackward0": Rule(
        "prelu",
        "result = where(self > 0, self, weight * self)",
        ("self", "weight"),
        (
            "grad * where(self > 0, 1.0, per_channel(weight, self))",
            "per_weight(grad * where(self > 0, 0.0, self), weight)",
        ),
        note="the learned slope gets the gradient of every negative input it scaled "
        "(summed over its channel)",
    ),
    "AdaptiveAvgPool2DBackward0": Rule(
        "adaptive_avg_pool2d",
        "result = adaptive_avg_pool2d(self, output_size)",
        ("self",),
        ("adaptive_avg_back(grad, self)",),
        note="each output cell averaged a window of the input, and shares its gradient "
        "evenly among that window's cells",
    ),
    "AdaptiveMaxPool2DBackward0": Rule(
        "adaptive_max_pool2d",
        "result = adaptive_max_pool2d(self, output_size)",
        ("self",),
        ("max_pool_back(grad, self, result1)",),
        note="result1 is where each window's max was: its gradient goes there, the rest none",
    ),
    "MaxUnpool2DBackward0": Rule(
        "max_unpool2d",
        "result = max_unpool2d(self, indices)",
        ("self",),
        ("unpool_back(grad, indices)",),
        note="each cell reads the gradient of the place it was put back in",
    ),
    "UpsampleNearest1DBackward0": Rule(
        "upsample_nearest1d",
        "result = interpolate(self, output_size, 'nearest')",
        ("self",),
        ("upsample_back(grad, self, 'nearest', False, scales)",),
        note="each output cell is a copy of its nearest input cell, which gets the "
        "gradients of all its copies",
    ),
    "UpsampleNearest2DBackward0": Rule(
        "upsample_nearest2d",
        "result = interpolate(self, output_size, 'nearest')",
        ("self",),
        ("upsample_back(grad, self, 'nearest', False, scales_h, scales_w)",),
        note="each output pixel is a copy of its nearest input pixel, which gets the "
        "gradients of all its copies",
    ),
    "UpsampleLinear1DBackward0": Rule(
        "upsample_linear1d",
        "result = interpolate(self, output_size, 'linear', align_corners)",
        ("self",),
        ("upsample_back(grad, self, 'linear', align_corners, scales)",),
        note="each output cell mixes its two nearest input cells; each gets the gradient "
        "back with the weight it had in the mix",
    ),
    "UpsampleBilinear2DBackward0": Rule(
        "upsample_bilinear2d",
        "result = interpolate(self, output_size, 'bilinear', align_corners)",
        ("self",),
        ("upsample_back(grad, self, 'bilinear', align_corners, scales_h, scales_w)",),
        note="each output pixel mixes its four nearest input pixels; each gets the gradient "
        "back with the weight it had in the mix",
    ),
    "PixelShuffleBackward0": Rule(
        "pixel_shuffle",
        "result = pixel_shuffle(self, upscale_factor)",
        ("self",),
        ("pixel_unshuffle(grad, upscale_factor)",),
        note="a rearrangement: the gradient is put back by the inverse one",
    ),
    "PixelUnshuffleBackward0": Rule(
        "pixel_unshuffle",
        "result = pixel_unshuffle(self, downscale_factor)",
        ("self",),
        ("pixel_shuffle(grad, downscale_factor)",),
        note="a rearrangement: the gradient is put back by the inverse one",
    ),
    "ReflectionPad1DBackward0": _copied_pad("reflect"),
    "ReflectionPad2DBackward0": _copied_pad("reflect"),
    "ReflectionPad3DBackward0": _copied_pad("reflect"),
    "ReplicationPad1DBackward0": _copied_pad("replicate"),
    "ReplicationPad2DBackward0": _copied_pad("replicate"),
    "ReplicationPad3DBackward0": _copied_pad("replicate"),
    "Im2ColBackward0": Rule(
        "unfold",
        "result = unfold(self, kernel_size, dilation, padding, stride)",
        ("self",),
        ("fold_patches(grad, self, kernel_size, dilation, padding, stride)",),
        note="F.fold undoes F.unfold's reading: each patch's gradient is added back "
        "where the patch was taken, so a cell in several patches gets them all",
    ),
    "Col2ImBackward0": Rule(
        "fold",
        "result = fold(self, output_size, kernel_size, dilation, padding, stride)",
        ("self",),
        ("unfold_patches(grad, kernel_size, dilation, padding, stride)",),
        note="each patch was added into the output, so it reads back the gradient there",
    ),
    "UnfoldBackward0": Rule(
        "unfold",
        "result = self.unfold(dimension, size, step)",
        ("self",),
        ("windows_back(grad, self, dimension, size, step)",),
        note="each window's gradient is added back where the window was read; a cell in "
        "several windows gets them all",
    ),
    # -- linear algebra beyond products ----------------------------------------------
    "LinalgInvExBackward0": Rule(
        "inv",
        "result = inv(A)",
        ("A",),
        ("-(inverse.mT @ grad @ inverse.mT)",),
        note="inverse is A's inverse: d(A⁻¹) = -A⁻¹ dA A⁻¹",
    ),
    "LinalgDetBackward0": Rule(
        "det",
        "result = det(A)",
        ("A",),
        ("grad * result * inv(A).mT",),
        note="Jacobi's formula: det's derivative is det(A) times A⁻¹ transposed",
    ),
    "LinalgSlogdetBackward0": Rule(
        "slogdet",
        "result = slogdet(A).logabsdet",
        ("A",),
        ("grad * inv(A).mT",),
        note="the derivative of log|det A| is A⁻¹ transposed",
    ),
    "LinalgSolveExBackward0": Rule(
        "solve",
        "result = solve(A, B)",
        ("A", "B"),
        ("-solve(A.mT, grad) @ result.mT", "solve(A.mT, grad)"),
        when={"left": "True"},
        note="B's gradient solves the transposed system; A's is minus that times the solution",
    ),
    "LinalgCrossBackward0": Rule(
        "cross",
        "result = cross(self, other, dim)",
        ("self", "other"),
        ("sum_to(cross(other, grad, dim), self)", "sum_to(cross(grad, self, dim), other)"),
    ),
    "AddmvBackward0": Rule(
        "addmv",
        "result = beta * self + alpha * (mat @ vec)",
        ("self", "mat", "vec"),
        ("sum_to(beta * grad, self)", "alpha * outer(grad, vec)", "alpha * (mat.T @ grad)"),
    ),
    "AddrBackward0": Rule(
        "addr",
        "result = beta * self + alpha * outer(vec1, vec2)",
        ("self", "vec1", "vec2"),
        ("sum_to(beta * grad, self)", "alpha * (grad @ vec2)", "alpha * (grad.T @ vec1)"),
    ),
    "AddbmmBackward0": Rule(
        "addbmm",
        "result = beta * self + alpha * sum(batch1 @ batch2, 0)",
        ("self", "batch1", "batch2"),
        (
            "sum_to(beta * grad, self)",
            "alpha * (grad @ batch2.mT)",
            "alpha * (batch1.mT @ grad)",
        ),
    ),
    "DistBackward0": Rule(
        "dist",
        "result = sqrt(sum((self - other) ** 2))",
        ("self", "other"),
        (
            "sum_to(grad * (self - other) / result, self)",
            "sum_to(-grad * (self - other) / result, other)",
        ),
        when={"p": "2"},
    ),
    "PdistBackward0": Rule(
        "pdist",
        "result = pdist(self)",
        ("self",),
        ("pdist_back(grad, self, result)",),
        when={"p": "2.0"},
        note="result lists |self[i] - self[j]| for i < j: each row moves along its "
        "differences to the others, weighted by each distance's gradient over the distance",
    ),
    "CdistBackward0": Rule(
        "cdist",
        "result = cdist(x1, x2)",
        ("x1", "x2"),
        ("pairwise_back(grad, x1, x2, result)", "pairwise_back(grad.mT, x2, x1, result.mT)"),
        when={"p": "2.0"},
        note="result[i, j] = |x1[i] - x2[j]|: each point moves along its differences to "
        "the others, weighted by each distance's gradient over the distance",
    ),
    "EuclideanDistBackward0": Rule(  # cdist's p = 2 for more than 25 points: by a product
        "euclidean_dist",
        "result = cdist(x1, x2)",
        ("x1", "x2"),
        ("pairwise_back(grad, x1, x2, result)", "pairwise_back(grad.mT, x2, x1, result.mT)"),
        note="result[i, j] = |x1[i] - x2[j]|, computed as sqrt(|x1[i]|² + |x2[j]|² - 2 x1[i] · "
        "x2[j]): each point moves along its differences to the others, weighted by each "
        "distance's gradient over the distance",
    ),
}


_AVERAGED_BY = (" / numel(self)", " / total_weight")
"""The divisions that make a loss's 'mean': over its elements, or over the kept targets."""


def _reduced(rule: Rule, reduction: str) -> Rule | None:
    """A loss's rule for ``reduction='sum'`` (2) or ``'none'`` (0), made from its 'mean' one.

    PyTorch's VAE example sums its binary cross-entropy, and "Learning PyTorch
    with Examples" its MSE: the same formulas, without the division that
    averaged. 'none' keeps one loss per element, so only the elementwise losses
    (those that divide by ``numel(self)``) have that form.
    """
    if rule.when.get("reduction") != "1":
        return None
    texts = (rule.forward, *rule.chain, *(f for f in rule.local if f))
    divisor = next((d for d in _AVERAGED_BY if any(d in t for t in texts)), None)
    if divisor is None:
        return None
    if reduction == "0" and (divisor != " / numel(self)" or "mean(" not in rule.forward):
        return None

    def summed(formula: str) -> str:
        return formula.replace(divisor, "")

    return replace(
        rule,
        forward=summed(rule.forward).replace("mean(", "sum(" if reduction == "2" else "("),
        chain=tuple(map(summed, rule.chain)),
        local=tuple(summed(f) if f else f for f in rule.local),
        when={**rule.when, "reduction": reduction},
    )


_WEIGHTED: dict[str, tuple[Rule, ...]] = {
    "NllLossBackward0": (
        Rule(
            "nll_loss",
            "result = -sum(weight[target[i]] * self[i, target[i]]) / total_weight",
            ("self",),
            ("-one_hot(target, self, ignore_index=ignore_index) * weight * grad / total_weight",),
            when={"reduction": "1", "weight": "tensor"},
            note="class weights: each row counts as its target's weight, and the mean "
            "divides by their total",
        ),
    ),
    "NllLoss2DBackward0": (
        Rule(
            "nll_loss2d",
            "result = -sum(weight[target[n, h, w]] * self[n, target[n, h, w], h, w]) "
            "/ total_weight",
            ("self",),
            (
                "-one_hot(target, self, ignore_index=ignore_index) * per_channel(weight, self)"
                " * grad / total_weight",
            ),
            when={"reduction": "1", "weight": "tensor"},
            note="class weights per pixel (segmentation of a rare class): each pixel counts "
            "as its target's weight, and the mean divides by their total",
        ),
    ),
    "BinaryCrossEntropyBackward0": (
        Rule(
            "binary_cross_entropy",
            "result = -mean(weight * (target * log(self) + (1 - target) * log(1 - self)))",
            ("self", "target"),
            (
                "grad * weight * (self - target) / (self * (1 - self)) / numel(self)",
                "grad * weight * (log(1 - self) - log(self)) / numel(self)",
            ),
            when={"reduction": "1", "weight": "tensor"},
        ),
    ),
    "BinaryCrossEntropyWithLogitsBackward0": (
        Rule(
            "binary_cross_entropy_with_logits",
            "result = mean(weight * bce(sigmoid(self), target))",
            ("self", "target"),
            (
                "grad * weight * (sigmoid(self) - target) / numel(self)",
                "-grad * weight * self / numel(self)",
            ),
            when={"reduction": "1", "weight": "tensor", "pos_weight": "None"},
        ),
        Rule(
            "binary_cross_entropy_with_logits",
            "result = mean(bce(sigmoid(self), target, pos_weight))",
            ("self", "target"),
            (
                "grad * ((pos_weight * target + 1 - target) * sigmoid(self) - pos_weight * target)"
                " / numel(self)",
                "grad * ((1 - pos_weight) * logsigmoid(self) - self) / numel(self)",
            ),
            when={"reduction": "1", "weight": "None", "pos_weight": "tensor"},
            note="pos_weight counts each positive target that many times: a rare class "
            "pulls harder",
        ),
        Rule(
            "binary_cross_entropy_with_logits",
            "result = mean(weight * bce(sigmoid(self), target, pos_weight))",
            ("self", "target"),
            (
                "grad * weight * ((pos_weight * target + 1 - target) * sigmoid(self) "
                "- pos_weight * target) / numel(self)",
                "grad * weight * ((1 - pos_weight) * logsigmoid(self) - self) / numel(self)",
            ),
            when={"reduction": "1", "weight": "tensor", "pos_weight": "tensor"},
        ),
    ),
}
"""Losses called with class weights (``weight=``, ``pos_weight=``), for imbalanced data."""


_PER_TARGET = {
    "NllLossBackward0": ("self[i, target[i]]", "target[i]"),
    "NllLoss2DBackward0": ("self[n, target[n, h, w], h, w]", "target[n, h, w]"),
}
"""nll_loss with reduction='none': one loss per target (a focal loss weighs them)."""


def _per_target(node: str, rule: Rule) -> Rule | None:
    if node not in _PER_TARGET or rule.when.get("reduction") != "1":
        return None
    picked, target = _PER_TARGET[node]
    weighted = rule.when.get("weight", "None") != "None"
    return replace(
        rule,
        forward=f"result = -weight[{target}] * {picked}" if weighted else f"result = -{picked}",
        chain=tuple(
            c.replace(" * grad / total_weight", " * unsqueeze(grad, 1)") for c in rule.chain
        ),
        when={**rule.when, "reduction": "0"},
        note=None,
    )


_AFFINE_LESS: dict[str, tuple[Rule, ...]] = {
    "NativeBatchNormBackward0": (
        Rule(
            "batch_norm",
            "result = xhat(input, result1, result2)",
            ("input",),
            (
                "per_channel(result2, input) * (grad - mean_c(grad) - "
                "xhat(input, result1, result2) * mean_c(grad * xhat(input, result1, result2)))",
            ),
            when={"training": "True", "weight": "None"},
            note="no weight nor bias (affine=False, nn.InstanceNorm2d's default): the "
            "normalized input itself; result1, result2: the mean and 1/std",
        ),
    ),
    "NativeLayerNormBackward0": (
        Rule(
            "layer_norm",
            "result = (input - result1) * result2",
            ("input",),
            (
                "result2 * (grad - mean_n(grad, normalized_shape) - (input - result1) * "
                "result2 * mean_n(grad * (input - result1) * result2, normalized_shape))",
            ),
            when={"weight": "None", "bias": "None"},
            note="no weight nor bias (elementwise_affine=False, as DiT's blocks): the "
            "normalized input itself; result1, result2: each row's mean and 1/std",
        ),
        Rule(
            "layer_norm",
            "result = weight * (input - result1) * result2",
            ("input", "weight"),
            (
                "result2 * (grad * weight - mean_n(grad * weight, normalized_shape) - "
                "(input - result1) * result2 * "
                "mean_n(grad * weight * (input - result1) * result2, normalized_shape))",
                "sum_lead(grad * (input - result1) * result2, normalized_shape)",
            ),
            when={"weight": "tensor", "bias": "None"},
            note="a weight and no bias (bias=False, as nanoGPT's): result1, result2: each "
            "row's mean and 1/std",
        ),
    ),
    "NativeGroupNormBackward0": (
        Rule(
            "group_norm",
            "result = xhat_g(input, result1, result2, group)",
            ("input",),
            (
                "per_group(result2, input, group) * (grad - mean_g(grad, group) - "
                "xhat_g(input, result1, result2, group) * "
                "mean_g(grad * xhat_g(input, result1, result2, group), group))",
            ),
            when={"weight": "None"},
            note="no weight nor bias (affine=False): the input normalized within each "
            "sample's group of channels; result1, result2: its mean and 1/std",
        ),
    ),
}
"""Normalizations without their learned scale or shift: forms of their rules in which
neither shows (it read ``None * (x - result1) * result2 + None``)."""


def _forms(node: str, rule: Rule) -> tuple[Rule, ...]:
    """The other forms of a node's rule: weighted, and each summed or kept per element."""
    forms: list[Rule] = []
    for base in (rule, *_WEIGHTED.get(node, ()), *_AFFINE_LESS.get(node, ())):
        if base is not rule:
            forms.append(base)
        for reduction in ("0", "2"):
            made = _per_target(node, base) if reduction == "0" and node in _PER_TARGET else None
            made = made or _reduced(base, reduction)
            if made is not None:
                forms.append(made)
    return tuple(forms)


VARIANTS: dict[str, tuple[Rule, ...]] = {
    node: forms for node, rule in RULES.items() if (forms := _forms(node, rule))
}
"""Other forms of a node's rule, each for the saved attributes its ``when`` names."""

_REDUCTIONS = {"0": "none", "1": "mean", "2": "sum"}


def variant_label(node: str, form: Rule) -> str:
    """What sets a form apart from the node's plain rule: ``sum``, ``weight, none``,
    ``bias=None``."""
    plain = RULES[node].when
    differ = sorted(
        (attr for attr, value in form.when.items() if plain.get(attr) != value),
        key=lambda attr: attr == "reduction",  # weight, sum
    )
    return ", ".join(
        _REDUCTIONS[form.when[attr]]
        if attr == "reduction"
        else f"{attr}=None"
        if form.when[attr] == "None"
        else attr
        for attr in differ
    )


def _same_value(have: str, expected: str) -> bool:
    """Whether a saved attribute holds the value a rule assumes: ``2.0`` is ``2`` (``F.normalize``
    saves its ``p`` as a float, ``torch.norm`` an int)."""
    if have == expected:
        return True
    try:
        return bool(ast.literal_eval(have) == ast.literal_eval(expected))
    except (ValueError, SyntaxError, TypeError):
        return False


def unmet(rule: Rule, saved: Mapping[str, str]) -> tuple[str, str] | None:
    """The first condition of ``rule`` that a node's saved attributes do not meet, as the
    attribute and what it holds (``saved``: each attribute's text, ``tensor`` for a
    tensor); an attribute not saved meets any."""
    for attr, want in rule.when.items():
        have = saved.get(attr)
        if have is not None and not _same_value(have, want):
            return attr, have
    return None


def rule_for(node: str, saved: Mapping[str, str]) -> Rule | None:
    """The form of a node's rule whose conditions its saved attributes meet; else the
    plain rule, whose unmet condition explain then tells."""
    rule = RULES.get(node)
    if rule is None:
        return None
    return next((f for f in (rule, *VARIANTS.get(node, ())) if unmet(f, saved) is None), rule)


IN_WORDS: dict[str, str] = {
    "CopySlices": "an in-place write into part of a tensor (y[0] = v); the part written "
    "gets no gradient from what was there before, the rest passes through",
    "MkldnnRnnLayerBackward0": "one fused LSTM layer, every step and gate in one node",
    "WeightNormInterfaceBackward0": "weight norm (nn.utils.weight_norm): the weight is v "
    "rescaled to the length g for each output unit",
    "LinalgCholeskyExBackward0": "a Cholesky factorization (A = L @ L.T); its gradient "
    "solves two triangular systems with L",
    "LinalgSolveTriangularBackward0": "a triangular solve; its gradient solves the "
    "transposed triangular system",
    "CholeskySolveBackward0": "a solve with a Cholesky factor; its gradient solves the "
    "same system again",
    "LinalgEighBackward0": "an eigendecomposition of a symmetric matrix; its gradient mixes "
    "the eigenvectors' gradients by 1 / (gaps between eigenvalues)",
    "LinalgSvdBackward0": "a singular value decomposition; each singular value's gradient "
    "goes back as u @ v.T, the vectors' by 1 / (gaps between singular values)",
    "LinalgQrBackward0": "a QR decomposition; its gradient is built from Q, R and the "
    "gradients of both",
    "LinalgPinvBackward0": "a pseudo-inverse; its gradient generalizes the inverse's, "
    "-A⁺ᵀ grad A⁺ᵀ, with terms for the parts outside A's range",
    "LinalgLstsqBackward0": "a least-squares solve; its gradient goes back through the "
    "normal equations",
    "LinalgMatrixExpBackward0": "a matrix exponential; its gradient is the exponential of "
    "a block matrix holding A.T and grad",
    "LinalgEigBackward0": "an eigendecomposition; its gradient mixes the eigenvectors' "
    "gradients by 1 / (gaps between eigenvalues)",
    **dict.fromkeys(
        ("FftR2CBackward0", "FftC2CBackward0", "FftC2RBackward0"),
        "a Fourier transform; its gradient is the transform of grad in the other direction "
        "(the adjoint), scaled as the normalization was",
    ),
    "AffineGridGeneratorBackward0": "affine_grid: each point of the grid is theta @ "
    "(x, y, 1) of a base grid; theta gets every point's gradient times its base "
    "coordinates, summed over the grid",
    "GridSampler2DBackward0": "grid_sample: each output pixel is read from the input at "
    "the point the grid gives (bilinear); the input gets the gradient back with the same "
    "weights, the grid by how the value read changes as its point moves",
    "UpsampleBicubic2DBackward0": "bicubic upsampling: each output pixel mixes 4×4 input "
    "pixels, which get the gradient back with the same weights",
    "TrilinearBackward0": "nn.Bilinear, x1 @ W @ x2 + b for each output: x1 gets grad "
    "through W @ x2, x2 through x1 @ W, W the outer product of x1 and x2",
    "CtcLossBackward0": "the CTC loss sums over every alignment of the target with the "
    "input; its gradient is each step's class probability less that class's share of "
    "the alignments",
    "PackPaddedSequenceBackward0": "packing a padded batch for an RNN; the gradient is put "
    "back in the padded layout, zeros in the padding",
    "AsStridedBackward0": "a strided view (as_strided, unfold); the gradient of each "
    "element goes back to the memory cell it read, added where cells were read twice",
    "SparseAddmmBackward0": "a product with a sparse matrix; the dense side gets the "
    "sparse matrix transposed times grad",
    "AvgPool3DBackward0": "3-D average pooling (also nn.LocalResponseNorm's window sum); "
    "each window's gradient is shared evenly among the elements it averaged",
    "MaxPool3DWithIndicesBackward0": "3-D max pooling; each window's gradient goes to the "
    "element that was its max",
    "MultiMarginLossBackward0": "the multi-class hinge loss; each class within the margin "
    "of the true one pushes its score down and the true class's up",
    **dict.fromkeys(
        (
            "ScaledDotProductFlashAttentionForCpuBackward0",
            "ScaledDotProductFlashAttentionBackward0",
            "ScaledDotProductEfficientAttentionBackward0",
            "ScaledDotProductCudnnAttentionBackward0",
        ),
        "attention fused into one node, softmax(q @ k.T * scale) @ v, its scores never "
        "kept as a tensor",
    ),
}
"""Nodes whose rule cannot be written as a formula gradviz can check (CopySlices saves
nothing Python can read), told in words; what flowed is shown all the same."""
