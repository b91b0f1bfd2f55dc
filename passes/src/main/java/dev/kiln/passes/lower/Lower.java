package dev.kiln.passes.lower;

import dev.kiln.ir.kernel.*;
import dev.kiln.ir.Axes;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Op;
import dev.kiln.ir.Op.*;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/// Lowers a graph to kernel IR: one kernel per group (a `fused` region, or any other op as a
/// group of one). Inside a group every elementwise and layout op is inlined into its consumer
/// by composing indices (a transpose permutes the index, a broadcast drops axes, a reshape goes
/// through the flat index), so a group writes its result in one pass over the output.
///
/// A reduction becomes an accumulator loop placed just inside the output loops it depends on
/// (after `for i`, a softmax's row max and row sum are computed once per row, then the row is
/// written); when it depends on a non-prefix of the output loops it is computed into a scratch
/// buffer first, so nothing is ever recomputed per element of an axis it does not vary along.
/// Matmul (f32) and the convolutions become library calls; an elementwise epilogue over one of
/// them (bias, relu) is applied in place to the call's output.
///
/// Reading order: `lower` (groups, aliases, dead kernels), `Group` (one kernel), `Frame` (one
/// loop nest being built), `ex` (the value of an op at an index).
public final class Lower {
    private final Graph graph;
    private final List<Buffer> buffers = new ArrayList<>();
    private final List<Kernel> kernels = new ArrayList<>();
    private final List<Integer> kernelOutputs = new ArrayList<>();
    private final List<NdArray> constants = new ArrayList<>();
    private final Map<Object, Integer> constBuffers = new HashMap<>();
    private final Map<Value, Integer> top = new IdentityHashMap<>();
    private final Map<Value, Expr> virtual = new IdentityHashMap<>();
    private final List<String> symbols = new ArrayList<>();
    private final List<Integer> symbolParams = new ArrayList<>(), symbolAxes = new ArrayList<>();

    private Lower(Graph graph) { this.graph = graph; }

    /// The kernel program of `g`; throws IrError naming the op that cannot be lowered. The
    /// program is checked by `KirVerifier` before it is returned (a linear walk): a fault in the
    /// lowering shows here, naming the kernel, rather than as a wrong answer in a backend.
    public static KernelProgram lower(Graph g) {
        KernelProgram p = new Lower(g).run();
        KirVerifier.verify(p);
        return p;
    }

    /// `lower(g)`, adding the kernel IR to `dump` as `NN-kernels.txt` (kernels and buffers counted
    /// in its index) when `dump` is not null.
    public static KernelProgram lower(Graph g, dev.kiln.passes.GraphDump dump) {
        long t0 = System.nanoTime();
        KernelProgram p = lower(g);
        if (dump != null) dump.stage("kernels", "txt", KirPrinter.print(p), System.nanoTime() - t0,
                dev.kiln.passes.GraphDump.counts("kernels", p.kernels().size(), "buffers", p.buffers().size()));
        return p;
    }

    private KernelProgram run() {
        List<Integer> params = new ArrayList<>();
        for (int i = 0; i < graph.params().size(); i++) {
            Value p = graph.params().get(i);
            TensorType t = p.type();
            for (int a = 0; a < t.rank(); a++)
                if (t.dim(a) instanceof Dim.Sym(String s) && !symbols.contains(s)) {
                    symbols.add(s);
                    symbolParams.add(i);
                    symbolAxes.add(a);
                }
            int b = newBuffer(((Param) p.op()).name(), t, BufferKind.PARAM, i);
            top.put(p, b);
            params.add(b);
        }
        Map<Value, Boolean> live = liveValues();
        Map<Value, Boolean> isResult = new IdentityHashMap<>();
        for (Value r : graph.results()) isResult.put(r, true);
        for (Value v : graph.body()) {
            if (!live.containsKey(v)) continue;
            for (Dim d : v.type().shape().dims())
                if (d instanceof Dim.Sym(String s) && !symbols.contains(s))
                    throw new IrError(v.loc(), "'" + Ops.mnemonic(v.op()) + "' has type " + v.type() + ", but no input binds "
                            + s + ": a compiled graph takes every dimension symbol's size from its inputs' shapes");
            boolean result = isResult.containsKey(v);
            try {
                switch (v.op()) {
                    case Const c when !result -> virtual.put(v, constant(c.value(), c.type().dtype()));
                    case Dense d when !result -> top.put(v, constBuffer(d));
                    case Reshape r when !result && top.containsKey(r.x()) -> top.put(v, top.get(r.x()));
                    default -> {
                        int out = newBuffer("%" + kernels.size(), v.type(), BufferKind.TEMP, -1);
                        top.put(v, out);
                        lowerGroup(v, out);
                    }
                }
            } catch (IrError e) {
                throw e.at(v.loc());
            }
        }
        List<Integer> results = new ArrayList<>();
        for (Value r : graph.results()) results.add(top.get(r));
        removeDeadKernels(results);
        BufferPlan plan = MemoryPlanning.plan(buffers, kernels, results);
        return new KernelProgram(graph.name(), buffers, kernels, params, results, constants, symbols, symbolParams,
                symbolAxes, plan);
    }

    private Map<Value, Boolean> liveValues() {
        Map<Value, Boolean> live = new IdentityHashMap<>();
        for (Value r : graph.results()) live.put(r, true);
        List<Value> body = graph.body();
        for (int i = body.size() - 1; i >= 0; i--) {
            Value v = body.get(i);
            if (live.containsKey(v)) for (Value o : Ops.operands(v.op())) live.put(o, true);
        }
        return live;
    }

    /// Drops kernels whose output nobody reads (a transpose that every matmul looked through).
    private void removeDeadKernels(List<Integer> results) {
        java.util.Set<Integer> needed = new HashSet<>(results);
        boolean[] keep = new boolean[kernels.size()];
        for (int k = kernels.size() - 1; k >= 0; k--) {
            if (!needed.contains(kernelOutputs.get(k))) continue;
            keep[k] = true;
            needed.addAll(Kir.reads(kernels.get(k)));
        }
        List<Kernel> kept = new ArrayList<>();
        for (int k = 0; k < keep.length; k++) if (keep[k]) kept.add(kernels.get(k));
        kernels.clear();
        kernels.addAll(kept);
    }

    // ---- buffers -------------------------------------------------------------------------

    private int newBuffer(String name, TensorType t, BufferKind kind, int index) {
        int id = buffers.size();
        buffers.add(new Buffer(id, name, t.dtype(), E.product(dims(t.shape())), kind, index));
        return id;
    }

    private int constBuffer(Dense d) {
        return constBuffers.computeIfAbsent(d.data(), k -> {
            constants.add(d.data().toArray());
            return newBuffer("const" + (constants.size() - 1), d.data().type(), BufferKind.CONST, constants.size() - 1);
        });
    }

    private static List<Expr> dims(Shape s) {
        List<Expr> out = new ArrayList<>();
        for (Dim d : s.dims()) out.add(d instanceof Dim.Sym(String n) ? new Sym(n) : E.i32(d.size()));
        return out;
    }

    static Expr constant(double v, DType d) {
        return switch (d) {
            case BOOL -> new IntConst(v != 0 ? 1 : 0, d);
            case I32 -> new IntConst((int) (long) v, d);
            case I64 -> new IntConst((long) v, d);
            case F16 -> new FloatConst(Float.float16ToFloat(Float.floatToFloat16((float) v)), d);
            case BF16 -> new FloatConst(NdArray.bf16ToFloat(NdArray.floatToBf16((float) v)), d);
            case F32 -> new FloatConst((float) v, d);
            case F64 -> new FloatConst(v, d);
        };
    }

    // ---- groups --------------------------------------------------------------------------

    private void lowerGroup(Value v, int out) {
        Group g;
        String name;
        if (v.op() instanceof Fused f) {
            g = new Group(f.body().results().getFirst());
            for (int i = 0; i < f.inputs().size(); i++) g.leaf(f.body().params().get(i), f.inputs().get(i));
            for (Value b : f.body().body()) for (Value o : Ops.operands(b.op())) g.uses.merge(o, 1, Integer::sum);
            name = f.kernel();
        } else {
            g = new Group(v);
            for (Value o : Ops.operands(v.op())) {
                g.leaf(o, o);
                g.uses.merge(o, 1, Integer::sum);
            }
            name = Ops.mnemonic(v.op());
        }
        g.name = "k" + kernels.size() + "_" + name.replaceAll("[^A-Za-z0-9_]", "_");
        g.output(out);
        kernels.add(new Kernel(g.name, v.loc().toString(), g.stmts));
        kernelOutputs.add(out);
    }

    /// How a library call reads an operand: a buffer, maybe transposed (last two axes).
    private record Operand(int buffer, boolean transposed) {}

    /// One kernel being lowered: the group's root, its leaves (values computed elsewhere), the
    /// statements so far, and the values it has computed into buffers.
    private final class Group {
        final Value root;
        final Map<Value, Integer> leafBuffers = new IdentityHashMap<>();
        final Map<Value, Expr> leafConsts = new IdentityHashMap<>();
        final Map<Value, Value> leafOuter = new IdentityHashMap<>();
        final Map<Value, Integer> uses = new IdentityHashMap<>();
        final Map<Value, Integer> materialized = new IdentityHashMap<>();
        /// Parameters of nested fused regions, each standing for the region's operand.
        final Map<Value, Value> alias = new IdentityHashMap<>();
        final List<Stmt> stmts = new ArrayList<>();
        String name;
        int counter;
        Frame frame;

        Group(Value root) { this.root = root; }

        void leaf(Value inner, Value outer) {
            leafOuter.put(inner, outer);
            Expr c = virtual.get(outer);
            if (c != null) leafConsts.put(inner, c);
            else leafBuffers.put(inner, top.get(outer));
        }

        String fresh(String prefix) { return prefix + counter++; }

        Value resolve(Value v) {
            for (Value a; (a = alias.get(v)) != null; ) v = a;
            return v;
        }

        /// A fused region nested in this group's body is inlined: its parameters stand for its
        /// operands, and its ops count their uses like the body's own.
        void inline(Fused f) {
            Graph body = f.body();
            if (alias.containsKey(body.params().isEmpty() ? null : body.params().getFirst())) return;
            for (int i = 0; i < f.inputs().size(); i++) alias.put(body.params().get(i), f.inputs().get(i));
            for (Value b : body.body()) for (Value o : Ops.operands(b.op())) uses.merge(o, 1, Integer::sum);
        }

        Integer bufferOf(Value v) {
            v = resolve(v);
            Integer b = leafBuffers.get(v);
            return b != null ? b : materialized.get(v);
        }

        /// Computes the root into `out`: a call, a call plus an in-place epilogue, or a loop nest.
        void output(int out) {
            if (root.op() instanceof ReduceMaxGrad r) {
                stmts.add(maxGrad(r, out));
                return;
            }
            if (isHeavy(root)) {
                stmts.add(new Call(call(root, out), null));
                return;
            }
            Value h = epilogueHost();
            LibCall c = null;
            if (h != null) {
                c = call(h, out);
                materialized.put(h, out);
            }
            Loop loop = stage(root, out);
            stmts.add(c != null ? new Call(c, loop) : loop);
        }

        /// A heavy value whose result the root only maps elementwise (same index, same type):
        /// the call can write the output buffer and the root's loop rewrite it in place.
        Value epilogueHost() {
            Map<Value, Boolean> path = new IdentityHashMap<>();
            List<Value> work = new ArrayList<>(List.of(root));
            Map<Value, List<Value>> users = new IdentityHashMap<>();
            while (!work.isEmpty()) {
                Value v = work.removeLast();
                if (path.put(v, true) != null || bufferOf(v) != null || leafConsts.containsKey(v)) continue;
                if (v.op() instanceof Elementwise)
                    for (Value o : Ops.operands(v.op())) {
                        users.computeIfAbsent(o, k -> new ArrayList<>()).add(v);
                        work.add(o);
                    }
            }
            for (Value h : path.keySet()) {
                if (h == root || !isHeavy(h) || !h.type().equals(root.type())) continue;
                // every use of h in the group must be on the elementwise path
                int onPath = users.getOrDefault(h, List.of()).size();
                if (onPath == uses.getOrDefault(h, 0)) return h;
            }
            return null;
        }

        boolean isHeavy(Value v) {
            return switch (v.op()) {
                case Matmul _ -> v.type().dtype() == DType.F32 && bufferOf(v) == null;
                case Conv2d _, Conv2dGradInput _, Conv2dGradWeight _ -> bufferOf(v) == null;
                default -> false;
            };
        }

        LibCall call(Value v, int out) {
            return switch (v.op()) {
                case Matmul m -> {
                    Operand a = operand(m.lhs()), b = operand(m.rhs());
                    TensorType t = v.type();
                    int r = t.rank();
                    List<Expr> d = dims(t.shape());
                    yield new Gemm(out, a.buffer(), b.buffer(), E.product(d.subList(0, r - 2)), d.get(r - 2), d.get(r - 1),
                            dims(m.lhs().type().shape()).get(r - 1), a.transposed(), b.transposed(), t.dtype());
                }
                case Conv2d c -> new Conv(ConvForm.FORWARD, plain(c.x()), plain(c.w()), out, dim0(c.x()),
                        geom(c.x().type(), c.w().type(), v.type(), c.stride(), c.padding(), c.dilation(), c.groups()), v.type().dtype());
                case Conv2dGradInput c -> new Conv(ConvForm.GRAD_INPUT, out, plain(c.w()), plain(c.g()), dim0(c.g()),
                        geom(c.type(), c.w().type(), c.g().type(), c.stride(), c.padding(), c.dilation(), c.groups()), v.type().dtype());
                case Conv2dGradWeight c -> new Conv(ConvForm.GRAD_WEIGHT, plain(c.x()), out, plain(c.g()), dim0(c.x()),
                        geom(c.x().type(), c.type(), c.g().type(), c.stride(), c.padding(), c.dilation(), c.groups()), v.type().dtype());
                default -> throw new IllegalStateException(v.op().toString());
            };
        }

        Expr dim0(Value v) { return dims(v.type().shape()).getFirst(); }

        ConvGeom geom(TensorType x, TensorType w, TensorType y, dev.kiln.ir.Ints s, dev.kiln.ir.Ints p, dev.kiln.ir.Ints d, int groups) {
            return new ConvGeom((int) x.dim(1).size(), (int) x.dim(2).size(), (int) x.dim(3).size(), (int) w.dim(0).size(),
                    (int) w.dim(2).size(), (int) w.dim(3).size(), (int) y.dim(2).size(), (int) y.dim(3).size(),
                    s.get(0), s.get(1), p.get(0), p.get(1), d.get(0), d.get(1), groups);
        }

        /// `v` as a call operand: its buffer, looking through a transpose of the last two axes
        /// and through reshapes (same flat layout); anything else is computed into scratch.
        Operand operand(Value v) {
            // a transpose computed by another kernel: read its input instead (that kernel
            // then dies if nothing else reads it)
            Value outer = leafOuter.get(v);
            if (outer != null && outer.op() instanceof Transpose t && swapsLastTwo(t.perm().toArray()) && top.containsKey(t.x())
                    && !virtual.containsKey(t.x()))
                return new Operand(top.get(t.x()), true);
            Integer b = bufferOf(v);
            if (b != null) return new Operand(b, false);
            if (v.op() instanceof Transpose t && swapsLastTwo(t.perm().toArray())) {
                Operand o = operand(t.x());
                if (!o.transposed()) return new Operand(o.buffer(), true);
            }
            if (v.op() instanceof Reshape r) {
                Operand o = operand(r.x());
                if (!o.transposed()) return o;
            }
            return new Operand(materialize(v), false);
        }

        int plain(Value v) {
            Operand o = operand(v);
            return o.transposed() ? materialize(v) : o.buffer();
        }

        /// Computes `v` into a scratch buffer (once per group) and returns the buffer.
        int materialize(Value v) {
            Integer b = bufferOf(v);
            if (b != null) return b;
            int buf = newBuffer(name + ".tmp" + counter++, v.type(), BufferKind.TEMP, -1);
            if (isHeavy(v)) stmts.add(new Call(call(v, buf), null));
            else if (v.op() instanceof ReduceMaxGrad r) stmts.add(maxGrad(r, buf));
            else stmts.add(stage(v, buf));
            materialized.put(v, buf);
            return buf;
        }

        /// `reduce_max_grad` group by group, which `stage`'s one value per output element cannot
        /// say: loops over the kept axes, and inside them two loop nests over the group, one that
        /// counts the elements equal to `max`, one that writes their shares of `g` (0 elsewhere).
        ///
        /// ```
        /// for kept... { m = max[..]; n = 0
        ///   for reduced... { v = x[..]; n += (v == m || isnan(v) && isnan(m)) ? 1 : 0 }
        ///   share = g[..] / n
        ///   for reduced... { v = x[..]; out[..] = (v == m || isnan(v) && isnan(m)) ? share : 0 } }
        /// ```
        Loop maxGrad(ReduceMaxGrad r, int out) {
            TensorType t = r.x().type();
            DType d = t.dtype();
            int x = plain(r.x()), max = plain(r.max()), g = plain(r.g());
            List<Expr> dims = dims(t.shape());
            List<Integer> all = Axes.range(t.rank()).values(), kept = r.axes().complement(t.rank()).values();
            String[] vars = new String[t.rank()];
            for (int a : kept) vars[a] = fresh("i");
            String m = fresh("t"), n = fresh("count"), share = fresh("t");
            Local mL = new Local(m, d), nL = new Local(n, DType.I32);
            long window = 1;                                   // 0 when some reduced extent is not a constant
            for (int a : r.axes().values()) window *= dims.get(a) instanceof IntConst c ? Math.min(c.value(), SMALL_WINDOW + 1) : 0;
            if (window >= 1 && window <= SMALL_WINDOW)
                return smallWindowMaxGrad(r, out, x, max, g, dims, all, kept, vars, mL, m, n, share, (int) window);
            List<Stmt> body = new ArrayList<>(List.of(new Let(m, new Load(max, index(vars, dims, kept), d)), new Let(n, E.ZERO)));
            for (int pass = 0; pass < 2; pass++) {
                for (int a : r.axes().values()) vars[a] = fresh("r"); // each nest its own counters
                String v = fresh("t");
                Local vL = new Local(v, d);
                Expr at = index(vars, dims, all);
                Expr match = isMax(vL, mL);
                Stmt step = pass == 0 ? new Set(n, E.add(nL, new Sel(match, E.ONE, E.ZERO, DType.I32, false)))
                        : new Store(out, at, new Sel(match, new Local(share, d), constant(0, d), d, false));
                body.add(groupLoops(r.axes().values(), dims, vars, List.of(new Let(v, new Load(x, at, d)), step)));
                if (pass == 0) body.add(new Let(share, new Bin(BinOp.DIV, new Load(g, index(vars, dims, kept), d), cast(nL, d), d)));
            }
            return groupLoops(kept, dims, vars, body);
        }

        /// Whether element `v` is its group's maximum `m`: equal to it, or both NaN.
        private static Expr isMax(Local v, Local m) {
            return new Bin(BinOp.OR, new Bin(BinOp.EQ, v, m, DType.BOOL),
                    E.and(new Un(UnOp.ISNAN, v, DType.BOOL), new Un(UnOp.ISNAN, m, DType.BOOL)), DType.BOOL);
        }

        /// Largest window (product of the reduced extents, all constant) that `maxGrad` writes
        /// out position by position: 2x2 to 4x4 pooling.
        static final int SMALL_WINDOW = 16;

        /// `maxGrad` for a small constant window, in one pass: each element is loaded and
        /// compared once, its match kept in a local for both the count and the store (the two
        /// nests above load and compare every element twice, which is most of their time).
        ///
        /// ```
        /// for kept... { m = max[..]
        ///   v0 = x[.., 0, .., 0]; hit0 = v0 == m || isnan(v0) && isnan(m)   (each position)
        ///   count = (hit0 ? 1 : 0) + (hit1 ? 1 : 0) + ...; share = g[..] / count
        ///   out[.., 0, .., 0] = hit0 ? share : 0                           (each position) }
        /// ```
        private Loop smallWindowMaxGrad(ReduceMaxGrad r, int out, int x, int max, int g, List<Expr> dims, List<Integer> all,
                                        List<Integer> kept, String[] vars, Local mL, String m, String n, String share, int window) {
            DType d = r.x().type().dtype();
            List<Integer> reduced = r.axes().values();
            List<Stmt> body = new ArrayList<>(List.of(new Let(m, new Load(max, index(vars, dims, kept), d))));
            List<Expr> at = new ArrayList<>();
            List<Local> hits = new ArrayList<>();
            Expr count = null;
            int[] pos = new int[reduced.size()];
            for (int p = 0; p < window; p++) {
                List<Expr> idx = new ArrayList<>();
                for (int a : all) {
                    int k = reduced.indexOf(a);
                    idx.add(k >= 0 ? E.i32(pos[k]) : new Local(vars[a], DType.I32));
                }
                at.add(E.linearize(idx, dims));
                Local v = new Local(fresh("t"), d), hit = new Local(fresh("hit"), DType.BOOL);
                Expr match = isMax(v, mL);
                body.add(new Let(v.name(), new Load(x, at.get(p), d)));
                body.add(new Let(hit.name(), match));
                hits.add(hit);
                Expr one = new Sel(hit, E.ONE, E.ZERO, DType.I32, false);
                count = count == null ? one : E.add(count, one);
                for (int k = pos.length - 1; k >= 0 && ++pos[k] == ((IntConst) dims.get(reduced.get(k))).value(); k--) pos[k] = 0;
            }
            body.add(new Let(n, count));
            body.add(new Let(share, new Bin(BinOp.DIV, new Load(g, index(vars, dims, kept), d), cast(new Local(n, DType.I32), d), d)));
            for (int p = 0; p < window; p++)
                body.add(new Store(out, at.get(p), new Sel(hits.get(p), new Local(share, d), constant(0, d), d, false)));
            return groupLoops(kept, dims, vars, body);
        }

        /// Loops over `axes` (counters `vars`, extents `dims`), outermost first, around `body`;
        /// one iteration of a loop of its own when there are none.
        private Loop groupLoops(List<Integer> axes, List<Expr> dims, String[] vars, List<Stmt> body) {
            if (axes.isEmpty()) return new Loop(fresh("i"), E.ONE, body);
            Loop l = null;
            for (int k = axes.size() - 1; k >= 0; k--) l = new Loop(vars[axes.get(k)], dims.get(axes.get(k)), l == null ? body : List.of(l));
            return l;
        }

        /// The row-major flat index of counters `vars` over `axes` (extents `dims`).
        private static Expr index(String[] vars, List<Expr> dims, List<Integer> axes) {
            List<Expr> idx = new ArrayList<>(), ext = new ArrayList<>();
            for (int a : axes) {
                idx.add(new Local(vars[a], DType.I32));
                ext.add(dims.get(a));
            }
            return idx.isEmpty() ? E.ZERO : E.linearize(idx, ext);
        }

        // ---- one loop nest ---------------------------------------------------------------

        /// A loop nest over `v`'s shape storing `v` into `out`. Tries one flat loop first (an
        /// elementwise chain needs no multi-index); falls back to one loop per axis.
        Loop stage(Value v, int out) {
            Frame saved = frame;
            try {
                List<Expr> extents = dims(v.type().shape());
                if (extents.size() >= 2) {
                    Loop flat = nest(v, out, List.of(E.product(extents)), extents, 0);
                    if (flat != null) return flat;
                }
                // loops over the leading axes and one flat loop over the rest ([B, C, H*W] for
                // a bias over channels), most collapsed first
                for (int k = 1; k + 1 < extents.size(); k++) {
                    List<Expr> loops = new ArrayList<>(extents.subList(0, k));
                    loops.add(E.product(extents.subList(k, extents.size())));
                    Loop partial = nest(v, out, loops, extents, k);
                    if (partial != null) return partial;
                }
                return nest(v, out, extents.isEmpty() ? List.of(E.ONE) : extents, extents, -1);
            } finally {
                frame = saved;
            }
        }

        /// A nest with one loop per axis (`lead` -1), one flat loop (`lead` 0), or loops over
        /// the first `lead` axes and one flat loop over the rest; null when the collapsed axes'
        /// own indices turn out to be needed.
        private Loop nest(Value v, int out, List<Expr> loopExtents, List<Expr> shape, int lead) {
            boolean flat = lead >= 0;
            Frame f = new Frame();
            frame = f;
            List<Expr> idx = new ArrayList<>();
            for (Expr ext : loopExtents) {
                String var = fresh("i");
                f.vars.add(var);
                f.extents.add(ext);
                f.blocks.add(new ArrayList<>());
                idx.add(new Local(var, DType.I32));
            }
            f.blocks.add(new ArrayList<>());
            Ix ix = lead == 0 ? Ix.flat(shape, idx.getFirst(), f)
                    : lead > 0 ? Ix.partial(shape, idx.subList(0, lead), idx.get(lead), f)
                    : shape.isEmpty() ? Ix.multi(shape, List.of()) : Ix.multi(shape, idx);
            Expr value = ex(v, ix);
            if (flat && f.needMulti) return null;
            f.blocks.getLast().add(new Store(out, ix.flat(), value));
            return f.assemble(0);
        }

        // ---- expressions -----------------------------------------------------------------

        /// The value of `v` at index `ix`, as an expression; may add statements to the frame.
        Expr ex(Value v, Ix ix) {
            v = resolve(v);
            Expr c = leafConsts.get(v);
            if (c != null) return c;
            Integer b = bufferOf(v);
            if (b != null) return load(b, v.type().dtype(), ix);
            MemoKey key = new MemoKey(v, ix.key());
            Expr hit = frame.memo.get(key);
            if (hit != null) return hit;
            Expr e = compute(v, ix);
            boolean reduction = v.op() instanceof ReduceSum || v.op() instanceof ReduceMax || v.op() instanceof Argmax
                    || v.op() instanceof Matmul;
            if (frame.guarded == 0 && (reduction || uses.getOrDefault(v, 0) > 1) && !isConst(e)) {
                // a reduction is memoized even with one use: a broadcast reads it at many indices
                if (!(e instanceof Local)) e = frame.let(fresh("t"), e);
                frame.remember(key, e);
            }
            return e;
        }

        Expr load(int buffer, DType d, Ix ix) {
            Expr l = new Load(buffer, ix.flat(), d);
            if (frame.guarded > 0) return l;
            // hoist loads that do not vary in the inner loops (a bias element, a scalar)
            int level = frame.levelOf(l);
            if (level < frame.depth()) {
                MemoKey key = new MemoKey(buffer, List.of(ix.flat()));
                Expr hit = frame.memo.get(key);
                if (hit != null) return hit;
                Expr t = frame.let(fresh("t"), l);
                frame.remember(key, t);
                return t;
            }
            return l;
        }

        Expr compute(Value v, Ix ix) {
            DType d = v.type().dtype();
            return switch (v.op()) {
                case Param p -> throw new IrError("parameter '%" + p.name() + "' has no buffer");
                case Const k -> constant(k.value(), d);
                case Dense k -> load(constBuffer(k), d, ix);
                case Iota io -> cast(ix.axis(io.axis()), d);
                case RandomUniform r -> new Rand(ex(r.seed(), Ix.multi(List.of(), List.of())), cast(ix.flat(), DType.I64), d);
                case Neg u -> new Un(UnOp.NEG, ex(u.x(), ix), d);
                case Abs u -> new Un(UnOp.ABS, ex(u.x(), ix), d);
                case Sign u -> new Un(UnOp.SIGN, ex(u.x(), ix), d);
                case Relu u -> new Un(UnOp.RELU, ex(u.x(), ix), d);
                case Exp u -> new Un(UnOp.EXP, ex(u.x(), ix), d);
                case Log u -> new Un(UnOp.LOG, ex(u.x(), ix), d);
                case Sqrt u -> new Un(UnOp.SQRT, ex(u.x(), ix), d);
                case Tanh u -> new Un(UnOp.TANH, ex(u.x(), ix), d);
                case Not u -> new Un(UnOp.NOT, ex(u.x(), ix), d);
                case Add o -> bin(BinOp.ADD, o, ix, d);
                case Sub o -> bin(BinOp.SUB, o, ix, d);
                case Mul o -> bin(BinOp.MUL, o, ix, d);
                case Div o -> bin(BinOp.DIV, o, ix, d);
                case Pow o -> bin(BinOp.POW, o, ix, d);
                case Max o -> bin(BinOp.MAX, o, ix, d);
                case Min o -> bin(BinOp.MIN, o, ix, d);
                case And o -> bin(BinOp.AND, o, ix, d);
                case Or o -> bin(BinOp.OR, o, ix, d);
                case Eq o -> bin(BinOp.EQ, o, ix, d);
                case Ne o -> bin(BinOp.NE, o, ix, d);
                case Lt o -> bin(BinOp.LT, o, ix, d);
                case Le o -> bin(BinOp.LE, o, ix, d);
                case Gt o -> bin(BinOp.GT, o, ix, d);
                case Ge o -> bin(BinOp.GE, o, ix, d);
                case Select s -> new Sel(ex(s.cond(), ix), ex(s.onTrue(), ix), ex(s.onFalse(), ix), d, false);
                case Cast k -> cast(ex(k.x(), ix), d);
                case Broadcast br -> {
                    TensorType xt = br.x().type();
                    List<Expr> xi = new ArrayList<>();
                    for (int a = 0; a < xt.rank(); a++)
                        xi.add(xt.dim(a).equals(Dim.of(1)) ? E.ZERO : ix.axis(br.dims().get(a)));
                    yield ex(br.x(), Ix.multi(dims(xt.shape()), xi));
                }
                case Reshape r -> ex(r.x(), reshapeIndex(ix, v.type().shape(), r.x().type().shape()));
                case Transpose t -> {
                    Expr[] xi = new Expr[t.perm().size()];
                    for (int a = 0; a < xi.length; a++) xi[t.perm().get(a)] = ix.multi().get(a);
                    yield ex(t.x(), Ix.multi(dims(t.x().type().shape()), List.of(xi)));
                }
                case Slice s -> {
                    List<Expr> xi = new ArrayList<>(ix.multi());
                    xi.set(s.axis(), E.add(E.i32(s.start()), E.mul(xi.get(s.axis()), E.i32(s.step()))));
                    yield ex(s.x(), Ix.multi(dims(s.x().type().shape()), xi));
                }
                case Pad p -> {
                    List<Expr> xi = new ArrayList<>(ix.multi());
                    Expr k = E.sub(xi.get(p.axis()), E.i32(p.low()));
                    xi.set(p.axis(), k);
                    long size = p.x().type().dim(p.axis()).size();
                    Expr inside = E.and(new Bin(BinOp.GE, k, E.ZERO, DType.BOOL), E.lt(k, E.i32(size)));
                    frame.guarded++;
                    Expr x = ex(p.x(), Ix.multi(dims(p.x().type().shape()), xi));
                    frame.guarded--;
                    yield new Sel(inside, x, constant(p.value(), d), d);
                }
                case Concat cc -> {
                    List<Expr> base = ix.multi();
                    long[] starts = new long[cc.xs().size() + 1];
                    for (int k = 0; k < cc.xs().size(); k++) starts[k + 1] = starts[k] + cc.xs().get(k).type().dim(cc.axis()).size();
                    frame.guarded++;
                    Expr e = null;
                    for (int k = cc.xs().size() - 1; k >= 0; k--) {
                        Value x = cc.xs().get(k);
                        List<Expr> xi = new ArrayList<>(base);
                        xi.set(cc.axis(), E.sub(base.get(cc.axis()), E.i32(starts[k])));
                        Expr part = ex(x, Ix.multi(dims(x.type().shape()), xi));
                        e = e == null ? part : new Sel(E.lt(base.get(cc.axis()), E.i32(starts[k + 1])), part, e, d);
                    }
                    frame.guarded--;
                    yield e;
                }
                // A reduction over no axes is the identity (same shape and dtype): no loop to build.
                case ReduceSum r when r.axes().size() == 0 -> ex(r.x(), ix);
                case ReduceMax r when r.axes().size() == 0 -> ex(r.x(), ix);
                case ReduceSum r -> reduce(v, r.x(), r.axes().toArray(), Kind.SUM, ix);
                case ReduceMax r -> reduce(v, r.x(), r.axes().toArray(), Kind.MAX, ix);
                case Argmax a -> reduce(v, a.x(), new int[]{a.axis()}, Kind.ARGMAX, ix);
                case Matmul m -> {
                    if (isHeavy(v)) yield load(materialize(v), d, ix);
                    yield reduce(v, null, null, Kind.DOT, ix);
                }
                case Conv2d _, Conv2dGradInput _, Conv2dGradWeight _, ReduceMaxGrad _ -> load(materialize(v), d, ix);
                case Fused f -> {
                    inline(f);
                    yield ex(f.body().results().getFirst(), ix);
                }
            };
        }

        /// The index into a reshape's operand. Loads only need the flat index, which a reshape
        /// keeps; when a multi-index is asked for, axes are matched in groups of equal element
        /// count (`[B,32,28,28] -> [B,32,14,2,14,2]` pairs B, 32, 28 with 14x2, 28 with 14x2), so
        /// only the split or merged axes need division, not the whole flat index.
        Ix reshapeIndex(Ix ix, Shape out, Shape in) {
            List<Expr> inDims = dims(in);
            if (ix.multi == null) return Ix.flat(inDims, ix.flat(), ix.flatOwner);
            int[][] groups = axisGroups(out, in);
            if (groups == null) return Ix.flat(inDims, ix.flat(), null);
            List<Expr> outDims = dims(out), m = ix.multi(), idx = new ArrayList<>();
            for (int[] g : groups) {
                // g = {outFrom, outTo, inFrom, inTo}
                Expr flat = E.linearize(m.subList(g[0], g[1]), outDims.subList(g[0], g[1]));
                Ix part = Ix.flat(inDims.subList(g[2], g[3]), flat, null);
                idx.addAll(g[3] - g[2] == 1 ? List.of(flat) : part.multi());
            }
            Ix r = Ix.multi(inDims, idx);
            r.flat = ix.flat;
            return r;
        }

        Expr bin(BinOp op, Binary b, Ix ix, DType d) {
            return new Bin(op, ex(b.lhs(), ix), ex(b.rhs(), ix), d);
        }

        // ---- reductions ------------------------------------------------------------------

        enum Kind { SUM, MAX, ARGMAX, DOT }

        /// A reduction of `x` over `axes` (or a matmul's dot product, DOT) at output index `ix`:
        /// an accumulator loop placed right inside the output loops it depends on.
        Expr reduce(Value v, Value x, int[] axes, Kind kind, Ix ix) {
            List<Expr> out = ix.multi();
            int level = frame.guarded > 0 ? -1 : frame.prefixLevel(out);
            if (level < 0) return load(materialize(v), v.type().dtype(), ix);
            DType d = v.type().dtype();
            List<Expr> extents = new ArrayList<>();
            if (kind == Kind.DOT) {
                Matmul m = (Matmul) v.op();
                extents.add(dims(m.lhs().type().shape()).getLast());
            } else for (int a : axes) extents.add(dims(x.type().shape()).get(a));
            // reducing no axes still accumulates once (0 + x turns -0.0 into +0.0, as in the interpreter)
            boolean none = extents.isEmpty();
            if (none) extents.add(E.ONE);
            Frame outer = frame;
            Frame f = outer.child(level);
            frame = f;
            List<Expr> rv = new ArrayList<>();
            for (Expr ext : extents) {
                String var = fresh("r");
                f.vars.add(var);
                f.extents.add(ext);
                f.blocks.add(new ArrayList<>());
                rv.add(new Local(var, DType.I32));
            }
            Expr e;
            if (kind == Kind.DOT) {
                Matmul m = (Matmul) v.op();
                int r = out.size();
                List<Expr> ai = new ArrayList<>(out.subList(0, r - 1)), bi = new ArrayList<>(out.subList(0, r - 2));
                ai.add(rv.getFirst());
                bi.add(rv.getFirst());
                bi.add(out.get(r - 1));
                DType acc = accType(d);
                e = new Bin(BinOp.MUL, cast(ex(m.lhs(), Ix.multi(dims(m.lhs().type().shape()), ai)), acc),
                        cast(ex(m.rhs(), Ix.multi(dims(m.rhs().type().shape()), bi)), acc), acc);
            } else {
                List<Expr> xi = new ArrayList<>();
                int kept = 0, red = 0;
                for (int a = 0; a < x.type().rank(); a++) {
                    final int ax = a;
                    boolean reduced = java.util.Arrays.stream(axes).anyMatch(z -> z == ax);
                    xi.add(reduced ? rv.get(red++) : out.get(kept++));
                    assert !none || !reduced;
                }
                e = ex(x, Ix.multi(dims(x.type().shape()), xi));
            }
            List<Stmt> init = new ArrayList<>(), update = new ArrayList<>();
            Expr result;
            switch (kind) {
                case SUM, DOT -> {
                    DType acc = accType(d);
                    String s = fresh("acc");
                    init.add(new Let(s, constant(0, acc)));
                    update.add(new Set(s, new Bin(BinOp.ADD, new Local(s, acc), cast(e, acc), acc)));
                    result = cast(new Local(s, acc), d);
                }
                case MAX -> {
                    DType acc = d.isFloat() ? d : DType.I64;
                    String s = fresh("acc");
                    init.add(new Let(s, d.isFloat() ? new FloatConst(Double.NEGATIVE_INFINITY, acc) : new IntConst(Long.MIN_VALUE, acc)));
                    update.add(new Set(s, new Bin(BinOp.MAX, new Local(s, acc), cast(e, acc), acc)));
                    result = cast(new Local(s, acc), d);
                }
                case ARGMAX -> {
                    DType xd = x.type().dtype(), acc = xd.isFloat() ? xd : DType.I64;
                    String bv = fresh("best"), bi = fresh("arg");
                    init.add(new Let(bv, xd.isFloat() ? new FloatConst(Double.NEGATIVE_INFINITY, acc) : new IntConst(Long.MIN_VALUE, acc)));
                    init.add(new Let(bi, new IntConst(0, DType.I64)));
                    Expr el = f.let(fresh("t"), cast(e, acc));
                    Local best = new Local(bv, acc);
                    Expr better = new Bin(BinOp.GT, el, best, DType.BOOL);
                    if (xd.isFloat())
                        better = E.and(new Un(UnOp.NOT, new Un(UnOp.ISNAN, best, DType.BOOL), DType.BOOL),
                                new Bin(BinOp.OR, better, new Un(UnOp.ISNAN, el, DType.BOOL), DType.BOOL));
                    Expr isBetter = f.let(fresh("t"), better);
                    update.add(new Set(bi, new Sel(isBetter, cast(rv.getFirst(), DType.I64), new Local(bi, DType.I64), DType.I64, false)));
                    update.add(new Set(bv, new Sel(isBetter, el, best, acc, false)));
                    result = new Local(bi, DType.I64);
                }
                default -> throw new IllegalStateException();
            }
            f.blocks.getLast().addAll(update);
            Stmt loops = f.assemble(level);
            frame = outer;
            outer.forgetBelow(level, f.firstNewMemo);
            List<Stmt> into = outer.blocks.get(level);
            into.addAll(init);
            into.add(loops);
            for (Stmt s : init) if (s instanceof Let l) outer.localLevels.put(l.name(), level);
            return result instanceof Local ? result : outer.let(fresh("t"), result);
        }
    }

    /// Splits two shapes of equal size into consecutive axis groups of equal element count,
    /// each `{outFrom, outTo, inFrom, inTo}`; a symbolic axis must match itself one to one.
    /// Null when that fails. Size-1 axes join the group before them (or the first group).
    static int[][] axisGroups(Shape out, Shape in) {
        List<int[]> groups = new ArrayList<>();
        int i = 0, j = 0, no = out.rank(), ni = in.rank();
        while (i < no || j < ni) {
            int i0 = i, j0 = j;
            if (i < no && j < ni && !out.dim(i).isFixed() && out.dim(i).equals(in.dim(j))) {
                groups.add(new int[]{i, ++i, j, ++j});
                continue;
            }
            long po = 1, pi = 1;
            if (i < no) { if (!out.dim(i).isFixed()) return null; po = out.dim(i++).size(); }
            if (j < ni) { if (!in.dim(j).isFixed()) return null; pi = in.dim(j++).size(); }
            while (po != pi) {
                if (po < pi) {
                    if (i >= no || !out.dim(i).isFixed()) return null;
                    po *= out.dim(i++).size();
                } else {
                    if (j >= ni || !in.dim(j).isFixed()) return null;
                    pi *= in.dim(j++).size();
                }
            }
            // trailing size-1 axes belong to this group
            while (i < no && out.dim(i).equals(Dim.of(1)) && (j >= ni || !in.dim(j).equals(Dim.of(1)))) i++;
            while (j < ni && in.dim(j).equals(Dim.of(1)) && (i >= no || !out.dim(i).equals(Dim.of(1)))) j++;
            groups.add(new int[]{i0, i, j0, j});
        }
        return groups.toArray(int[][]::new);
    }

    static DType accType(DType d) { return d.isFloat() ? DType.F64 : DType.I64; }

    static boolean isConst(Expr e) { return e instanceof IntConst || e instanceof FloatConst; }

    static Expr cast(Expr e, DType d) {
        if (e.type() == d) return e;
        if (e instanceof IntConst(long v, DType t) && d.isInteger() && t.isInteger())
            return new IntConst(d == DType.I32 ? (int) v : v, d);
        return new Convert(e, d);
    }

    static boolean swapsLastTwo(int[] perm) {
        int r = perm.length;
        if (r < 2 || perm[r - 1] != r - 2 || perm[r - 2] != r - 1) return false;
        for (int i = 0; i < r - 2; i++) if (perm[i] != i) return false;
        return true;
    }

    private record MemoKey(Object what, List<Expr> index) {}

    /// An index into a value of shape `dims`: a multi-index, a flat index, or both, each
    /// computed from the other on demand. A multi-index derived from a stage's flat loop
    /// counter marks that stage as needing per-axis loops.
    static final class Ix {
        final List<Expr> dims;
        List<Expr> multi;
        Expr flat;
        final Frame flatOwner;

        private Ix(List<Expr> dims, List<Expr> multi, Expr flat, Frame flatOwner) {
            this.dims = dims;
            this.multi = multi;
            this.flat = flat;
            this.flatOwner = flatOwner;
        }

        /// For a partial index: the indices of the leading axes and the flat index of the rest.
        List<Expr> lead;
        Expr tail;

        static Ix multi(List<Expr> dims, List<Expr> idx) { return new Ix(dims, List.copyOf(idx), null, null); }
        static Ix flat(List<Expr> dims, Expr flat, Frame owner) { return new Ix(dims, null, flat, owner); }

        static Ix partial(List<Expr> dims, List<Expr> lead, Expr tail, Frame owner) {
            Ix ix = new Ix(dims, null, null, owner);
            ix.lead = List.copyOf(lead);
            ix.tail = tail;
            return ix;
        }

        /// The index along one axis: without splitting a flat loop counter when the axis has
        /// a loop of its own.
        Expr axis(int a) {
            if (multi == null && lead != null && a < lead.size()) return lead.get(a);
            return multi().get(a);
        }

        List<Expr> multi() {
            if (multi == null) {
                if (flatOwner != null) flatOwner.needMulti = true;
                int from = lead == null ? 0 : lead.size();
                Expr rest = lead == null ? flat : tail;
                List<Expr> m = new ArrayList<>(lead == null ? List.of() : lead);
                Expr stride = E.ONE;
                Expr[] out = new Expr[dims.size() - from];
                for (int a = dims.size() - 1; a >= from; a--) {
                    Expr q = E.div(rest, stride);
                    out[a - from] = a == from ? q : E.mod(q, dims.get(a));
                    stride = E.mul(stride, dims.get(a));
                }
                m.addAll(List.of(out));
                multi = m;
            }
            return multi;
        }

        Expr flat() {
            if (flat == null) {
                if (multi == null && lead != null)
                    flat = E.add(E.mul(E.linearize(lead, dims.subList(0, lead.size())), E.product(dims.subList(lead.size(), dims.size()))), tail);
                else flat = E.linearize(multi, dims);
            }
            return flat;
        }

        List<Expr> key() {
            if (multi != null) return multi;
            if (lead != null) {
                List<Expr> k = new ArrayList<>(lead);
                k.add(tail);
                k.add(E.i32(-1)); // not the multi-index of the same expressions
                return k;
            }
            return List.of(flat);
        }
    }

    /// A loop nest under construction: loop variables outermost first, and for each depth k
    /// the statements placed inside loops 0..k-1 before loop k. A child frame (a reduction)
    /// shares the parent's blocks up to its level and adds its own loops below.
    static final class Frame {
        final List<String> vars = new ArrayList<>();
        final List<Expr> extents = new ArrayList<>();
        final List<List<Stmt>> blocks = new ArrayList<>();
        final Map<MemoKey, Expr> memo;
        final List<MemoKey> memoOrder;
        final Map<MemoKey, Integer> memoLevel;
        final Map<String, Integer> localLevels;
        int guarded;
        boolean needMulti;
        int firstNewMemo;

        Frame() {
            memo = new HashMap<>();
            memoOrder = new ArrayList<>();
            memoLevel = new HashMap<>();
            localLevels = new HashMap<>();
        }

        private Frame(Frame parent, int level) {
            memo = parent.memo;
            memoOrder = parent.memoOrder;
            memoLevel = parent.memoLevel;
            localLevels = parent.localLevels;
            vars.addAll(parent.vars.subList(0, level));
            extents.addAll(parent.extents.subList(0, level));
            blocks.addAll(parent.blocks.subList(0, level + 1));
            firstNewMemo = memoOrder.size();
            needMulti = false;
        }

        Frame child(int level) { return new Frame(this, level); }

        int depth() { return vars.size(); }

        /// The depth at which `e` can be computed: just inside the innermost loop it reads
        /// (at least 1, so that a kernel's top level holds only loops).
        int levelOf(Expr e) {
            int level = 1;
            for (String n : Kir.locals(e)) {
                int p = vars.indexOf(n);
                int l = p >= 0 ? p + 1 : localLevels.getOrDefault(n, depth());
                level = Math.max(level, l);
            }
            return Math.min(level, depth());
        }

        /// If the index reads exactly the outermost k loop variables, the depth k (at least 1)
        /// at which a reduction over it can run once per distinct index; else -1.
        int prefixLevel(List<Expr> idx) {
            java.util.Set<Integer> used = new HashSet<>();
            for (Expr e : idx)
                for (String n : Kir.locals(e)) {
                    int p = vars.indexOf(n);
                    if (p < 0) return -1;
                    used.add(p);
                }
            int k = used.size();
            for (int p = 0; p < k; p++) if (!used.contains(p)) return -1;
            if (k == 0) return depth() == 0 || E.isConst(extents.getFirst(), 1) ? Math.min(1, depth()) : -1;
            return k;
        }

        Expr let(String name, Expr e) {
            int level = levelOf(e);
            blocks.get(level).add(new Let(name, e));
            localLevels.put(name, level);
            return new Local(name, e.type());
        }

        void remember(MemoKey key, Expr e) {
            memo.put(key, e);
            memoOrder.add(key);
            memoLevel.put(key, e instanceof Local l ? localLevels.getOrDefault(l.name(), depth()) : depth());
        }

        /// Forgets what a child frame memoized inside its own loops (below `level`).
        void forgetBelow(int level, int from) {
            for (int i = memoOrder.size() - 1; i >= from; i--) {
                MemoKey k = memoOrder.get(i);
                if (memoLevel.getOrDefault(k, Integer.MAX_VALUE) > level) {
                    memo.remove(k);
                    memoLevel.remove(k);
                    memoOrder.remove(i);
                }
            }
        }

        /// The loops from depth `from` down, wrapped around their blocks.
        Loop assemble(int from) {
            List<Stmt> inner = blocks.get(vars.size());
            for (int k = vars.size() - 1; k >= from; k--) {
                Loop l = new Loop(vars.get(k), extents.get(k), inner);
                if (k == from) return l;
                inner = new ArrayList<>(blocks.get(k));
                inner.add(l);
            }
            throw new IllegalStateException("empty nest");
        }
    }
}
