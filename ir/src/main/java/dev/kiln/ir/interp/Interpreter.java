package dev.kiln.ir.interp;

import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Op;
import dev.kiln.ir.Op.*;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Rng;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/// The reference interpreter: evaluates a graph on concrete inputs, one op at a time, with plain
/// loops. It is the oracle every pass and backend is checked against, so it is written to be
/// obviously right, not fast. Float math is done in double and rounded to the value's dtype
/// once per op (sums and dot products accumulate in double), so f64 graphs are exact enough
/// for finite-difference gradient checks. Integer math wraps like Java's; integer division
/// truncates toward zero and gives 0 for a zero divisor.
public final class Interpreter {
    private final Map<String, Integer> bindings;
    private final Map<Value, NdArray> env = new IdentityHashMap<>();

    private Interpreter(Map<String, Integer> bindings) { this.bindings = bindings; }

    /// Runs `g` on inputs given by parameter name (every parameter must be given).
    public static List<NdArray> run(Graph g, Map<String, NdArray> inputs) {
        List<NdArray> list = new ArrayList<>();
        for (String name : g.paramNames()) {
            NdArray a = inputs.get(name);
            if (a == null) throw new IrError("graph @" + g.name() + ": no value given for parameter '%" + name + "'");
            list.add(a);
        }
        for (String name : inputs.keySet())
            if (g.param(name) == null) throw new IrError("graph @" + g.name() + " has no parameter '%" + name + "'");
        return run(g, list);
    }

    /// Runs `g` on inputs in parameter order; binds dimension symbols from the inputs' shapes.
    public static List<NdArray> run(Graph g, List<NdArray> inputs) {
        if (inputs.size() != g.params().size())
            throw new IrError("graph @" + g.name() + " takes " + g.params().size() + " inputs, given " + inputs.size());
        Map<String, Integer> bindings = bind(g, inputs);
        return new Interpreter(bindings).eval(g, inputs);
    }

    /// The sizes of the graph's dimension symbols implied by `inputs`; throws IrError naming the
    /// parameter whose dtype, rank or size does not fit.
    public static Map<String, Integer> bind(Graph g, List<NdArray> inputs) {
        Map<String, Integer> bindings = new HashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            Value p = g.params().get(i);
            String name = ((Param) p.op()).name();
            TensorType t = p.type();
            NdArray a = inputs.get(i);
            String given = a.dtype() + java.util.Arrays.toString(a.shape()).replace(" ", "");
            if (a.dtype() != t.dtype() || a.rank() != t.rank())
                throw new IrError("input '%" + name + "' is " + given + ", expected " + t);
            for (int d = 0; d < t.rank(); d++) {
                Dim dim = t.dim(d);
                int size = a.dim(d);
                if (dim instanceof Dim.Fixed(long s) && s != size)
                    throw new IrError("input '%" + name + "' is " + given + ", expected " + t);
                if (dim instanceof Dim.Sym(String sym)) {
                    Integer old = bindings.putIfAbsent(sym, size);
                    if (old != null && old != size)
                        throw new IrError("input '%" + name + "' is " + given + ", but " + sym + " = " + old
                                + " from an earlier input (expected " + t + ")");
                }
            }
        }
        return bindings;
    }

    private List<NdArray> eval(Graph g, List<NdArray> inputs) {
        for (int i = 0; i < inputs.size(); i++) env.put(g.params().get(i), inputs.get(i));
        for (Value v : g.body()) {
            try {
                env.put(v, eval(v));
            } catch (IrError e) {
                throw e.at(v.loc());
            }
        }
        List<NdArray> out = new ArrayList<>();
        for (Value r : g.results()) out.add(env.get(r));
        return out;
    }

    private NdArray in(Value v) { return env.get(v); }

    private NdArray alloc(Value v) { return NdArray.zeros(v.type().dtype(), shapeOf(v.type())); }

    private int[] shapeOf(TensorType t) {
        try {
            return t.shape().resolve(bindings);
        } catch (IllegalArgumentException e) {
            throw new IrError(e.getMessage());
        }
    }

    private NdArray eval(Value v) {
        Op op = v.op();
        NdArray out = switch (op) {
            case Param p -> throw new IrError("parameter '%" + p.name() + "' in a graph body");
            case Const c -> {
                NdArray o = alloc(v);
                for (int i = 0; i < o.size(); i++) o.setDouble(i, c.value());
                yield o;
            }
            case Dense d -> d.data().toArray();
            case Iota io -> {
                NdArray o = alloc(v);
                int[] shape = o.shape();
                int inner = 1;
                for (int a = io.axis() + 1; a < shape.length; a++) inner *= shape[a];
                for (int i = 0; i < o.size(); i++) o.setLong(i, (i / inner) % shape[io.axis()]);
                yield o;
            }
            case RandomUniform r -> {
                NdArray o = alloc(v);
                long seed = in(r.seed()).getLong(0);
                for (int i = 0; i < o.size(); i++) o.setDouble(i, Rng.uniform(seed, i));
                yield o;
            }
            case Unary u -> unary(v, u);
            case Binary b -> binary(v, b);
            case Select s -> {
                NdArray c = in(s.cond()), t = in(s.onTrue()), f = in(s.onFalse()), o = alloc(v);
                for (int i = 0; i < o.size(); i++) copyElement(c.getBool(i) ? t : f, i, o, i);
                yield o;
            }
            case Cast c -> in(c.x()).cast(c.dtype());
            case Broadcast b -> {
                NdArray x = in(b.x()), o = alloc(v);
                int[] os = o.shape(), xs = x.shape(), xStrides = strides(xs);
                int[] idx = new int[os.length];
                for (int i = 0; i < o.size(); i++, next(idx, os)) {
                    int xi = 0;
                    for (int a = 0; a < xs.length; a++) if (xs[a] != 1) xi += idx[b.dims().get(a)] * xStrides[a];
                    copyElement(x, xi, o, i);
                }
                yield o;
            }
            case Reshape r -> in(r.x()).copy().reshape(shapeOf(v.type()));
            case Transpose t -> {
                NdArray x = in(t.x()), o = alloc(v);
                int[] os = o.shape(), xStrides = strides(x.shape()), idx = new int[os.length];
                for (int i = 0; i < o.size(); i++, next(idx, os)) {
                    int xi = 0;
                    for (int a = 0; a < os.length; a++) xi += idx[a] * xStrides[t.perm().get(a)];
                    copyElement(x, xi, o, i);
                }
                yield o;
            }
            case Slice s -> {
                NdArray x = in(s.x()), o = alloc(v);
                int[] os = o.shape(), xStrides = strides(x.shape()), idx = new int[os.length];
                for (int i = 0; i < o.size(); i++, next(idx, os)) {
                    int xi = 0;
                    for (int a = 0; a < os.length; a++)
                        xi += (a == s.axis() ? s.start() + idx[a] * s.step() : idx[a]) * xStrides[a];
                    copyElement(x, xi, o, i);
                }
                yield o;
            }
            case Pad p -> {
                NdArray x = in(p.x()), o = alloc(v);
                int[] os = o.shape(), xs = x.shape(), xStrides = strides(xs), idx = new int[os.length];
                for (int i = 0; i < o.size(); i++, next(idx, os)) {
                    int k = idx[p.axis()] - p.low();
                    if (k < 0 || k >= xs[p.axis()]) { o.setDouble(i, p.value()); continue; }
                    int xi = 0;
                    for (int a = 0; a < os.length; a++) xi += (a == p.axis() ? k : idx[a]) * xStrides[a];
                    copyElement(x, xi, o, i);
                }
                yield o;
            }
            case Concat c -> {
                NdArray o = alloc(v);
                int[] os = o.shape(), idx = new int[os.length];
                int[] starts = new int[c.xs().size() + 1];
                for (int k = 0; k < c.xs().size(); k++) starts[k + 1] = starts[k] + in(c.xs().get(k)).dim(c.axis());
                for (int i = 0; i < o.size(); i++, next(idx, os)) {
                    int k = 0;
                    while (idx[c.axis()] >= starts[k + 1]) k++;
                    NdArray x = in(c.xs().get(k));
                    int[] xStrides = strides(x.shape());
                    int xi = 0;
                    for (int a = 0; a < os.length; a++) xi += (a == c.axis() ? idx[a] - starts[k] : idx[a]) * xStrides[a];
                    copyElement(x, xi, o, i);
                }
                yield o;
            }
            case ReduceSum r -> reduce(v, in(r.x()), r.axes().toArray(), false);
            case ReduceMax r -> reduce(v, in(r.x()), r.axes().toArray(), true);
            case Argmax a -> argmax(v, in(a.x()), a.axis());
            case ReduceMaxGrad r -> reduceMaxGrad(v, in(r.x()), in(r.max()), in(r.g()), r.axes().toArray());
            case Matmul m -> matmul(v, in(m.lhs()), in(m.rhs()));
            case Conv2d c -> conv(Conv.FORWARD, in(c.x()), in(c.w()), alloc(v), c.stride(), c.padding(), c.dilation(), c.groups());
            case Conv2dGradInput c -> conv(Conv.GRAD_INPUT, alloc(v), in(c.w()), in(c.g()), c.stride(), c.padding(), c.dilation(), c.groups());
            case Conv2dGradWeight c -> conv(Conv.GRAD_WEIGHT, in(c.x()), alloc(v), in(c.g()), c.stride(), c.padding(), c.dilation(), c.groups());
            case Fused f -> {
                List<NdArray> args = new ArrayList<>();
                for (Value x : f.inputs()) args.add(in(x));
                yield new Interpreter(bindings).eval(f.body(), args).getFirst();
            }
        };
        return out;
    }

    // ---- elementwise ---------------------------------------------------------------------

    private NdArray unary(Value v, Unary u) {
        NdArray x = in(u.x()), o = alloc(v);
        DType d = x.dtype();
        for (int i = 0; i < o.size(); i++) {
            if (u instanceof Not) { o.setBool(i, !x.getBool(i)); continue; }
            if (d.isInteger()) {
                long a = x.getLong(i);
                o.setLong(i, switch (u) {
                    case Neg _ -> -a;
                    case Abs _ -> Math.abs(a);
                    case Sign _ -> Long.signum(a);
                    case Relu _ -> Math.max(a, 0);
                    default -> throw new IrError("'" + dev.kiln.ir.Ops.mnemonic(u) + "' on " + d);
                });
                continue;
            }
            double a = x.getDouble(i);
            o.setDouble(i, switch (u) {
                case Neg _ -> -a;
                case Abs _ -> Math.abs(a);
                case Sign _ -> Math.signum(a);
                case Relu _ -> a > 0 ? a : (Double.isNaN(a) ? a : 0.0);
                case Exp _ -> Math.exp(a);
                case Log _ -> Math.log(a);
                case Sqrt _ -> Math.sqrt(a);
                case Tanh _ -> Math.tanh(a);
                case Not _ -> throw new IllegalStateException();
            });
        }
        return o;
    }

    private NdArray binary(Value v, Binary b) {
        NdArray x = in(b.lhs()), y = in(b.rhs()), o = alloc(v);
        DType d = x.dtype();
        for (int i = 0; i < o.size(); i++) {
            if (b instanceof Compare) {
                int c = d.isFloat() ? 0 : Long.compare(x.getLong(i), y.getLong(i));
                double p = x.getDouble(i), q = y.getDouble(i);
                o.setBool(i, switch (b) {
                    case Eq _ -> d.isFloat() ? p == q : c == 0;
                    case Ne _ -> d.isFloat() ? p != q : c != 0;
                    case Lt _ -> d.isFloat() ? p < q : c < 0;
                    case Le _ -> d.isFloat() ? p <= q : c <= 0;
                    case Gt _ -> d.isFloat() ? p > q : c > 0;
                    case Ge _ -> d.isFloat() ? p >= q : c >= 0;
                    default -> throw new IllegalStateException();
                });
            } else if (d == DType.BOOL) {
                boolean p = x.getBool(i), q = y.getBool(i);
                o.setBool(i, switch (b) {
                    case And _ -> p && q;
                    case Or _ -> p || q;
                    default -> throw new IrError("'" + dev.kiln.ir.Ops.mnemonic(b) + "' on bool");
                });
            } else if (d.isInteger()) {
                long p = x.getLong(i), q = y.getLong(i);
                o.setLong(i, switch (b) {
                    case Add _ -> p + q;
                    case Sub _ -> p - q;
                    case Mul _ -> p * q;
                    case Div _ -> q == 0 ? 0 : p / q;
                    case Pow _ -> (long) Math.pow(p, q);
                    case Max _ -> Math.max(p, q);
                    case Min _ -> Math.min(p, q);
                    default -> throw new IrError("'" + dev.kiln.ir.Ops.mnemonic(b) + "' on " + d);
                });
            } else {
                double p = x.getDouble(i), q = y.getDouble(i);
                o.setDouble(i, switch (b) {
                    case Add _ -> p + q;
                    case Sub _ -> p - q;
                    case Mul _ -> p * q;
                    case Div _ -> p / q;
                    case Pow _ -> Math.pow(p, q);
                    case Max _ -> Math.max(p, q);
                    case Min _ -> Math.min(p, q);
                    default -> throw new IrError("'" + dev.kiln.ir.Ops.mnemonic(b) + "' on " + d);
                });
            }
        }
        return o;
    }

    /// Copies one element without a detour through double, so i64 values stay exact.
    private static void copyElement(NdArray from, int i, NdArray to, int j) {
        if (from.dtype().isInteger()) to.setLong(j, from.getLong(i));
        else to.setDouble(j, from.getDouble(i));
    }

    // ---- reductions ----------------------------------------------------------------------

    private NdArray reduce(Value v, NdArray x, int[] axes, boolean max) {
        NdArray o = alloc(v);
        int[] xs = x.shape(), oStrides = strides(o.shape()), idx = new int[xs.length];
        boolean[] reduced = new boolean[xs.length];
        for (int a : axes) reduced[a] = true;
        boolean integer = x.dtype().isInteger();
        double[] accD = new double[o.size()];
        long[] accL = new long[o.size()];
        java.util.Arrays.fill(accD, max ? Double.NEGATIVE_INFINITY : 0);
        java.util.Arrays.fill(accL, max ? Long.MIN_VALUE : 0);
        for (int i = 0; i < x.size(); i++, next(idx, xs)) {
            int oi = 0, k = 0;
            for (int a = 0; a < xs.length; a++) if (!reduced[a]) oi += idx[a] * oStrides[k++];
            if (integer) {
                long e = x.getLong(i);
                accL[oi] = max ? Math.max(accL[oi], e) : accL[oi] + e;
            } else {
                double e = x.getDouble(i);
                accD[oi] = max ? Math.max(accD[oi], e) : accD[oi] + e;
            }
        }
        for (int i = 0; i < o.size(); i++) {
            if (integer) o.setLong(i, accL[i]); else o.setDouble(i, accD[i]);
        }
        return o;
    }

    /// Each group's cotangent shared among its elements equal to its max (a NaN matching a
    /// NaN), zeros elsewhere: one pass counts them, a second writes the shares.
    private NdArray reduceMaxGrad(Value v, NdArray x, NdArray max, NdArray g, int[] axes) {
        NdArray o = alloc(v);
        int[] xs = x.shape(), gStrides = strides(g.shape()), group = new int[x.size()], idx = new int[xs.length];
        boolean[] reduced = new boolean[xs.length], hit = new boolean[x.size()];
        for (int a : axes) reduced[a] = true;
        int[] count = new int[g.size()];
        for (int i = 0; i < x.size(); i++, next(idx, xs)) {
            int gi = 0, k = 0;
            for (int a = 0; a < xs.length; a++) if (!reduced[a]) gi += idx[a] * gStrides[k++];
            double e = x.getDouble(i), m = max.getDouble(gi);
            group[i] = gi;
            hit[i] = e == m || Double.isNaN(e) && Double.isNaN(m);
            if (hit[i]) count[gi]++;
        }
        // the count rounded to the dtype first, as a cast of it would be
        for (int i = 0; i < x.size(); i++)
            if (hit[i]) o.setDouble(i, g.getDouble(group[i]) / NdArray.scalar(x.dtype(), count[group[i]]).getDouble(0));
        return o;
    }

    /// First index of the maximum; a NaN counts as the maximum (as in PyTorch).
    private NdArray argmax(Value v, NdArray x, int axis) {
        NdArray o = alloc(v);
        int[] xs = x.shape();
        int n = xs[axis], inner = 1;
        if (n == 0 && o.size() > 0) throw new IrError("'argmax' over axis " + axis + ", which is empty in " + java.util.Arrays.toString(xs).replace(" ", ""));
        for (int a = axis + 1; a < xs.length; a++) inner *= xs[a];
        for (int i = 0; i < o.size(); i++) {
            int outer = i / inner, in = i % inner, base = outer * n * inner + in;
            int best = 0;
            double bv = x.getDouble(base);
            long bl = x.getLong(base);
            for (int k = 1; k < n && !Double.isNaN(bv); k++) {
                int j = base + k * inner;
                boolean better = x.dtype().isInteger() ? x.getLong(j) > bl
                        : x.getDouble(j) > bv || Double.isNaN(x.getDouble(j));
                if (better) { best = k; bv = x.getDouble(j); bl = x.getLong(j); }
            }
            o.setLong(i, best);
        }
        return o;
    }

    // ---- contractions --------------------------------------------------------------------

    private NdArray matmul(Value v, NdArray a, NdArray b) {
        NdArray o = alloc(v);
        int r = a.rank(), m = a.dim(r - 2), k = a.dim(r - 1), n = b.dim(r - 1);
        int batches = m * n == 0 ? 0 : o.size() / (m * n);
        boolean integer = a.dtype().isInteger();
        for (int bi = 0; bi < batches; bi++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double accD = 0;
                    long accL = 0;
                    for (int p = 0; p < k; p++) {
                        int ai = (bi * m + i) * k + p, bj = (bi * k + p) * n + j;
                        if (integer) accL += a.getLong(ai) * b.getLong(bj);
                        else accD += a.getDouble(ai) * b.getDouble(bj);
                    }
                    int oi = (bi * m + i) * n + j;
                    if (integer) o.setLong(oi, accL); else o.setDouble(oi, accD);
                }
        return o;
    }

    private enum Conv { FORWARD, GRAD_INPUT, GRAD_WEIGHT }

    /// One loop nest for the three convolution forms: `y[n,o,oh,ow] += x[n,c,ih,iw] * w[o,c',kh,kw]`
    /// over the same index set; the form says which of x, w, y is computed from the other two.
    private static NdArray conv(Conv form, NdArray x, NdArray w, NdArray y, Ints stride, Ints padding, Ints dilation, int groups) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int o = w.dim(0), cg = w.dim(1), kh = w.dim(2), kw = w.dim(3);
        int oh = y.dim(2), ow = y.dim(3), og = o / groups;
        double[] acc = new double[switch (form) { case FORWARD -> y.size(); case GRAD_INPUT -> x.size(); case GRAD_WEIGHT -> w.size(); }];
        for (int ni = 0; ni < n; ni++)
            for (int oi = 0; oi < o; oi++) {
                int g = oi / og;
                for (int ci = 0; ci < cg; ci++) {
                    int xc = g * cg + ci;
                    for (int a = 0; a < kh; a++)
                        for (int bb = 0; bb < kw; bb++) {
                            int wi = ((oi * cg + ci) * kh + a) * kw + bb;
                            for (int p = 0; p < oh; p++) {
                                int ih = p * stride.get(0) - padding.get(0) + a * dilation.get(0);
                                if (ih < 0 || ih >= h) continue;
                                for (int q = 0; q < ow; q++) {
                                    int iw = q * stride.get(1) - padding.get(1) + bb * dilation.get(1);
                                    if (iw < 0 || iw >= wd) continue;
                                    int xi = ((ni * c + xc) * h + ih) * wd + iw, yi = ((ni * o + oi) * oh + p) * ow + q;
                                    switch (form) {
                                        case FORWARD -> acc[yi] += x.getDouble(xi) * w.getDouble(wi);
                                        case GRAD_INPUT -> acc[xi] += y.getDouble(yi) * w.getDouble(wi);
                                        case GRAD_WEIGHT -> acc[wi] += x.getDouble(xi) * y.getDouble(yi);
                                    }
                                }
                            }
                        }
                }
            }
        NdArray out = switch (form) { case FORWARD -> y; case GRAD_INPUT -> x; case GRAD_WEIGHT -> w; };
        for (int i = 0; i < acc.length; i++) out.setDouble(i, acc[i]);
        return out;
    }

    // ---- indexing helpers ----------------------------------------------------------------

    /// Row-major strides of `shape`.
    static int[] strides(int[] shape) {
        int[] s = new int[shape.length];
        int st = 1;
        for (int a = shape.length - 1; a >= 0; a--) { s[a] = st; st *= shape[a]; }
        return s;
    }

    /// Advances the multi-index `idx` within `shape` in row-major order.
    static void next(int[] idx, int[] shape) {
        for (int a = idx.length - 1; a >= 0; a--) {
            if (++idx[a] < shape[a]) return;
            idx[a] = 0;
        }
    }
}
