package dev.kiln.codegen.jvm;

import dev.kiln.codegen.jvm.rt.KernelProfile;
import dev.kiln.codegen.jvm.rt.KernelSet;
import dev.kiln.codegen.jvm.rt.Plan;
import dev.kiln.codegen.jvm.rt.Pool;
import dev.kiln.passes.lower.BufferPlan;
import dev.kiln.passes.lower.Kir.*;
import dev.kiln.passes.lower.KernelProgram;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/// A graph compiled to bytecode, ready to run. Each call binds the dimension symbols from the
/// inputs' shapes, sizes the planned intermediate buffers for them, and runs the tasks in
/// order, splitting large loops across the shared `Pool`.
///
/// Memory: intermediates live in a `Workspace` (one array per plan slot, grown when a call
/// needs more and otherwise kept), so a steady stream of calls allocates nothing but the
/// result arrays, and nothing at all through `run(inputs, outputs)`.
///
/// Profiling (`enableProfile`, or `-Dkiln.profile=true` / `KILN_PROFILE=1` for every executable,
/// printed at exit): each task is timed and counted, see `KernelProfile`.
///
/// Thread-safety: safe to call from several threads at once. Each call takes a workspace of
/// its own from a small free list (creating one when all are busy), so concurrent calls never
/// share intermediates; the returned arrays belong to the caller.
public final class JvmExecutable implements Executable {
    /// Loops with less work than this (elements times inner iterations) stay on one thread.
    static final long PARALLEL_WORK = 1 << 15;
    static final int PARTS_PER_THREAD = 4;

    private final KernelProgram program;
    private final KernelSet code;
    private final List<BytecodeGen.Task> tasks;
    private final Expr[] extents, works;
    private final int[][] resultDims; // per result: fixed size, or -(symbol index + 1)
    private final DType[] resultTypes;
    private final String[] paramNames;
    private final String[] paramTypes;
    private final int[][] paramDims;
    private final DType[] paramDTypes;
    private final ArrayDeque<Workspace> free = new ArrayDeque<>();
    private final Pool pool;
    private final Plan plan; // for the profile: its tasks' kinds, flops and bytes
    private volatile KernelProfile profile;

    JvmExecutable(KernelProgram program, KernelSet code, List<BytecodeGen.Task> tasks, Plan plan, List<String> paramNames,
                  List<dev.kiln.ir.TensorType> paramTypes, List<dev.kiln.ir.TensorType> resultTypes, Pool pool) {
        this.program = program;
        this.code = code;
        this.tasks = List.copyOf(tasks);
        this.plan = plan;
        this.pool = pool;
        if (KernelProfile.requested()) {
            enableProfile();
            // print every profiled executable's table when the JVM exits
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                KernelProfile p = profile;
                if (p != null && p.runs() > 0) System.err.print("kiln profile @" + program.name() + ", " + p.runs() + " runs\n" + p.table());
            }));
        }
        extents = new Expr[tasks.size()];
        works = new Expr[tasks.size()];
        for (int t = 0; t < tasks.size(); t++) {
            if (tasks.get(t).stmt() instanceof Loop l) {
                extents[t] = l.extent();
                works[t] = work(l);
            }
        }
        this.paramNames = paramNames.toArray(String[]::new);
        this.paramTypes = paramTypes.stream().map(Object::toString).toArray(String[]::new);
        this.paramDims = paramTypes.stream().map(this::dimsOf).toArray(int[][]::new);
        this.paramDTypes = paramTypes.stream().map(dev.kiln.ir.TensorType::dtype).toArray(DType[]::new);
        this.resultDims = resultTypes.stream().map(this::dimsOf).toArray(int[][]::new);
        this.resultTypes = resultTypes.stream().map(dev.kiln.ir.TensorType::dtype).toArray(DType[]::new);
    }

    private int[] dimsOf(dev.kiln.ir.TensorType t) {
        int[] d = new int[t.rank()];
        for (int a = 0; a < d.length; a++)
            d[a] = t.dim(a) instanceof dev.kiln.ir.Dim.Sym(String s) ? -(program.symbols().indexOf(s) + 1) : (int) t.dim(a).size();
        return d;
    }

    /// Iterations of a loop nest (an estimate of its cost): extent x (1 + inner work).
    private static Expr work(Loop l) {
        Expr inner = new IntConst(1, DType.I32);
        for (Stmt s : l.body())
            if (s instanceof Loop i) inner = new Bin(BinOp.ADD, inner, work(i), DType.I32);
        return new Bin(BinOp.MUL, l.extent(), inner, DType.I32);
    }

    public KernelProgram program() { return program; }

    /// Starts (or restarts from zero) timing every kernel.
    public void enableProfile() { profile = new KernelProfile(plan); }

    /// The times measured since `enableProfile`, or null when not profiling.
    public KernelProfile profile() { return profile; }

    /// The intermediate memory of one call with symbols bound to `symbolValues` (in the order
    /// of `program().symbols()`): with the buffer plan, and without it.
    public long[] plannedBytes(int... symbolValues) {
        BufferPlan p = program.plan();
        return new long[]{p.plannedBytes(program.buffers(), s -> symbolValues[program.symbols().indexOf(s)]),
                p.unplannedBytes(program.buffers(), s -> symbolValues[program.symbols().indexOf(s)])};
    }

    @Override public List<NdArray> run(List<NdArray> inputs) {
        return run(inputs, null);
    }

    /// Runs into `outputs` (arrays of the result shapes, reused by the caller) when not null.
    public List<NdArray> run(List<NdArray> inputs, List<NdArray> outputs) {
        Workspace ws;
        synchronized (free) { ws = free.poll(); }
        if (ws == null) ws = new Workspace();
        try {
            return ws.run(inputs, outputs);
        } finally {
            synchronized (free) { free.push(ws); }
        }
    }

    /// The buffers of one call in flight.
    private final class Workspace implements Pool.Job {
        final Object[] buffers = new Object[program.buffers().size()];
        final int[] dims = new int[program.symbols().size()];
        final Object[] slots = new Object[program.plan().slotTypes().size()];
        final int[] slotCapacity = new int[slots.length];
        final int[] slotNeed = new int[slots.length];
        int task, extent, parts;

        List<NdArray> run(List<NdArray> inputs, List<NdArray> outputs) {
            bind(inputs);
            for (int i = 0; i < inputs.size(); i++) buffers[program.params().get(i)] = inputs.get(i).data();
            for (Buffer b : program.buffers())
                if (b.kind() == BufferKind.CONST) buffers[b.id()] = program.constants().get(b.index()).data();
            sizeSlots();
            List<NdArray> results = new ArrayList<>(program.results().size());
            boolean[] owned = new boolean[program.buffers().size()];
            for (int r = 0; r < program.results().size(); r++) {
                int b = program.results().get(r);
                Buffer buf = program.buffers().get(b);
                int[] shape = resolve(resultDims[r]);
                NdArray out;
                if (outputs != null) {
                    out = outputs.get(r);
                    if (out.dtype() != resultTypes[r] || !Arrays.equals(out.shape(), shape))
                        throw new IllegalArgumentException("output #" + r + " is " + out.dtype() + Arrays.toString(out.shape())
                                + ", expected " + resultTypes[r] + Arrays.toString(shape));
                } else out = NdArray.zeros(resultTypes[r], shape);
                results.add(out);
                if (buf.kind() == BufferKind.TEMP && !owned[b]) {
                    owned[b] = true;
                    buffers[b] = out.data();
                }
            }
            KernelProfile prof = profile;
            if (prof == null) for (int t = 0; t < tasks.size(); t++) runTask(t);
            else {
                for (int t = 0; t < tasks.size(); t++) {
                    if (tasks.get(t).inCall()) continue; // timed with its call
                    long t0 = System.nanoTime();
                    runTask(t);
                    prof.add(t, System.nanoTime() - t0, dims);
                }
                prof.endRun();
            }
            // results that are inputs, constants or repeats are copies
            for (int r = 0; r < results.size(); r++) {
                int b = program.results().get(r);
                Object data = results.get(r).data();
                if (buffers[b] != data) System.arraycopy(buffers[b], 0, data, 0, results.get(r).size());
            }
            Arrays.fill(buffers, null); // do not keep the caller's arrays alive
            return results;
        }

        void runTask(int t) {
            BytecodeGen.Task task = tasks.get(t);
            if (task.inCall()) return; // its call ran it
            if (task.call()) {
                code.run(t, buffers, dims, 0, 1);
                return;
            }
            int n = (int) BufferPlan.eval(extents[t], this::sym);
            if (n <= 0) return;
            int threads = pool.size();
            if (threads > 1 && n > 1 && BufferPlan.eval(works[t], this::sym) >= PARALLEL_WORK) {
                this.task = t;
                this.extent = n;
                // a few parts per thread: whoever is running takes the next one, so a thread the
                // OS has descheduled delays the call by one small part, not by half the loop
                this.parts = Math.min(threads * PARTS_PER_THREAD, n);
                pool.run(parts, this);
            } else code.run(t, buffers, dims, 0, n);
        }

        @Override public void run(int part) {
            long lo = (long) extent * part / parts, hi = (long) extent * (part + 1) / parts;
            if (lo < hi) code.run(task, buffers, dims, (int) lo, (int) hi);
        }

        int sym(String name) { return dims[program.symbols().indexOf(name)]; }

        int[] resolve(int[] d) {
            int[] out = new int[d.length];
            for (int a = 0; a < d.length; a++) out[a] = d[a] >= 0 ? d[a] : dims[-d[a] - 1];
            return out;
        }

        void bind(List<NdArray> inputs) {
            if (inputs.size() != paramNames.length)
                throw new IllegalArgumentException("graph @" + program.name() + " takes " + paramNames.length + " inputs, given " + inputs.size());
            Arrays.fill(dims, -1);
            for (int i = 0; i < inputs.size(); i++) {
                NdArray a = inputs.get(i);
                int[] want = paramDims[i];
                boolean ok = a.dtype() == paramDTypes[i] && a.rank() == want.length;
                for (int d = 0; ok && d < want.length; d++) {
                    int size = a.dim(d);
                    if (want[d] >= 0) ok = want[d] == size;
                    else if (dims[-want[d] - 1] < 0) dims[-want[d] - 1] = size;
                    else if (dims[-want[d] - 1] != size)
                        throw new IllegalArgumentException("input '%" + paramNames[i] + "' is " + a.dtype() + Arrays.toString(a.shape()).replace(" ", "")
                                + ", but " + program.symbols().get(-want[d] - 1) + " = " + dims[-want[d] - 1]
                                + " from an earlier input (expected " + paramTypes[i] + ")");
                }
                if (!ok) throw new IllegalArgumentException("input '%" + paramNames[i] + "' is " + a.dtype()
                        + Arrays.toString(a.shape()).replace(" ", "") + ", expected " + paramTypes[i]);
            }
        }

        /// Grows slot arrays that are too small for this call's sizes; keeps the rest.
        void sizeSlots() {
            BufferPlan plan = program.plan();
            Arrays.fill(slotNeed, 0);
            for (Buffer b : program.buffers()) {
                int s = plan.slotOf()[b.id()];
                if (s < 0) continue;
                long n = BufferPlan.eval(b.numel(), this::sym);
                if (n > Integer.MAX_VALUE - 8)
                    throw new IllegalArgumentException("intermediate " + b.name() + " of graph @" + program.name() + " would hold " + n
                            + " elements, more than an array can");
                slotNeed[s] = Math.max(slotNeed[s], (int) n);
            }
            for (int s = 0; s < slots.length; s++) {
                if (slots[s] == null || slotCapacity[s] < slotNeed[s]) {
                    slots[s] = NdArray.zeros(plan.slotTypes().get(s), slotNeed[s]).data();
                    slotCapacity[s] = slotNeed[s];
                }
            }
            for (Buffer b : program.buffers()) {
                int s = plan.slotOf()[b.id()];
                if (s >= 0) buffers[b.id()] = slots[s];
            }
        }
    }
}
