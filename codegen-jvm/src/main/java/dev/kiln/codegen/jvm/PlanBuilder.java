package dev.kiln.codegen.jvm;

import dev.kiln.codegen.jvm.rt.Plan;
import dev.kiln.codegen.jvm.rt.PlanExecutable;
import dev.kiln.codegen.jvm.rt.Pool;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.passes.GraphDump;
import dev.kiln.ir.kernel.Kir;
import dev.kiln.ir.kernel.KernelProgram;
import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.passes.lower.Lower;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Size;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/// The JVM backend's output as data, for code that runs without the compiler: a graph lowered
/// and generated under a chosen class name, with the `Plan` that runs that class. A standalone
/// jar writes `classBytes` as a regular class next to the plan's text; `load` defines the same
/// bytes as a hidden class here, for the in-process `PlanExecutable` that `JvmBackend.compile` returns.
///
/// Invariant: the plan's task `t` is the generated class's task `t`.
public final class PlanBuilder {
    private PlanBuilder() {}

    /// A generated class (internal name `className`, e.g. `kiln/model/MlpKernels`) and its plan.
    public record Compiled(KernelProgram program, String className, byte[] classBytes, Plan plan) {
        /// The program's dense constants, indexed as the plan's CONST buffers say.
        public List<NdArray> constants() { return program.constants(); }
    }

    /// Lowers `g` (as given: run the passes first) and generates its kernels as `className`.
    /// Throws IrError naming an op that cannot be lowered.
    public static Compiled build(Graph g, String className) { return build(g, className, null); }

    /// As `build(g, className)`, adding the kernel IR and the bytecode to `dump` (null: no dump).
    public static Compiled build(Graph g, String className, GraphDump dump) {
        return generate(g, Lower.lower(g, dump), className, dump);
    }

    /// Generates `p`, the lowered `g`, as `className`, adding the bytecode to `dump` (null: no dump).
    static Compiled generate(Graph g, KernelProgram p, String className, GraphDump dump) {
        return generate(p, g.params().stream().map(Value::type).toList(), g.resultTypes(), className, dump);
    }

    /// Generates a kernel program that comes without its graph (one that `KirParser` read, say)
    /// as `className`. Its buffers are flat, so the caller gives the types of its parameters and
    /// results: the plan checks inputs against them and shapes the results by them.
    public static Compiled build(KernelProgram p, List<TensorType> paramTypes, List<TensorType> resultTypes, String className) {
        check(p, p.params(), paramTypes, "parameter");
        check(p, p.results(), resultTypes, "result");
        return generate(p, paramTypes, resultTypes, className, null);
    }

    private static void check(KernelProgram p, List<Integer> buffers, List<TensorType> types, String what) {
        if (buffers.size() != types.size())
            throw new IllegalArgumentException("@" + p.name() + " has " + buffers.size() + " " + what + "s, but " + types.size() + " types are given");
        for (int i = 0; i < types.size(); i++)
            if (p.buffers().get(buffers.get(i)).dtype() != types.get(i).dtype())
                throw new IllegalArgumentException("@" + p.name() + " " + what + " " + i + " is " + p.buffers().get(buffers.get(i)).dtype()
                        + ", but its type is given as " + types.get(i));
    }

    private static Compiled generate(KernelProgram p, List<TensorType> paramTypes, List<TensorType> resultTypes, String className,
                                     GraphDump dump) {
        long t0 = System.nanoTime();
        BytecodeGen gen = new BytecodeGen(p, className);
        byte[] bytes = gen.generate();
        JvmBackend.dump(dump, bytes, System.nanoTime() - t0);
        return new Compiled(p, className, bytes, plan(p, paramTypes, resultTypes, gen.tasks));
    }

    /// An executable over `c`'s class defined as a hidden class in this JVM.
    public static PlanExecutable load(Compiled c, Pool pool) {
        if (!c.className().startsWith("dev/kiln/codegen/jvm/") || c.className().lastIndexOf('/') != "dev/kiln/codegen/jvm".length())
            throw new IllegalArgumentException("a class loaded in-process must be in package dev.kiln.codegen.jvm, not " + c.className());
        return new PlanExecutable(c.plan(), JvmBackend.define(c.classBytes()), c.constants(), pool);
    }

    /// The plan of `p`; a parameter is named as its buffer (the graph's parameter name).
    static Plan plan(KernelProgram p, List<TensorType> paramTypes, List<TensorType> resultTypes, List<BytecodeGen.Task> tasks) {
        List<String> symbols = p.symbols();
        List<Plan.Param> params = new ArrayList<>();
        for (int i = 0; i < paramTypes.size(); i++) {
            TensorType t = paramTypes.get(i);
            int b = p.params().get(i);
            params.add(new Plan.Param(p.buffers().get(b).name(), t.dtype(), dims(t, symbols), b, Plan.Role.INPUT, -1));
        }
        List<Plan.Result> results = new ArrayList<>();
        for (int r = 0; r < resultTypes.size(); r++) {
            TensorType t = resultTypes.get(r);
            results.add(new Plan.Result(resultTypes.size() == 1 ? "output" : "output" + r, t.dtype(), dims(t, symbols), p.results().get(r)));
        }
        List<Plan.Buffer> buffers = new ArrayList<>();
        for (int b = 0; b < p.buffers().size(); b++) {
            Buffer buf = p.buffers().get(b);
            if (buf.id() != b) throw new IllegalStateException("buffer ids are not positions");
            buffers.add(new Plan.Buffer(buf.name(), buf.dtype(), Plan.Kind.valueOf(buf.kind().name()), buf.index(),
                    p.plan().slotOf()[b], Kir.size(buf.numel(), symbols)));
        }
        List<Plan.Kernel> kernels = p.kernels().stream().map(k -> new Plan.Kernel(k.name(), k.source())).toList();
        List<Plan.Task> planTasks = new ArrayList<>();
        for (BytecodeGen.Task t : tasks) {
            Plan.TaskKind kind = t.call() ? Plan.TaskKind.CALL : t.inCall() ? Plan.TaskKind.EPILOGUE : Plan.TaskKind.LOOP;
            Size extent = Size.ZERO, work = Size.ZERO, flops = Size.ZERO;
            if (t.stmt() instanceof Loop l) {
                extent = Kir.size(l.extent(), symbols);
                work = Kir.size(work(l), symbols);
            }
            if (t.stmt() instanceof Call c) flops = Kir.size(flops(c.call()), symbols);
            planTasks.add(new Plan.Task(t.kernel(), kind, extent, work, flops, Kir.size(bytes(p, t.stmt()), symbols)));
        }
        return new Plan(p.name(), symbols, params, results, buffers, p.plan().slotTypes(), kernels, planTasks);
    }

    private static int[] dims(TensorType t, List<String> symbols) {
        int[] d = new int[t.rank()];
        for (int a = 0; a < d.length; a++)
            d[a] = t.dim(a) instanceof Dim.Sym(String s) ? -(symbols.indexOf(s) + 1) : Math.toIntExact(t.dim(a).size());
        return d;
    }

    /// Iterations of a loop nest, as the executor estimates them to decide a split: extent x (1 + inner work).
    private static Expr work(Loop l) {
        Expr inner = i32(1);
        for (Stmt s : l.body())
            if (s instanceof Loop i) inner = new Bin(BinOp.ADD, inner, work(i), DType.I32);
        return new Bin(BinOp.MUL, l.extent(), inner, DType.I32);
    }

    /// Multiply-adds count two.
    private static Expr flops(LibCall call) {
        return switch (call) {
            case Gemm g -> mul(i32(2), mul(g.batch(), mul(g.m(), mul(g.n(), g.k()))));
            case Conv cv -> {
                ConvGeom q = cv.geom();
                yield mul(cv.n(), i32(2L * q.o() * q.oh() * q.ow() * (q.c() / Math.max(1, q.groups())) * q.kh() * q.kw()));
            }
        };
    }

    /// Each buffer the statement touches, counted once at its full size.
    private static Expr bytes(KernelProgram p, Stmt s) {
        LinkedHashSet<Integer> bufs = new LinkedHashSet<>();
        touched(s, bufs);
        Expr total = i32(0);
        for (int b : bufs) {
            Buffer buf = p.buffers().get(b);
            total = new Bin(BinOp.ADD, total, mul(buf.numel(), i32(buf.dtype().byteSize())), DType.I32);
        }
        return total;
    }

    private static void touched(Stmt s, LinkedHashSet<Integer> bufs) {
        switch (s) {
            case Loop l -> { for (Stmt b : l.body()) touched(b, bufs); }
            case Let l -> Kir.loads(l.value(), bufs);
            case Set l -> Kir.loads(l.value(), bufs);
            case Store st -> { bufs.add(st.buffer()); Kir.loads(st.index(), bufs); Kir.loads(st.value(), bufs); }
            case Call c -> { bufs.addAll(c.call().reads()); bufs.add(c.call().out()); }
        }
    }

    private static Expr i32(long v) { return new IntConst(v, DType.I32); }

    private static Expr mul(Expr a, Expr b) { return new Bin(BinOp.MUL, a, b, DType.I32); }
}
