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

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["IN_WORDS", "RULES", "Rule"]


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
    "AtanBackward0": _unary(
        "atan", "result = atan(self)", "1 / (1 + self ** 2)", "grad / (1 + self ** 2)"
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
        "result, indices = max(self, dim)",
        ("self",),
        ("scatter_back(grad, self, dim, indices, keepdim)",),
        note="the gradient goes only to the element that was the max",
    ),
    "MinBackward0": Rule(
        "min",
        "result, indices = min(self, dim)",
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
    "CumsumBackward0": Rule(
        "cumsum",
        "result = cumsum(self, dim)",
        ("self",),
        ("flip(cumsum(flip(grad, dim), dim), dim)",),
        note="each element is in every later running sum, so it gets all their gradients",
    ),
    "TopkBackward0": Rule(
        "topk",
        "result, indices = topk(self, k, dim)",
        ("self",),
        ("scatter_back(grad, self, dim, indices, True)",),
        note="the gradient goes back to the elements picked; the rest get none",
    ),
    "SortBackward0": Rule(
        "sort",
        "result, indices = sort(self, dim)",
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
    "SliceBackward0": Rule(
        "slice",
        "result = self[start:end:step] along dim",
        ("self",),
        ("place_slice(grad, self, dim, start, end, step)",),
        note="zeros everywhere but the slice",
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
    "NllLossBackward0": Rule(
        "nll_loss",
        "result = -mean(self[i, target[i]])",
        ("self",),
        ("-one_hot(target, self) * grad / total_weight",),
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
        when={"training": "True"},
        note="result1, result2: the batch mean and 1/std; xhat the normalized input",
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
}


IN_WORDS: dict[str, str] = {
    "CopySlices": "an in-place write into part of a tensor (y[0] = v); the part written "
    "gets no gradient from what was there before, the rest passes through",
    "MkldnnRnnLayerBackward0": "one fused LSTM layer, every step and gate in one node",
    "WeightNormInterfaceBackward0": "weight norm (nn.utils.weight_norm): the weight is v "
    "rescaled to the length g for each output unit",
    "NativeGroupNormBackward0": "group norm: each group of channels is normalized by its own "
    "mean and std, then scaled and shifted per channel",
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
