package dev.kiln;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.Dim;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiFunction;

/// An n-dimensional array with PyTorch's API in camelCase. Tensors are lazy: an op records itself
/// in a graph (with the user's source line) and returns at once; values are computed when they
/// are read (`item`, `toFloatArray`, printing), by `backward`, by an optimizer step, or by
/// `Kiln.realize`, by compiling the pending graph (cached by its structure) and running it. So
/// eager code and compiled code run through one IR, one set of passes and one backend.
///
/// Elementwise ops broadcast as NumPy does and promote dtypes as PyTorch does (bool < integers <
/// floats; wider wins; `div` and float math on integers give f32). Shape and dtype errors are
/// thrown where the op is called, naming the op and both operands' shapes.
///
/// Invariant: a tensor's type never changes; in-place updates (`copy_`, optimizer steps) give it
/// a new leaf holding new values, so pending computations keep the values they were built on.
public final class Tensor {
    Node node;
    private Device device;
    private boolean requiresGrad;
    private Tensor grad;

    Tensor(Node node, Device device) {
        this.node = node;
        this.device = device;
    }

    /// A leaf holding `data` (not copied: the caller hands it over).
    Tensor(NdArray data, Device device) {
        this.device = device;
        this.node = Node.leaf(data, typeOf(data), this);
    }

    // ==== creation ===========================================================================

    /// A tensor holding a copy of `array`.
    public static Tensor of(NdArray array) { return new Tensor(array.copy(), Device.cpu()); }

    public static Tensor of(float[] data) { return fromJava(data, DType.F32); }
    public static Tensor of(float[][] data) { return fromJava(data, DType.F32); }
    public static Tensor of(float[][][] data) { return fromJava(data, DType.F32); }
    public static Tensor of(float[][][][] data) { return fromJava(data, DType.F32); }
    public static Tensor of(double[] data) { return fromJava(data, DType.F64); }
    public static Tensor of(double[][] data) { return fromJava(data, DType.F64); }
    public static Tensor of(double[][][] data) { return fromJava(data, DType.F64); }
    public static Tensor of(double[][][][] data) { return fromJava(data, DType.F64); }
    public static Tensor of(int[] data) { return fromJava(data, DType.I32); }
    public static Tensor of(int[][] data) { return fromJava(data, DType.I32); }
    public static Tensor of(int[][][] data) { return fromJava(data, DType.I32); }
    public static Tensor of(long[] data) { return fromJava(data, DType.I64); }
    public static Tensor of(long[][] data) { return fromJava(data, DType.I64); }
    public static Tensor of(long[][][] data) { return fromJava(data, DType.I64); }
    public static Tensor of(boolean[] data) { return fromJava(data, DType.BOOL); }
    public static Tensor of(boolean[][] data) { return fromJava(data, DType.BOOL); }

    /// A rank-0 tensor. `Tensor.scalar(2f)` is f32; a double gives f64, a long i64.
    public static Tensor scalar(float v) { return new Tensor(NdArray.scalar(DType.F32, v), Device.cpu()); }
    public static Tensor scalar(double v) { return new Tensor(NdArray.scalar(DType.F64, v), Device.cpu()); }
    public static Tensor scalar(long v) {
        NdArray a = NdArray.zeros(DType.I64);
        a.setLong(0, v);
        return new Tensor(a, Device.cpu());
    }
    public static Tensor scalar(boolean v) { return new Tensor(NdArray.scalar(DType.BOOL, v ? 1 : 0), Device.cpu()); }

    public static Tensor zeros(int... shape) { return full(DType.F32, 0, shape); }
    public static Tensor ones(int... shape) { return full(DType.F32, 1, shape); }
    public static Tensor zeros(DType dtype, int... shape) { return full(dtype, 0, shape); }
    public static Tensor ones(DType dtype, int... shape) { return full(dtype, 1, shape); }
    public static Tensor full(double value, int... shape) { return full(DType.F32, value, shape); }

    public static Tensor full(DType dtype, double value, int... shape) {
        NdArray a = NdArray.zeros(dtype, checkShape("full", shape));
        if (value != 0) for (int i = 0; i < a.size(); i++) a.setDouble(i, value);
        return new Tensor(a, Device.cpu());
    }

    /// Zeros of `t`'s dtype and shape, on `t`'s device.
    public static Tensor zerosLike(Tensor t) { return full(t.dtype(), 0, t.shape()).to(t.device); }
    public static Tensor onesLike(Tensor t) { return full(t.dtype(), 1, t.shape()).to(t.device); }

    /// Uniform numbers in [0, 1), f32, from the generator that `Kiln.manualSeed` seeds.
    public static Tensor rand(int... shape) {
        NdArray a = NdArray.zeros(DType.F32, checkShape("rand", shape));
        long seed = Generator.nextSeed();
        for (int i = 0; i < a.size(); i++) a.setDouble(i, Generator.uniform(seed, i));
        return new Tensor(a, Device.cpu());
    }

    /// Standard normal numbers, f32.
    public static Tensor randn(int... shape) {
        NdArray a = NdArray.zeros(DType.F32, checkShape("randn", shape));
        long seed = Generator.nextSeed();
        for (int i = 0; i < a.size(); i++) a.setDouble(i, Generator.normal(seed, i));
        return new Tensor(a, Device.cpu());
    }

    /// Uniform numbers in [low, high), f32 (what `nn.init.uniform_` fills in).
    public static Tensor uniform(double low, double high, int... shape) {
        NdArray a = NdArray.zeros(DType.F32, checkShape("uniform", shape));
        long seed = Generator.nextSeed();
        for (int i = 0; i < a.size(); i++) a.setDouble(i, low + (high - low) * Generator.uniform(seed, i));
        return new Tensor(a, Device.cpu());
    }

    /// Uniform numbers in [0, 1) of `like`'s shape (float dtype), drawn by a `random_uniform` op
    /// whose seed is an input: eager code reuses one compiled graph with a new seed each call, and
    /// a compiled model draws fresh numbers on every run.
    public static Tensor randLike(Tensor like) {
        DType dt = like.dtype().isFloat() ? like.dtype() : DType.F32;
        Tensor seed = scalar(Generator.nextSeed());
        seed.node.seed = true;
        TensorType t = like.type().withDType(dt);
        return record("random_uniform", (b, v) -> b.randomUniform(v.getFirst(), t), seed).to(like.device);
    }

    /// Uniform integers in [low, high), i64.
    public static Tensor randint(long low, long high, int... shape) {
        if (high <= low) throw new KilnException("randint: empty range [" + low + ", " + high + ")");
        NdArray a = NdArray.zeros(DType.I64, checkShape("randint", shape));
        long seed = Generator.nextSeed();
        for (int i = 0; i < a.size(); i++) a.setLong(i, low + (long) Math.floor(Generator.uniform(seed, i) * (high - low)));
        return new Tensor(a, Device.cpu());
    }

    /// 0, 1, ..., end-1 as i64.
    public static Tensor arange(long end) { return arange(0, end, 1); }
    public static Tensor arange(long start, long end) { return arange(start, end, 1); }

    public static Tensor arange(long start, long end, long step) {
        if (step == 0) throw new KilnException("arange: step must be nonzero");
        long n = Math.max(0, Math.ceilDiv(end - start, step));
        NdArray a = NdArray.zeros(DType.I64, checkShape("arange", Math.toIntExact(n)));
        for (int i = 0; i < n; i++) a.setLong(i, start + i * step);
        return new Tensor(a, Device.cpu());
    }

    /// start, start+step, ... below end, as f32.
    public static Tensor arange(double start, double end, double step) {
        if (step == 0 || Double.isNaN(step)) throw new KilnException("arange: step must be nonzero");
        long n = Math.max(0, (long) Math.ceil((end - start) / step));
        NdArray a = NdArray.zeros(DType.F32, checkShape("arange", Math.toIntExact(n)));
        for (int i = 0; i < n; i++) a.setDouble(i, start + i * step);
        return new Tensor(a, Device.cpu());
    }

    /// The n-by-n identity, f32.
    public static Tensor eye(int n) {
        NdArray a = NdArray.zeros(DType.F32, checkShape("eye", n, n));
        for (int i = 0; i < n; i++) a.setDouble(i * n + i, 1);
        return new Tensor(a, Device.cpu());
    }

    private static Tensor fromJava(Object array, DType dtype) {
        List<Integer> shape = new ArrayList<>();
        Object a = array;
        while (a != null && a.getClass().isArray()) {
            int n = Array.getLength(a);
            shape.add(n);
            if (n == 0 || !a.getClass().getComponentType().isArray()) break;
            a = Array.get(a, 0);
        }
        if (array == null) throw new KilnException("Tensor.of: the array is null");
        int[] dims = shape.stream().mapToInt(Integer::intValue).toArray();
        NdArray out = NdArray.zeros(dtype, dims);
        int[] pos = {0};
        fill(array, 0, dims, out, pos, new ArrayList<>());
        return new Tensor(out, Device.cpu());
    }

    private static void fill(Object a, int depth, int[] dims, NdArray out, int[] pos, List<Integer> path) {
        if (a == null) throw new KilnException("Tensor.of: row " + path + " is null");
        int n = Array.getLength(a);
        if (n != dims[depth])
            throw new KilnException("Tensor.of: jagged array: row " + path + " has " + n + " elements, expected "
                    + dims[depth] + " (shape " + Arrays.toString(dims) + ")");
        if (depth == dims.length - 1) {
            switch (a) {
                case float[] f -> { for (float v : f) out.setDouble(pos[0]++, v); }
                case double[] d -> { for (double v : d) out.setDouble(pos[0]++, v); }
                case int[] d -> { for (int v : d) out.setLong(pos[0]++, v); }
                case long[] d -> { for (long v : d) out.setLong(pos[0]++, v); }
                case boolean[] d -> { for (boolean v : d) out.setBool(pos[0]++, v); }
                default -> throw new IllegalStateException();
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            path.add(i);
            fill(Array.get(a, i), depth + 1, dims, out, pos, path);
            path.removeLast();
        }
    }

    private static int[] checkShape(String op, int... shape) {
        for (int d : shape)
            if (d < 0) throw new KilnException(op + ": negative dimension in shape " + Arrays.toString(shape));
        try {
            NdArray.checkedSize(shape);
        } catch (IllegalArgumentException e) {
            throw new KilnException(op + ": " + e.getMessage());
        }
        return shape;
    }

    // ==== what it is =========================================================================

    public DType dtype() { return node.type().dtype(); }

    /// The IR type, `f32[B,784]` while tracing with a symbolic batch dimension.
    public TensorType type() { return node.type(); }

    public Device device() { return device; }
    public int dim() { return node.type().rank(); }

    /// The sizes. A symbolic dimension (only while tracing) reads as the example input's size.
    public int[] shape() {
        int[] s = new int[dim()];
        for (int i = 0; i < s.length; i++) s[i] = size(i);
        return s;
    }

    /// The size of dimension `d` (negative counts from the end).
    public int size(int d) {
        Dim x = node.type().dim(axis("size", d, dim()));
        return x instanceof Dim.Fixed(long s) ? (int) s : Tracer.exampleSize(((Dim.Sym) x).name());
    }

    public long numel() {
        long n = 1;
        for (int s : shape()) n *= s;
        return n;
    }

    /// Whether a gradient flows to this tensor.
    public boolean requiresGrad() { return node.requiresGrad(); }

    boolean requiresGradFlag() { return requiresGrad; }

    /// Marks a leaf tensor as one whose gradient `backward` computes (PyTorch's `requires_grad_`).
    public Tensor requiresGrad(boolean on) {
        if (!isLeaf()) throw new KilnException("requiresGrad: only leaf tensors can change requiresGrad; use detach() "
                + "to get a leaf from the result of an op");
        if (on && !dtype().isFloat()) throw new KilnException("requiresGrad: only float tensors can require gradients, not " + dtype());
        if (node.kind != Node.Kind.LEAF || node.owner != this) node = Node.leaf(data(), type(), this); // becomes its own leaf
        requiresGrad = on;
        return this;
    }

    /// A tensor made on the host or by `detach`, or one no gradient flows to.
    public boolean isLeaf() { return node.kind == Node.Kind.LEAF && node.owner == this || !node.requiresGrad(); }

    /// The accumulated gradient of a leaf (null before the first `backward` or after `zeroGrad`).
    public Tensor grad() { return grad; }

    void setGrad(Tensor g) { grad = g; }

    /// Drops the gradient (PyTorch's `set_to_none=True` default).
    public void zeroGrad() { grad = null; }

    /// The same values without history: no gradient flows back through the result.
    public Tensor detach() {
        if (node.data != null) return new Tensor(node.data, device);
        return new Tensor(Node.detached(node), device);
    }

    /// Computes the gradient of this scalar with respect to every leaf that requires one and adds
    /// it to that leaf's `grad`.
    public void backward() { Autograd.backward(this, null); }

    /// Backward from a non-scalar with `gradient` (same shape) as the seed, as PyTorch's `backward(gradient)`.
    public void backward(Tensor gradient) { Autograd.backward(this, gradient); }

    // ==== reading values =====================================================================

    /// The values, computing them if pending. Not a copy: callers must not modify it.
    NdArray data() {
        if (node.data == null) Realizer.realize(List.of(node), device); // a traced input's descendants fail there, by name
        return node.data;
    }

    /// Whether the values are computed (false while an op is pending).
    public boolean isRealized() { return node.data != null; }

    /// A copy of the values.
    public NdArray toNdArray() { return data().copy(); }

    /// The single value as a float.
    public float item() { return (float) itemDouble(); }

    public double itemDouble() { return data().getDouble(checkOne()); }

    public long itemLong() { return data().getLong(checkOne()); }

    private int checkOne() {
        if (numel() != 1)
            throw new KilnException("item(): the tensor has " + numel() + " elements " + shapeText()
                    + "; only a one-element tensor converts to a number");
        return 0;
    }

    public float[] toFloatArray() { return (float[]) data().cast(DType.F32).data(); }
    public double[] toDoubleArray() { return (double[]) data().cast(DType.F64).data(); }
    public long[] toLongArray() { return (long[]) data().cast(DType.I64).data(); }
    public int[] toIntArray() { return (int[]) data().cast(DType.I32).data(); }
    public boolean[] toBooleanArray() { return (boolean[]) data().cast(DType.BOOL).data(); }

    /// The values as PyTorch prints them: `tensor([[1., 2.],\n        [3., 4.]])`.
    @Override public String toString() {
        if (node.data == null && Tracer.isTracing()) return "tensor(<traced " + type() + ">)";
        String suffix = "";
        if (dtype() != DType.F32 && dtype() != DType.I64 && dtype() != DType.BOOL) suffix += ", dtype=" + dtype();
        if (requiresGrad()) suffix += isLeaf() ? ", requires_grad=True" : ", grad_fn=<" + dev.kiln.ir.Ops.mnemonic(node.value.op()) + ">";
        return TensorFormat.format(data(), suffix);
    }

    // ==== placement and conversion ===========================================================

    /// This tensor on device `d` (itself when it is there already). The values are shared, not
    /// copied (tensors never change their values in place); what changes is where the ops on the
    /// result run. Gradients flow back through the move, as in PyTorch.
    public Tensor to(Device d) {
        if (d.equals(device)) return this;
        if (node.data != null && !requiresGrad()) return new Tensor(node.data, d);
        return new Tensor(node, d);
    }

    /// `to(Device.cuda())`: throws saying why when this process cannot use a GPU.
    public Tensor cuda() { return to(Device.cuda()); }

    public Tensor cpu() { return to(Device.cpu()); }

    /// Moves this tensor to `d` in place, keeping its identity, values, gradient flag and
    /// gradient: what `Module.to` does to parameters (PyTorch's `p.data = p.data.to(d)`).
    /// Only for leaves; returns this tensor.
    public Tensor to_(Device d) {
        if (d.equals(device)) return this;
        if (!isLeaf()) throw new KilnException("to_: only leaf tensors move in place; use to(device) on the result of an op");
        if (Tracer.isTracing()) throw new KilnException("to_: tensors cannot move while tracing");
        device = d;
        if (grad != null) grad = grad.to(d);
        return this;
    }

    /// The values converted to `dtype` (floats to integers truncate toward zero).
    public Tensor to(DType dtype) {
        if (dtype == dtype()) return this;
        return record("cast", (b, v) -> b.cast(v.get(0), dtype), this);
    }

    /// Makes this tensor hold `src`'s values (broadcast and converted to this tensor's type) as
    /// a new leaf, keeping its requiresGrad flag. Not recorded by autograd: the in-place update
    /// of optimizers and initializers.
    public Tensor copy_(Tensor src) {
        if (!isLeaf()) throw new KilnException("copy_: cannot overwrite a tensor that is the result of an op and requires grad");
        if (Tracer.isTracing()) throw new KilnException("copy_: in-place updates cannot be traced");
        Tensor s;
        try (var _ = Kiln.noGrad()) {
            s = src.to(dtype()).expand(shape());
        }
        node = Node.leaf(s.data(), type(), this);
        return this;
    }

    /// Replaces the values with `data` (already of this type): what optimizers and train steps do.
    void assign(NdArray data) { node = Node.leaf(data, type(), this); }

    /// Replaces the values with those of `src`, a node of the same type, pending or not.
    void assignNode(Node src) { node = src; }

    // ==== recording ops ======================================================================

    /// Records `f` applied to the values of `inputs` at the user's current line.
    static Tensor record(String op, BiFunction<Builder, List<Value>, Value> f, Tensor... inputs) {
        Loc loc = Locations.capture();
        Device d = checkDevices(op, loc, inputs);
        List<Node> nodes = new ArrayList<>(inputs.length);
        for (Tensor t : inputs) nodes.add(t.node);
        return new Tensor(Node.emit(loc, nodes, f), d);
    }

    /// Records IR ops written directly: `f` receives a builder and the inputs' values and returns
    /// the result's value. The extension point for ops the tensor methods do not cover (see
    /// `nn.Functional`); type errors are thrown at the caller's line like any other op's.
    public static Tensor emit(String op, BiFunction<Builder, List<Value>, Value> f, Tensor... inputs) {
        if (inputs.length == 0) throw new KilnException("emit('" + op + "'): needs at least one input tensor");
        return record(op, f, inputs);
    }

    /// Records an op whose result type is computed by the frontend (checks that need the loc).
    private static Tensor record(Loc loc, BiFunction<Builder, List<Value>, Value> f, Tensor... inputs) {
        List<Node> nodes = new ArrayList<>(inputs.length);
        for (Tensor t : inputs) nodes.add(t.node);
        return new Tensor(Node.emit(loc, nodes, f), checkDevices("op", loc, inputs));
    }

    // ==== elementwise ========================================================================

    private enum Bin { ADD, SUB, MUL, DIV, POW, MAX, MIN, EQ, NE, LT, LE, GT, GE, AND, OR }

    private static Value apply(Builder b, Bin k, Value x, Value y) {
        return switch (k) {
            case ADD -> b.add(x, y);
            case SUB -> b.sub(x, y);
            case MUL -> b.mul(x, y);
            case DIV -> b.div(x, y);
            case POW -> b.pow(x, y);
            case MAX -> b.max(x, y);
            case MIN -> b.min(x, y);
            case EQ -> b.eq(x, y);
            case NE -> b.ne(x, y);
            case LT -> b.lt(x, y);
            case LE -> b.le(x, y);
            case GT -> b.gt(x, y);
            case GE -> b.ge(x, y);
            case AND -> b.and(x, y);
            case OR -> b.or(x, y);
        };
    }

    private static String name(Bin k) { return k.name().toLowerCase(); }

    private Tensor binary(Bin k, Tensor other) {
        Loc loc = Locations.capture();
        checkDevices(name(k), loc, this, other);
        DType dt = operandDType(k, promote(dtype(), other.dtype()), loc, other.dtype());
        Shape shape = broadcastShapes(name(k), loc, type().shape(), other.type().shape());
        TensorType t = new TensorType(dt, shape);
        return record(loc, (b, v) -> apply(b, k, b.broadcastTo(b.cast(v.get(0), dt), t), b.broadcastTo(b.cast(v.get(1), dt), t)),
                this, other);
    }

    private Tensor binary(Bin k, double s) {
        Loc loc = Locations.capture();
        DType dt = operandDType(k, promoteScalar(dtype(), s), loc, dtype());
        TensorType t = type().withDType(dt);
        return record(loc, (b, v) -> apply(b, k, b.cast(v.get(0), dt), b.full(s, t)), this);
    }

    /// `s op this`, for subtraction, division and power with the scalar on the left.
    private Tensor binaryLeft(Bin k, double s) {
        Loc loc = Locations.capture();
        DType dt = operandDType(k, promoteScalar(dtype(), s), loc, dtype());
        TensorType t = type().withDType(dt);
        return record(loc, (b, v) -> apply(b, k, b.full(s, t), b.cast(v.get(0), dt)), this);
    }

    /// The dtype the operands are converted to before op `k`.
    private DType operandDType(Bin k, DType promoted, Loc loc, DType otherDType) {
        return switch (k) {
            case DIV -> promoted.isFloat() ? promoted : DType.F32; // true division, as PyTorch's `/`
            case AND, OR -> {
                if (dtype() != DType.BOOL || otherDType != DType.BOOL)
                    throw new IrError(loc, "'" + name(k) + "' needs bool operands, got " + dtype() + " and " + otherDType);
                yield DType.BOOL;
            }
            case EQ, NE -> promoted;
            default -> {
                if (promoted == DType.BOOL) {
                    if (k == Bin.ADD || k == Bin.MUL || k == Bin.MAX || k == Bin.MIN) yield DType.I64;
                    throw new IrError(loc, "'" + name(k) + "' is not defined on bool tensors; convert with to(DType) first");
                }
                yield promoted;
            }
        };
    }

    public Tensor add(Tensor o) { return binary(Bin.ADD, o); }
    public Tensor sub(Tensor o) { return binary(Bin.SUB, o); }
    public Tensor mul(Tensor o) { return binary(Bin.MUL, o); }
    /// True division: integer operands give f32, as PyTorch's `/`.
    public Tensor div(Tensor o) { return binary(Bin.DIV, o); }
    public Tensor pow(Tensor o) { return binary(Bin.POW, o); }
    /// Elementwise maximum.
    public Tensor maximum(Tensor o) { return binary(Bin.MAX, o); }
    public Tensor minimum(Tensor o) { return binary(Bin.MIN, o); }

    public Tensor add(double s) { return binary(Bin.ADD, s); }
    public Tensor sub(double s) { return binary(Bin.SUB, s); }
    public Tensor mul(double s) { return binary(Bin.MUL, s); }
    public Tensor div(double s) { return binary(Bin.DIV, s); }
    public Tensor pow(double s) { return binary(Bin.POW, s); }
    public Tensor maximum(double s) { return binary(Bin.MAX, s); }
    public Tensor minimum(double s) { return binary(Bin.MIN, s); }
    /// `s - this`.
    public Tensor rsub(double s) { return binaryLeft(Bin.SUB, s); }
    /// `s / this`.
    public Tensor rdiv(double s) { return binaryLeft(Bin.DIV, s); }

    public Tensor eq(Tensor o) { return binary(Bin.EQ, o); }
    public Tensor ne(Tensor o) { return binary(Bin.NE, o); }
    public Tensor lt(Tensor o) { return binary(Bin.LT, o); }
    public Tensor le(Tensor o) { return binary(Bin.LE, o); }
    public Tensor gt(Tensor o) { return binary(Bin.GT, o); }
    public Tensor ge(Tensor o) { return binary(Bin.GE, o); }
    public Tensor eq(double s) { return binary(Bin.EQ, s); }
    public Tensor ne(double s) { return binary(Bin.NE, s); }
    public Tensor lt(double s) { return binary(Bin.LT, s); }
    public Tensor le(double s) { return binary(Bin.LE, s); }
    public Tensor gt(double s) { return binary(Bin.GT, s); }
    public Tensor ge(double s) { return binary(Bin.GE, s); }
    public Tensor logicalAnd(Tensor o) { return binary(Bin.AND, o); }
    public Tensor logicalOr(Tensor o) { return binary(Bin.OR, o); }

    public Tensor logicalNot() {
        if (dtype() != DType.BOOL) return eq(0);
        return record("not", (b, v) -> b.not(v.get(0)), this);
    }

    /// `cond ? a : b` elementwise, all three broadcast together.
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        Loc loc = Locations.capture();
        checkDevices("select", loc, cond, a, b);
        if (cond.dtype() != DType.BOOL)
            throw new IrError(loc, "'where' condition has dtype " + cond.dtype() + ", expected bool (use a comparison such as lt)");
        DType dt = promote(a.dtype(), b.dtype());
        Shape s = broadcastShapes("where", loc, broadcastShapes("where", loc, cond.type().shape(), a.type().shape()), b.type().shape());
        TensorType t = new TensorType(dt, s);
        return record(loc, (bb, v) -> bb.select(bb.broadcastTo(v.get(0), t.withDType(DType.BOOL)),
                bb.broadcastTo(bb.cast(v.get(1), dt), t), bb.broadcastTo(bb.cast(v.get(2), dt), t)), cond, a, b);
    }

    public static Tensor where(Tensor cond, Tensor a, double b) { return where(cond, a, a.scalarLike(b)); }
    public static Tensor where(Tensor cond, double a, Tensor b) { return where(cond, b.scalarLike(a), b); }

    /// A rank-0 tensor holding `v` in the dtype `binary(_, v)` would use.
    private Tensor scalarLike(double v) { return new Tensor(NdArray.scalar(promoteScalar(dtype(), v), v), device); }

    private enum Un { NEG, ABS, SIGN, RELU, EXP, LOG, SQRT, TANH }

    private Tensor unary(Un k) {
        String name = k.name().toLowerCase();
        boolean floatOnly = k == Un.EXP || k == Un.LOG || k == Un.SQRT || k == Un.TANH;
        if (dtype() == DType.BOOL) throw new IrError(Locations.capture(), "'" + name + "' is not defined on bool tensors");
        DType dt = floatOnly && !dtype().isFloat() ? DType.F32 : dtype();
        return record(name, (b, v) -> {
            Value x = b.cast(v.get(0), dt);
            return switch (k) {
                case NEG -> b.neg(x);
                case ABS -> b.abs(x);
                case SIGN -> b.sign(x);
                case RELU -> b.relu(x);
                case EXP -> b.exp(x);
                case LOG -> b.log(x);
                case SQRT -> b.sqrt(x);
                case TANH -> b.tanh(x);
            };
        }, this);
    }

    public Tensor neg() { return unary(Un.NEG); }
    public Tensor abs() { return unary(Un.ABS); }
    public Tensor sign() { return unary(Un.SIGN); }
    public Tensor relu() { return unary(Un.RELU); }
    public Tensor exp() { return unary(Un.EXP); }
    public Tensor log() { return unary(Un.LOG); }
    public Tensor sqrt() { return unary(Un.SQRT); }
    public Tensor tanh() { return unary(Un.TANH); }

    /// `1 / (1 + exp(-x))`, written with `e = exp(-|x|)`, which never overflows: `1 / (1 + e)` for
    /// `x >= 0`, `e / (1 + e)` below. Values and gradients stay finite for any input (with
    /// `exp(-x)` itself, x below -88 in f32 gives an infinity and a NaN gradient).
    public Tensor sigmoid() {
        Tensor x = toFloat(), e = x.abs().neg().exp(), r = e.add(1).rdiv(1);
        return where(x.ge(0), r, e.mul(r));
    }

    public Tensor square() { return mul(this); }

    /// Limits every element to [min, max].
    public Tensor clamp(double min, double max) { return maximum(min).minimum(max); }

    private Tensor toFloat() { return dtype().isFloat() ? this : to(DType.F32); }

    // ==== reductions =========================================================================

    /// The sum of all elements (bool and i32 sum to i64, as PyTorch does).
    public Tensor sum() { return sum(allDims(), false); }
    public Tensor sum(int dim) { return sum(new int[]{dim}, false); }
    public Tensor sum(int dim, boolean keepdim) { return sum(new int[]{dim}, keepdim); }

    public Tensor sum(int[] dims, boolean keepdim) {
        Loc loc = Locations.capture();
        Axes axes = axes("sum", loc, dims);
        DType dt = dtype() == DType.BOOL || dtype() == DType.I32 ? DType.I64 : dtype();
        TensorType kept = keptType(axes);
        return record(loc, (b, v) -> keep(b, b.reduceSum(b.cast(v.get(0), dt), axes), keepdim, kept.withDType(dt)), this);
    }

    /// The mean of all elements (integers are averaged as f32).
    public Tensor mean() { return mean(allDims(), false); }
    public Tensor mean(int dim) { return mean(new int[]{dim}, false); }
    public Tensor mean(int dim, boolean keepdim) { return mean(new int[]{dim}, keepdim); }

    public Tensor mean(int[] dims, boolean keepdim) {
        Loc loc = Locations.capture();
        Axes axes = axes("mean", loc, dims);
        DType dt = dtype().isFloat() ? dtype() : DType.F32;
        TensorType kept = keptType(axes).withDType(dt);
        List<Dim> reduced = new ArrayList<>();
        for (int a : axes.values()) reduced.add(type().dim(a));
        return record(loc, (b, v) -> {
            Value s = keep(b, b.reduceSum(b.cast(v.get(0), dt), axes), keepdim, kept);
            return b.div(s, count(b, reduced, s.type()));
        }, this);
    }

    /// The number of elements of the dimensions `dims`, as a constant of type `t`; computed in the
    /// graph (a sum of ones) when a dimension is symbolic.
    static Value count(Builder b, List<Dim> dims, TensorType t) {
        long fixed = 1;
        List<Dim> symbolic = new ArrayList<>();
        for (Dim d : dims) {
            if (d instanceof Dim.Fixed(long s)) fixed *= s;
            else symbolic.add(d);
        }
        Value n = b.full(fixed, t);
        if (symbolic.isEmpty()) return n;
        Value ones = b.full(1, new TensorType(t.dtype(), new Shape(symbolic)));
        Value c = b.reduceSum(ones, Axes.range(symbolic.size()));
        return b.mul(n, b.broadcast(c, Axes.of(), t));
    }

    /// The largest element.
    public Tensor max() {
        Loc loc = Locations.capture();
        Axes axes = axes("max", loc, allDims());
        checkNonEmpty("max", loc);
        return record(loc, (b, v) -> b.reduceMax(v.get(0), axes), this);
    }

    /// The largest elements along `dim` (PyTorch's `max(dim).values`).
    public Tensor max(int dim) { return max(dim, false); }

    public Tensor max(int dim, boolean keepdim) {
        Loc loc = Locations.capture();
        Axes axes = axes("max", loc, new int[]{dim});
        checkNonEmpty("max", loc);
        TensorType kept = keptType(axes);
        return record(loc, (b, v) -> keep(b, b.reduceMax(v.get(0), axes), keepdim, kept), this);
    }

    public Tensor min() { return neg().max().neg(); }
    public Tensor min(int dim) { return neg().max(dim).neg(); }
    public Tensor min(int dim, boolean keepdim) { return neg().max(dim, keepdim).neg(); }

    /// The index of the largest element of the flattened tensor, i64.
    public Tensor argmax() { return reshape(-1).argmax(0); }
    public Tensor argmax(int dim) { return argmax(dim, false); }

    /// Indices (i64) of the first largest elements along `dim`.
    public Tensor argmax(int dim, boolean keepdim) {
        Loc loc = Locations.capture();
        int a = axis("argmax", dim, dim(), loc);
        checkNonEmpty("argmax", loc);
        TensorType kept = keptType(Axes.of(a)).withDType(DType.I64);
        return record(loc, (b, v) -> keep(b, b.argmax(v.get(0), a), keepdim, kept), this);
    }

    public Tensor argmin(int dim) { return neg().argmax(dim); }
    public Tensor argmin(int dim, boolean keepdim) { return neg().argmax(dim, keepdim); }

    /// `log(sum(exp(x), dim))`, computed stably.
    public Tensor logSumExp(int dim, boolean keepdim) {
        Tensor x = toFloat();
        Tensor m = x.max(dim, true);
        Tensor s = x.sub(m).exp().sum(dim, true).log().add(m);
        return keepdim ? s : s.squeeze(dim);
    }

    public Tensor softmax(int dim) {
        Tensor x = toFloat();
        Tensor e = x.sub(x.max(dim, true)).exp();
        return e.div(e.sum(dim, true));
    }

    public Tensor logSoftmax(int dim) {
        Tensor x = toFloat();
        Tensor shifted = x.sub(x.max(dim, true));
        return shifted.sub(shifted.exp().sum(dim, true).log());
    }

    private int[] allDims() {
        int[] d = new int[dim()];
        for (int i = 0; i < d.length; i++) d[i] = i;
        return d;
    }

    private void checkNonEmpty(String op, Loc loc) {
        for (Dim d : type().shape().dims())
            if (d.equals(Dim.of(0))) throw new IrError(loc, "'" + op + "' of an empty tensor " + type().shape());
    }

    private Axes axes(String op, Loc loc, int[] dims) {
        int r = dim();
        boolean[] seen = new boolean[r];
        for (int d : dims) {
            int a = axis(op, d, r, loc);
            if (seen[a]) throw new IrError(loc, "'" + op + "' dim " + d + " appears twice in " + Arrays.toString(dims));
            seen[a] = true;
        }
        List<Integer> l = new ArrayList<>();
        for (int a = 0; a < r; a++) if (seen[a]) l.add(a);
        return new Axes(l);
    }

    /// This type with the `axes` set to size 1.
    private TensorType keptType(Axes axes) {
        Shape s = type().shape();
        for (int a : axes.values()) s = s.with(a, Dim.of(1));
        return type().withShape(s);
    }

    private static Value keep(Builder b, Value reduced, boolean keepdim, TensorType kept) {
        return keepdim ? b.reshape(reduced, kept.withDType(reduced.type().dtype())) : reduced;
    }

    // ==== linear algebra =====================================================================

    /// Matrix product with PyTorch's rules: 1-D operands are promoted to a row (left) or column
    /// (right) and the added axis removed afterwards; batch dimensions broadcast.
    public Tensor matmul(Tensor o) {
        Loc loc = Locations.capture();
        checkDevices("matmul", loc, this, o);
        TensorType a = type(), bt = o.type();
        if (a.rank() == 0 || bt.rank() == 0)
            throw new IrError(loc, "'matmul' operands must have at least one dimension, got " + a.shape() + " and " + bt.shape());
        DType dt = promote(a.dtype(), bt.dtype());
        if (dt == DType.BOOL) throw new IrError(loc, "'matmul' is not defined on bool tensors");
        Dim k0 = a.dim(a.rank() - 1), k1 = bt.rank() == 1 ? bt.dim(0) : bt.dim(bt.rank() - 2);
        if (!k0.equals(k1))
            throw new IrError(loc, "'matmul' operand #1 has shape " + bt.shape() + ", incompatible with operand #0 " + a.shape());
        List<Dim> am = a.rank() == 1 ? List.of(Dim.of(1), a.dim(0)) : a.shape().dims().subList(a.rank() - 2, a.rank());
        List<Dim> bm = bt.rank() == 1 ? List.of(bt.dim(0), Dim.of(1)) : bt.shape().dims().subList(bt.rank() - 2, bt.rank());
        Shape batch = broadcastShapes("matmul", loc, new Shape(a.rank() > 2 ? a.shape().dims().subList(0, a.rank() - 2) : List.of()),
                new Shape(bt.rank() > 2 ? bt.shape().dims().subList(0, bt.rank() - 2) : List.of()));
        List<Dim> out = new ArrayList<>(batch.dims());
        if (a.rank() > 1) out.add(am.get(0));
        if (bt.rank() > 1) out.add(bm.get(1));
        TensorType ta = new TensorType(dt, concat(batch, am)), tb = new TensorType(dt, concat(batch, bm));
        TensorType result = new TensorType(dt, new Shape(out));
        return record(loc, (b, v) -> {
            Value x = b.cast(v.get(0), dt), y = b.cast(v.get(1), dt);
            if (x.type().rank() == 1) x = b.reshape(x, new TensorType(dt, new Shape(am)));
            if (y.type().rank() == 1) y = b.reshape(y, new TensorType(dt, new Shape(bm)));
            Value m = b.matmul(b.broadcastTo(x, ta), b.broadcastTo(y, tb));
            return m.type().equals(result) ? m : b.reshape(m, result);
        }, this, o);
    }

    private static Shape concat(Shape a, List<Dim> b) {
        List<Dim> l = new ArrayList<>(a.dims());
        l.addAll(b);
        return new Shape(l);
    }

    // ==== layout =============================================================================

    /// The same elements with another shape; one size may be -1 (inferred).
    public Tensor view(int... shape) { return reshape("view", shape); }

    public Tensor reshape(int... shape) { return reshape("reshape", shape); }

    private Tensor reshape(String op, int[] sizes) {
        Loc loc = Locations.capture();
        Shape target = Tracer.reshapeTarget(op, loc, type().shape(), sizes);
        if (target.equals(type().shape())) return this;
        TensorType t = type().withShape(target);
        return record(loc, (b, v) -> b.reshape(v.get(0), t), this);
    }

    /// Merges dimensions `start..end` (inclusive) into one.
    public Tensor flatten(int start, int end) {
        Loc loc = Locations.capture();
        int r = dim();
        if (r == 0) return reshape(1);
        int s = axis("flatten", start, r, loc), e = axis("flatten", end, r, loc);
        if (s > e) throw new IrError(loc, "'flatten' start dim " + start + " comes after end dim " + end);
        int[] sizes = new int[r - (e - s)];
        int k = 0;
        for (int i = 0; i < s; i++) sizes[k++] = size(i);
        sizes[k++] = -1;
        for (int i = e + 1; i < r; i++) sizes[k++] = size(i);
        return reshape("flatten", sizes);
    }

    public Tensor flatten() { return flatten(0, -1); }
    public Tensor flatten(int start) { return flatten(start, -1); }

    /// Result dimension i is dimension `dims[i]` of this tensor.
    public Tensor permute(int... dims) {
        Loc loc = Locations.capture();
        int r = dim();
        if (dims.length != r) throw new IrError(loc, "'permute' needs " + r + " dims for shape " + type().shape() + ", got " + Arrays.toString(dims));
        int[] p = new int[r];
        boolean[] seen = new boolean[r];
        for (int i = 0; i < r; i++) {
            p[i] = axis("permute", dims[i], r, loc);
            if (seen[p[i]]) throw new IrError(loc, "'permute' dims " + Arrays.toString(dims) + " repeat a dimension");
            seen[p[i]] = true;
        }
        boolean identity = true;
        for (int i = 0; i < r; i++) identity &= p[i] == i;
        if (identity) return this;
        return record(loc, (b, v) -> b.transpose(v.get(0), Axes.of(p)), this);
    }

    /// Swaps two dimensions.
    public Tensor transpose(int d0, int d1) {
        Loc loc = Locations.capture();
        int r = dim(), a = axis("transpose", d0, r, loc), c = axis("transpose", d1, r, loc);
        int[] p = new int[r];
        for (int i = 0; i < r; i++) p[i] = i;
        p[a] = c;
        p[c] = a;
        return permute(p);
    }

    /// The transpose of a matrix (a vector stays as it is).
    public Tensor t() {
        if (dim() > 2) throw new IrError(Locations.capture(), "'t' expects a tensor of at most 2 dimensions, got " + type().shape());
        return dim() < 2 ? this : transpose(0, 1);
    }

    /// Inserts a dimension of size 1 at `d`.
    public Tensor unsqueeze(int d) {
        Loc loc = Locations.capture();
        int a = axis("unsqueeze", d, dim() + 1, loc);
        List<Dim> dims = new ArrayList<>(type().shape().dims());
        dims.add(a, Dim.of(1));
        TensorType t = type().withShape(new Shape(dims));
        return record(loc, (b, v) -> b.reshape(v.get(0), t), this);
    }

    /// Removes every dimension of size 1.
    public Tensor squeeze() {
        List<Dim> dims = new ArrayList<>();
        for (Dim x : type().shape().dims()) if (!x.equals(Dim.of(1))) dims.add(x);
        if (dims.size() == dim()) return this;
        TensorType t = type().withShape(new Shape(dims));
        return record("reshape", (b, v) -> b.reshape(v.get(0), t), this);
    }

    /// Removes dimension `d` if its size is 1.
    public Tensor squeeze(int d) {
        Loc loc = Locations.capture();
        int a = axis("squeeze", d, dim(), loc);
        if (!type().dim(a).equals(Dim.of(1))) return this;
        TensorType t = type().withShape(type().shape().without(Axes.of(a)));
        return record(loc, (b, v) -> b.reshape(v.get(0), t), this);
    }

    /// This tensor broadcast to `shape` (NumPy rules; -1 keeps a size).
    public Tensor expand(int... shape) {
        Loc loc = Locations.capture();
        int off = shape.length - dim();
        if (off < 0) throw new IrError(loc, "'expand' cannot expand " + type().shape() + " to fewer dimensions " + Arrays.toString(shape));
        List<Dim> dims = new ArrayList<>();
        for (int i = 0; i < shape.length; i++)
            dims.add(shape[i] == -1 && i >= off ? type().dim(i - off) : Dim.of(shape[i]));
        Shape target = new Shape(dims);
        Shape s = broadcastShapes("expand", loc, type().shape(), target);
        if (!s.equals(target)) throw new IrError(loc, "'expand' cannot expand " + type().shape() + " to " + target);
        if (target.equals(type().shape())) return this;
        TensorType t = type().withShape(target);
        return record(loc, (b, v) -> b.broadcastTo(v.get(0), t), this);
    }

    // ==== indexing ===========================================================================

    /// Elements `from` to `to` (exclusive) of dimension `dim`: `t[:, from:to]` for dim 1. Negative
    /// bounds count from the end and out-of-range bounds clamp, as in Python.
    public Tensor slice(int dim, int from, int to) { return slice(dim, from, to, 1); }

    public Tensor slice(int dim, int from, int to, int step) {
        Loc loc = Locations.capture();
        int a = axis("slice", dim, dim(), loc);
        if (step < 1) throw new IrError(loc, "'slice' step must be positive, got " + step);
        Dim d = type().dim(a);
        if (!d.isFixed()) throw new IrError(loc, "'slice' of the symbolic dimension " + d + " is not supported");
        int n = (int) d.size();
        int s = clampIndex(from, n), e = clampIndex(to, n);
        if (e < s) e = s;
        if (s == 0 && e == n && step == 1) return this;
        int fs = s, fe = e;
        return record(loc, (b, v) -> b.slice(v.get(0), a, fs, fe, step), this);
    }

    private static int clampIndex(int i, int n) {
        if (i < 0) i += n;
        return Math.max(0, Math.min(n, i));
    }

    /// Element `index` along `dim`, with that dimension removed (`t[:, 2]` for dim 1).
    public Tensor select(int dim, int index) {
        Loc loc = Locations.capture();
        int a = axis("select", dim, dim(), loc);
        Dim d = type().dim(a);
        if (!d.isFixed()) throw new IrError(loc, "'select' on the symbolic dimension " + d + " is not supported");
        int n = (int) d.size(), i = index < 0 ? index + n : index;
        if (i < 0 || i >= n)
            throw new IrError(loc, "'select' index " + index + " is out of range for dimension " + dim + " of size " + n
                    + " (shape " + type().shape() + ")");
        TensorType t = type().withShape(type().shape().without(Axes.of(a)));
        return record(loc, (b, v) -> b.reshape(b.slice(v.get(0), a, i, i + 1, 1), t), this);
    }

    /// NumPy-style indexing from a string: `t.get(":, 1:3")`, `t.get("0")`, `t.get("..., ::2")`,
    /// `t.get("-1, :")`. Integers remove their dimension; slices keep it.
    public Tensor get(String index) { return Indexing.apply(this, index); }

    /// The element at `indices` as a rank-0 tensor.
    public Tensor get(int... indices) {
        Tensor t = this;
        if (indices.length > dim())
            throw new IrError(Locations.capture(), "'get' has " + indices.length + " indices for a tensor of shape " + type().shape());
        for (int i = 0; i < indices.length; i++) t = t.select(0, indices[i]);
        return t;
    }

    /// Concatenates tensors of one dtype along `dim`.
    public static Tensor cat(List<Tensor> ts, int dim) {
        Loc loc = Locations.capture();
        if (ts.isEmpty()) throw new KilnException(loc, "cat: needs at least one tensor");
        Tensor first = ts.getFirst();
        int a = axis("cat", dim, first.dim(), loc);
        DType dt = first.dtype();
        for (Tensor t : ts) dt = promote(dt, t.dtype());
        DType fdt = dt;
        checkDevices("concat", loc, ts.toArray(Tensor[]::new));
        return record(loc, (b, v) -> b.concat(v.stream().map(x -> b.cast(x, fdt)).toList(), a), ts.toArray(Tensor[]::new));
    }

    /// Stacks tensors of one shape along a new dimension `dim`.
    public static Tensor stack(List<Tensor> ts, int dim) {
        if (ts.isEmpty()) throw new KilnException("stack: needs at least one tensor");
        List<Tensor> u = new ArrayList<>();
        for (Tensor t : ts) u.add(t.unsqueeze(dim < 0 ? dim + t.dim() + 1 : dim));
        return cat(u, dim < 0 ? dim + ts.getFirst().dim() + 1 : dim);
    }

    // ==== helpers ============================================================================

    static int axis(String op, int d, int rank, Loc loc) {
        int a = d < 0 ? d + rank : d;
        if (a < 0 || a >= rank)
            throw new IrError(loc, "'" + op + "' dim " + d + " is out of range for a tensor of " + rank
                    + (rank == 1 ? " dimension" : " dimensions"));
        return a;
    }

    private static int axis(String op, int d, int rank) { return axis(op, d, rank, Locations.capture()); }

    /// The device an op on `ts` runs on: the one they all share, where a one-element CPU tensor of
    /// rank 0 (a Java number made a tensor) goes with any device, as in PyTorch. Throws naming
    /// the op, both devices and the user's line when two operands are on different devices.
    private static Device checkDevices(String op, Loc loc, Tensor... ts) {
        int first = -1;
        for (int i = 0; i < ts.length; i++) {
            if (ts[i].device.kind() == Device.Kind.CPU && ts[i].dim() == 0) continue;
            if (first < 0) first = i;
            else if (!ts[i].device.equals(ts[first].device))
                throw new KilnException(loc, "'" + op + "' operand #" + i + " is on " + ts[i].device + ", operand #" + first + " is on "
                        + ts[first].device + " (move them to one device with to(device))");
        }
        return first < 0 ? ts[0].device : ts[first].device;
    }

    /// NumPy broadcasting of two shapes; throws naming the op and both shapes.
    static Shape broadcastShapes(String op, Loc loc, Shape a, Shape b) {
        int r = Math.max(a.rank(), b.rank());
        List<Dim> out = new ArrayList<>();
        for (int i = 0; i < r; i++) {
            int ia = i - (r - a.rank()), ib = i - (r - b.rank());
            Dim da = ia < 0 ? Dim.of(1) : a.dim(ia), db = ib < 0 ? Dim.of(1) : b.dim(ib);
            if (da.equals(db) || db.equals(Dim.of(1))) out.add(da);
            else if (da.equals(Dim.of(1))) out.add(db);
            else throw new IrError(loc, "'" + op + "' operand #1 has shape " + b + ", incompatible with operand #0 " + a
                        + " (sizes " + da + " and " + db + " at dimension " + i + " do not broadcast)");
        }
        return new Shape(out);
    }

    /// PyTorch's type promotion: bool < integers < floats; within a kind the wider type wins.
    static DType promote(DType a, DType b) {
        if (a == b) return a;
        int ka = kind(a), kb = kind(b);
        if (ka != kb) return ka > kb ? a : b;
        if (ka == 2 && a.byteSize() == 2 && b.byteSize() == 2) return DType.F32; // f16 with bf16
        return a.byteSize() >= b.byteSize() ? a : b;
    }

    private static int kind(DType d) { return d == DType.BOOL ? 0 : d.isInteger() ? 1 : 2; }

    /// The dtype of `tensor op scalar`: the tensor's, unless the scalar needs a wider kind.
    static DType promoteScalar(DType t, double s) {
        boolean integral = s == Math.rint(s) && !Double.isInfinite(s);
        if (t.isFloat()) return t;
        if (!integral) return DType.F32;
        if (t == DType.BOOL && s != 0 && s != 1) return DType.I64;
        return t;
    }

    static TensorType typeOf(NdArray a) {
        int[] s = a.shape();
        long[] l = new long[s.length];
        for (int i = 0; i < s.length; i++) l[i] = s[i];
        return new TensorType(a.dtype(), Shape.of(l));
    }

    String shapeText() { return type().shape().toString(); }
}
