package dev.kiln.ir;

import dev.kiln.runtime.DType;

import java.util.List;

/// The closed set of operations. Components of type `Value` (or `List<Value>`) are operands; a
/// component named `type` is the declared result type; a `Graph` component is a region; every
/// other component is an attribute. Printer, parser and rewriter derive the rest from the record
/// (see `Ops`), so adding an op is one declaration here plus one case in each exhaustive switch
/// (type rule, interpreter, gradient, lowering): the compiler lists every place to fill in.
///
/// Why this set. It is small enough that every pass and backend handles all of it, and large
/// enough that the PyTorch-style API composes from it without loss of speed:
/// - Elementwise math has no implicit broadcasting or dtype promotion: `broadcast` and `cast`
///   are explicit, so every elementwise op is a same-shape map, the unit of fusion.
/// - `relu`, `sign` and `tanh` are primitives (cheap, common, simple gradients); sigmoid,
///   softmax, log-softmax, cross-entropy, linear and mean are composites that fusion regroups.
/// - `matmul` and `conv2d` (with both gradient forms) are primitives: they are the work, and each
///   backend gives them tuned kernels. Convolution gradients are primitives too, because
///   writing them with strided/dilated convolutions would need ops we do not otherwise want.
/// - Max pooling with window = stride is `reshape` + `reduce_max`; argmax and `iota` give one-hot
///   encodings (cross-entropy with class targets) without a gather op.
/// - `random_uniform` is counter-based (a hash of seed and element index), so every backend
///   draws the same numbers and a seed operand lets a compiled step draw fresh ones.
public sealed interface Op {
    /// Result type from operand types and attributes; throws IrError naming the bad operand.
    default TensorType inferType() { return Types.infer(this); }

    // ---- leaves --------------------------------------------------------------------------
    /// Function parameter `index`; `name` is the source name (a state-dict key for weights).
    record Param(int index, String name, TensorType type) implements Op {}
    /// A splat constant: every element is `value`.
    record Const(double value, TensorType type) implements Op {}
    /// A dense constant (from constant folding or a literal in the source).
    record Dense(DenseData data) implements Op {}
    /// Each element is its index along `axis` (arange along one axis).
    record Iota(int axis, TensorType type) implements Op {}
    /// Uniform floats in [0, 1), a pure function of `seed` (an i64 scalar) and the element index.
    record RandomUniform(Value seed, TensorType type) implements Op {}

    // ---- elementwise ---------------------------------------------------------------------
    /// Same-shape elementwise ops: one typing rule each for unary, binary, compare; the unit of fusion.
    sealed interface Elementwise extends Op {}
    sealed interface Unary extends Elementwise { Value x(); }
    sealed interface Binary extends Elementwise { Value lhs(); Value rhs(); }
    /// Comparisons: same-dtype operands, bool result.
    sealed interface Compare extends Binary {}
    /// A trait, as in MLIR: operands may be swapped.
    interface Commutative {}

    record Neg(Value x) implements Unary {}
    record Abs(Value x) implements Unary {}
    record Sign(Value x) implements Unary {}
    record Relu(Value x) implements Unary {}
    record Exp(Value x) implements Unary {}
    record Log(Value x) implements Unary {}
    record Sqrt(Value x) implements Unary {}
    record Tanh(Value x) implements Unary {}
    record Not(Value x) implements Unary {}

    record Add(Value lhs, Value rhs) implements Binary, Commutative {}
    record Sub(Value lhs, Value rhs) implements Binary {}
    record Mul(Value lhs, Value rhs) implements Binary, Commutative {}
    /// Integer division truncates toward zero.
    record Div(Value lhs, Value rhs) implements Binary {}
    record Pow(Value lhs, Value rhs) implements Binary {}
    record Max(Value lhs, Value rhs) implements Binary, Commutative {}
    record Min(Value lhs, Value rhs) implements Binary, Commutative {}
    record And(Value lhs, Value rhs) implements Binary, Commutative {}
    record Or(Value lhs, Value rhs) implements Binary, Commutative {}

    record Eq(Value lhs, Value rhs) implements Compare, Commutative {}
    record Ne(Value lhs, Value rhs) implements Compare, Commutative {}
    record Lt(Value lhs, Value rhs) implements Compare {}
    record Le(Value lhs, Value rhs) implements Compare {}
    record Gt(Value lhs, Value rhs) implements Compare {}
    record Ge(Value lhs, Value rhs) implements Compare {}

    /// `cond ? onTrue : onFalse` elementwise; `cond` is bool.
    record Select(Value cond, Value onTrue, Value onFalse) implements Elementwise {}
    /// Converts each element to `dtype` (float to int truncates toward zero; to bool is `!= 0`).
    record Cast(Value x, DType dtype) implements Elementwise {}

    // ---- layout --------------------------------------------------------------------------
    /// Operand axis i becomes result axis `dims[i]` (size equal, or 1 and expanded); the other
    /// result axes are new (XLA's broadcast_in_dim).
    record Broadcast(Value x, Axes dims, TensorType type) implements Op {}
    /// Same elements in row-major order, another shape.
    record Reshape(Value x, TensorType type) implements Op {}
    /// Result axis i is operand axis `perm[i]`.
    record Transpose(Value x, Axes perm) implements Op {}
    /// Elements start, start+step, ... below end along `axis`.
    record Slice(Value x, int axis, int start, int end, int step) implements Op {}
    /// `low` and `high` elements equal to `value` added before and after along `axis`.
    record Pad(Value x, int axis, int low, int high, double value) implements Op {}
    record Concat(List<Value> xs, int axis) implements Op {}

    // ---- reductions ----------------------------------------------------------------------
    /// Sum over `axes` (ascending, distinct), which are removed from the shape.
    record ReduceSum(Value x, Axes axes) implements Op {}
    /// Max over `axes`, which are removed from the shape.
    record ReduceMax(Value x, Axes axes) implements Op {}
    /// Index (i64) of the first maximum along `axis`, which is removed from the shape.
    record Argmax(Value x, int axis) implements Op {}
    /// The gradient of `max = reduce_max(x, axes)` for its cotangent `g` (both x's shape without
    /// `axes`): `x`'s shape, each group's `g` shared equally among the group's elements equal to
    /// its `max` (a NaN matching a NaN `max`), 0 everywhere else; a group with no such element
    /// gets nothing. Linear in `g`.
    record ReduceMaxGrad(Value x, Value max, Value g, Axes axes) implements Op {}

    // ---- contractions --------------------------------------------------------------------
    /// `[..., M, K] x [..., K, N] -> [..., M, N]`, equal batch dims (broadcast explicitly).
    record Matmul(Value lhs, Value rhs) implements Op {}
    /// `x [N,C,H,W]`, `w [O,C/groups,KH,KW]` -> `[N,O,OH,OW]`, cross-correlation as in PyTorch.
    record Conv2d(Value x, Value w, Ints stride, Ints padding, Ints dilation, int groups) implements Op {}
    /// Gradient of conv2d with respect to its input `x` (of declared `type`), given `g` and `w`.
    record Conv2dGradInput(Value g, Value w, Ints stride, Ints padding, Ints dilation, int groups,
                           TensorType type) implements Op {}
    /// Gradient of conv2d with respect to its weight `w` (of declared `type`), given `x` and `g`.
    record Conv2dGradWeight(Value x, Value g, Ints stride, Ints padding, Ints dilation, int groups,
                            TensorType type) implements Op {}

    // ---- regions -------------------------------------------------------------------------
    /// A kernel: `body` applied to `inputs` (one body parameter per input); the result is the
    /// body's single result. Made by fusion; lowered as one unit.
    record Fused(List<Value> inputs, Graph body, String kernel) implements Op {
        public Fused { inputs = List.copyOf(inputs); }
    }
}
