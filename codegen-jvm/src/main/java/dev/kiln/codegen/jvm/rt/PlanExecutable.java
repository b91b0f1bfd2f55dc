package dev.kiln.codegen.jvm.rt;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/// Generated kernels run from a `Plan`: the JVM backend's one executor, both in-process (what
/// `JvmBackend.compile` returns) and in a standalone jar, without the compiler. Each call binds
/// the dimension symbols from the inputs' shapes, sizes the plan's memory slots for them, and
/// runs the tasks in order, splitting large loops across a `Pool`. Being the same code on the
/// same plan, a jar and the in-process model give the same bits for the same inputs and thread
/// count.
///
/// Memory: intermediates live in a `Workspace` (one array per plan slot, grown when a call
/// needs more and otherwise kept), so a steady stream of calls allocates no tensors but the
/// result arrays, and none at all through `run(inputs, outputs)`.
///
/// Profiling (`enableProfile`): each task is timed and counted, see `KernelProfile`.
///
/// Thread-safety: safe to call from several threads at once. Each call takes a workspace of its
/// own from a free list (creating one when all are busy), so concurrent calls never share
/// intermediates; the returned arrays belong to the caller. The profile counters are updated
/// under a lock.
public final class PlanExecutable implements Executable {
    /// Loops with less work than this (elements times inner iterations) stay on one thread.
    static final long PARALLEL_WORK = 1 << 15;
    /// A split loop has this many parts per thread: whoever is running takes the next one, so a
    /// thread the OS has descheduled delays the call by one small part, not by half the loop.
    static final int PARTS_PER_THREAD = 4;

    private final Plan plan;
    private final KernelSet code;
    private final List<NdArray> constants;
    private final Pool pool;
    private final ArrayDeque<Workspace> free = new ArrayDeque<>();
    private volatile KernelProfile profile;

    public PlanExecutable(Plan plan, KernelSet code, List<NdArray> constants, Pool pool) {
        this.plan = plan;
        this.code = code;
        this.constants = List.copyOf(constants);
        this.pool = pool;
        for (Plan.Buffer b : plan.buffers())
            if (b.kind() == Plan.Kind.CONST && (b.index() < 0 || b.index() >= constants.size()))
                throw new IllegalArgumentException("plan @" + plan.name() + ": buffer " + b.name() + " reads constant #" + b.index()
                        + ", but " + constants.size() + " were given");
    }

    public Plan plan() { return plan; }

    /// Starts (or restarts from zero) timing every task.
    public void enableProfile() { profile = new KernelProfile(plan); }

    /// The times measured since `enableProfile`, or null when not profiling.
    public KernelProfile profile() { return profile; }

    /// The intermediate memory of one call with symbols bound to `symbolValues` (in the order
    /// of `plan().symbols()`), in bytes: with the plan's slots (the largest buffer of each), and
    /// with one array per intermediate instead.
    public long[] plannedBytes(int... symbolValues) {
        long[] slotMax = new long[plan.slotTypes().size()];
        long unplanned = 0;
        for (Plan.Buffer b : plan.buffers()) {
            if (b.slot() < 0) continue;
            long n = b.numel().eval(symbolValues);
            slotMax[b.slot()] = Math.max(slotMax[b.slot()], n);
            unplanned += n * b.dtype().byteSize();
        }
        long planned = 0;
        for (int s = 0; s < slotMax.length; s++) planned += slotMax[s] * plan.slotTypes().get(s).byteSize();
        return new long[]{planned, unplanned};
    }

    @Override public List<NdArray> run(List<NdArray> inputs) { return run(inputs, null); }

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
        final Object[] buffers = new Object[plan.buffers().size()];
        final int[] dims = new int[plan.symbols().size()];
        final Object[] slots = new Object[plan.slotTypes().size()];
        final int[] slotCapacity = new int[slots.length];
        final int[] slotNeed = new int[slots.length];
        int task, extent, parts;

        List<NdArray> run(List<NdArray> inputs, List<NdArray> outputs) {
            bind(inputs);
            for (int i = 0; i < inputs.size(); i++) buffers[plan.params().get(i).buffer()] = inputs.get(i).data();
            for (int b = 0; b < buffers.length; b++) {
                Plan.Buffer buf = plan.buffers().get(b);
                if (buf.kind() == Plan.Kind.CONST) buffers[b] = constants.get(buf.index()).data();
            }
            sizeSlots();
            int nr = plan.results().size();
            List<NdArray> results = new ArrayList<>(nr);
            boolean[] owned = new boolean[buffers.length];
            for (int r = 0; r < nr; r++) {
                Plan.Result res = plan.results().get(r);
                int b = res.buffer();
                int[] shape = resolve(res.dims());
                NdArray out;
                if (outputs != null) {
                    out = outputs.get(r);
                    if (out.dtype() != res.dtype() || !Arrays.equals(out.shape(), shape))
                        throw new IllegalArgumentException("output #" + r + " is " + out.dtype() + Arrays.toString(out.shape())
                                + ", expected " + res.dtype() + Arrays.toString(shape));
                } else out = NdArray.zeros(res.dtype(), shape);
                results.add(out);
                if (plan.buffers().get(b).kind() == Plan.Kind.TEMP && !owned[b]) {
                    owned[b] = true;
                    buffers[b] = out.data();
                }
            }
            KernelProfile prof = profile;
            int n = plan.tasks().size();
            if (prof == null) for (int t = 0; t < n; t++) runTask(t);
            else {
                for (int t = 0; t < n; t++) {
                    if (plan.tasks().get(t).kind() == Plan.TaskKind.EPILOGUE) continue;
                    long t0 = System.nanoTime();
                    runTask(t);
                    prof.add(t, System.nanoTime() - t0, dims);
                }
                prof.endRun();
            }
            // results that are inputs, constants or repeats are copies
            for (int r = 0; r < nr; r++) {
                int b = plan.results().get(r).buffer();
                Object data = results.get(r).data();
                if (buffers[b] != data) System.arraycopy(buffers[b], 0, data, 0, results.get(r).size());
            }
            Arrays.fill(buffers, null); // do not keep the caller's arrays alive
            return results;
        }

        void runTask(int t) {
            Plan.Task task = plan.tasks().get(t);
            switch (task.kind()) {
                case EPILOGUE -> {} // its call runs it
                case CALL -> {
                    // the library splits its work over this executable's pool
                    Pool prev = Pool.enter(pool);
                    try {
                        code.run(t, buffers, dims, 0, 1);
                    } finally {
                        Pool.leave(prev);
                    }
                }
                case LOOP -> {
                    int n = (int) task.extent().eval(dims);
                    if (n <= 0) return;
                    int threads = pool.size();
                    if (threads > 1 && n > 1 && task.work().eval(dims) >= PARALLEL_WORK) {
                        this.task = t;
                        this.extent = n;
                        this.parts = Math.min(threads * PARTS_PER_THREAD, n);
                        pool.run(parts, this);
                    } else code.run(t, buffers, dims, 0, n);
                }
            }
        }

        @Override public void run(int part) {
            long lo = (long) extent * part / parts, hi = (long) extent * (part + 1) / parts;
            if (lo < hi) code.run(task, buffers, dims, (int) lo, (int) hi);
        }

        int[] resolve(int[] d) {
            int[] out = new int[d.length];
            for (int a = 0; a < d.length; a++) out[a] = d[a] >= 0 ? d[a] : dims[-d[a] - 1];
            return out;
        }

        void bind(List<NdArray> inputs) {
            List<Plan.Param> params = plan.params();
            if (inputs.size() != params.size())
                throw new IllegalArgumentException("graph @" + plan.name() + " takes " + params.size() + " inputs, given " + inputs.size());
            Arrays.fill(dims, -1);
            for (int i = 0; i < inputs.size(); i++) {
                NdArray a = inputs.get(i);
                int[] want = params.get(i).dims();
                boolean ok = a.dtype() == params.get(i).dtype() && a.rank() == want.length;
                for (int d = 0; ok && d < want.length; d++) {
                    int size = a.dim(d);
                    if (want[d] >= 0) ok = want[d] == size;
                    else if (dims[-want[d] - 1] < 0) dims[-want[d] - 1] = size;
                    else if (dims[-want[d] - 1] != size)
                        throw new IllegalArgumentException("input '%" + params.get(i).name() + "' is " + a.dtype()
                                + Arrays.toString(a.shape()).replace(" ", "") + ", but " + plan.symbols().get(-want[d] - 1) + " = "
                                + dims[-want[d] - 1] + " from an earlier input (expected " + plan.paramType(i) + ")");
                }
                if (!ok) throw new IllegalArgumentException("input '%" + params.get(i).name() + "' is " + a.dtype()
                        + Arrays.toString(a.shape()).replace(" ", "") + ", expected " + plan.paramType(i));
            }
        }

        /// Grows slot arrays that are too small for this call's sizes; keeps the rest.
        void sizeSlots() {
            Arrays.fill(slotNeed, 0);
            List<Plan.Buffer> bufs = plan.buffers();
            for (Plan.Buffer b : bufs) {
                if (b.slot() < 0) continue;
                long n = b.numel().eval(dims);
                if (n > Integer.MAX_VALUE - 8)
                    throw new IllegalArgumentException("intermediate " + b.name() + " of graph @" + plan.name() + " would hold " + n
                            + " elements, more than an array can");
                slotNeed[b.slot()] = Math.max(slotNeed[b.slot()], (int) n);
            }
            for (int s = 0; s < slots.length; s++) {
                if (slots[s] == null || slotCapacity[s] < slotNeed[s]) {
                    DType d = plan.slotTypes().get(s);
                    slots[s] = NdArray.zeros(d, slotNeed[s]).data();
                    slotCapacity[s] = slotNeed[s];
                }
            }
            for (int b = 0; b < bufs.size(); b++) {
                int s = bufs.get(b).slot();
                if (s >= 0) buffers[b] = slots[s];
            }
        }
    }
}
