package dev.kiln.codegen.cuda.rt;

import dev.kiln.codegen.cuda.rt.CudaDriver.CudaException;
import dev.kiln.codegen.cuda.rt.CudaPlan.Buffer;
import dev.kiln.codegen.cuda.rt.CudaPlan.Kind;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.Size;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstreamCaptureMode;

import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.kiln.codegen.cuda.rt.CudaDriver.check;
import static jcuda.driver.JCudaDriver.*;

/// A `CudaPlan` and its PTX loaded on the GPU: what the compiler hands out in-process and what
/// a CUDA jar runs, one executor for both. A call copies the inputs into pinned host buffers,
/// then runs one CUDA graph holding the whole step: the host-to-device copies of the inputs,
/// every kernel launch, and the device-to-host copies of the results; it waits for the stream
/// and copies the results out of pinned memory into new arrays.
///
/// Each binding of the dimension symbols gets an `Instance`: device buffers sized for it (the
/// intermediates share memory as the plan's slots say), pinned staging, the launch arguments,
/// and the captured graph, built on the first call with that binding and replayed after. With
/// `graphs` false the same work is launched one call at a time instead.
///
/// Memory: the GPU state (module, constants, instances) is freed when the last hold on it goes:
/// `close` drops the creator's hold (`retain` adds more, for shared owners such as a compile
/// cache and the models that use its entries), and each `Resident` holds the state until it is
/// closed, since its captured graph reads the constants. An executable or resident that becomes
/// unreachable unclosed is released by a `Cleaner`. Released device memory goes back to the
/// process's caching allocator (`CudaDriver.trimCache` returns it to the driver).
///
/// Thread-safety: calls are serialized (one stream per process).
public class CudaPlanExecutable implements Executable, AutoCloseable {
    static final Cleaner CLEANER = Cleaner.create();

    private final Program program;
    private final Cleaner.Cleanable cleanable;
    private int handles = 1;

    public CudaPlanExecutable(CudaPlan plan, String ptx, List<NdArray> constants, boolean graphs) {
        Program p = new Program(plan, ptx, constants, graphs);
        this.program = p;
        this.cleanable = CLEANER.register(this, p.holds::release);
    }

    public CudaPlan plan() { return program.plan; }

    /// Adds a hold for one more owner, who calls `close` once when done; returns this.
    public synchronized CudaPlanExecutable retain() {
        if (handles == 0) throw new IllegalStateException("graph @" + program.plan.name() + ": executable is closed");
        handles++;
        return this;
    }

    /// Drops one hold; after the last, the GPU memory is released (once no resident loop uses it).
    @Override public void close() {
        synchronized (this) {
            if (handles == 0 || --handles > 0) return;
        }
        cleanable.clean();
    }

    private synchronized void checkOpen() {
        if (handles == 0) throw new IllegalStateException("graph @" + program.plan.name() + ": executable is closed");
    }

    @Override public List<NdArray> run(List<NdArray> inputs) {
        checkOpen();
        Program p = program;
        synchronized (p) {
            int[] dims = p.bind(inputs);
            p.cuda.enter();
            Instance in = p.instances.get(key(dims));
            if (in == null) {
                in = new Instance(p, dims, new int[0], new int[0]);
                p.instances.put(key(dims), in);
            }
            return in.run(inputs);
        }
    }

    /// A training loop's view of a compiled step: parameters `stateParams[i]` (weights, optimizer
    /// moments) stay on the device, and after each step result `stateResults[i]` (their new
    /// values) is copied over them on the device, inside the same CUDA graph; only the other
    /// inputs (a batch) go in and the other results (a loss) come out. `inputs` gives every
    /// parameter once, the state's starting values included, and fixes the shapes: each step
    /// takes arrays of the same shapes. Close it to free its device memory.
    public Resident resident(List<NdArray> inputs, int[] stateParams, int[] stateResults) {
        checkOpen();
        Program p = program;
        if (stateParams.length != stateResults.length)
            throw new IllegalArgumentException(stateParams.length + " state parameters but " + stateResults.length + " state results");
        for (int k = 0; k < stateParams.length; k++) {
            int sp = stateParams[k], r = stateResults[k];
            if (sp < 0 || sp >= p.plan.params().size() || r < 0 || r >= p.plan.results().size())
                throw new IllegalArgumentException("state pair #" + k + " (parameter " + sp + ", result " + r + ") is out of range");
            CudaPlan.Param param = p.plan.params().get(sp);
            CudaPlan.Result result = p.plan.results().get(r);
            if (param.dtype() != result.dtype() || !param.dims().equals(result.dims()))
                throw new IllegalArgumentException("state pair #" + k + ": parameter '%" + param.name() + "' (" + p.plan.paramType(sp)
                        + ") and result #" + r + " differ in type");
        }
        synchronized (p) {
            int[] dims = p.bind(inputs);
            p.holds.acquire("graph @" + p.plan.name() + ": executable");
            p.cuda.enter();
            Instance in;
            try {
                in = new Instance(p, dims, stateParams, stateResults);
            } catch (RuntimeException e) {
                p.holds.release();
                throw e;
            }
            for (int i = 0; i < inputs.size(); i++) {
                if (in.inBytes[i] == 0) continue;
                write(inputs.get(i), in.inView[i]);
                check(cuMemcpyHtoD(in.dev[p.plan.params().get(i).buffer()], in.hostIn[i], in.inBytes[i]), "cuMemcpyHtoD(state)");
            }
            return new Resident(p, in, inputs);
        }
    }

    /// See `resident`. Calls are serialized with those of its executable.
    public static final class Resident implements AutoCloseable {
        private final Program p;
        private final Instance in;
        private final List<NdArray> shapes;
        private final Cleaner.Cleanable cleanable;

        private Resident(Program p, Instance in, List<NdArray> shapes) {
            this.p = p;
            this.in = in;
            this.shapes = shapes.stream().map(a -> NdArray.zeros(a.dtype(), a.shape())).toList();
            this.cleanable = CLEANER.register(this, () -> {
                synchronized (p) {
                    in.close();
                }
                p.holds.release();
            });
        }

        /// One step on the non-state inputs (in parameter order); returns the non-state results.
        public List<NdArray> step(List<NdArray> batch) {
            synchronized (p) {
                checkOpen();
                int k = 0;
                for (int i = 0; i < in.skipIn.length; i++) {
                    if (in.skipIn[i]) continue;
                    NdArray a = batch.get(k++), want = shapes.get(i);
                    if (a.dtype() != want.dtype() || !Arrays.equals(a.shape(), want.shape()))
                        throw new IllegalArgumentException("input '%" + p.plan.params().get(i).name() + "' is " + a.dtype() + Arrays.toString(a.shape()).replace(" ", "")
                                + ", expected " + want.dtype() + Arrays.toString(want.shape()).replace(" ", "") + " (the shapes this loop started with)");
                }
                if (k != batch.size()) throw new IllegalArgumentException("step takes " + k + " inputs, given " + batch.size());
                p.cuda.enter();
                return in.run(batch);
            }
        }

        /// The state's current values, copied to the host (in `stateParams` order).
        public List<NdArray> state() {
            synchronized (p) {
                checkOpen();
                p.cuda.enter();
                List<NdArray> out = new ArrayList<>();
                for (int sp : in.stateParams) {
                    NdArray a = NdArray.zeros(p.plan.params().get(sp).dtype(), shapes.get(sp).shape());
                    if (in.inBytes[sp] > 0) {
                        check(cuMemcpyDtoH(in.hostIn[sp], in.dev[p.plan.params().get(sp).buffer()], in.inBytes[sp]), "cuMemcpyDtoH(state)");
                        read(in.inView[sp], a);
                    }
                    out.add(a);
                }
                return out;
            }
        }

        /// Mean microseconds per step over `iterations` back-to-back replays (no host copies).
        public double replayMicros(int iterations) {
            synchronized (p) {
                checkOpen();
                return p.replay(in, iterations);
            }
        }

        private void checkOpen() {
            if (in.closed) throw new IllegalStateException("graph @" + p.plan.name() + ": this resident loop is closed");
        }

        /// Frees the loop's device memory (and the executable's, when nothing else holds it).
        @Override public void close() { cleanable.clean(); }
    }

    /// Replays the step `iterations` times back to back on the inputs of the last `run` with
    /// the same shapes (no host copies in between) and returns the mean microseconds per step,
    /// measured around the whole batch of replays.
    public double replayMicros(List<NdArray> inputs, int iterations) {
        checkOpen();
        synchronized (program) {
            return program.replay(program.ran(inputs), iterations);
        }
    }

    /// Per-launch GPU time in microseconds (CUDA events around each launch, launched one by one
    /// on the inputs of an earlier `run` with the same shapes), in launch order; 0 for a launch
    /// skipped at these sizes. For finding where a step's time goes.
    public double[] profileMicros(List<NdArray> inputs) {
        checkOpen();
        Program p = program;
        synchronized (p) {
            Instance in = p.ran(inputs);
            p.cuda.enter();
            int n = p.plan.launches().size();
            jcuda.driver.CUevent[] ev = new jcuda.driver.CUevent[n + 1];
            for (int i = 0; i < ev.length; i++) {
                ev[i] = new jcuda.driver.CUevent();
                check(cuEventCreate(ev[i], 0), "cuEventCreate");
            }
            check(cuEventRecord(ev[0], p.cuda.stream), "cuEventRecord");
            for (int i = 0; i < n; i++) {
                in.launchOne(i);
                check(cuEventRecord(ev[i + 1], p.cuda.stream), "cuEventRecord");
            }
            check(cuEventSynchronize(ev[ev.length - 1]), "cuEventSynchronize");
            double[] out = new double[n];
            float[] ms = new float[1];
            for (int i = 0; i < out.length; i++) {
                check(cuEventElapsedTime(ms, ev[i], ev[i + 1]), "cuEventElapsedTime");
                out[i] = ms[0] * 1e3;
            }
            for (jcuda.driver.CUevent e : ev) cuEventDestroy(e);
            return out;
        }
    }

    private static List<Integer> key(int[] dims) { return Arrays.stream(dims).boxed().toList(); }

    // ---- host <-> pinned memory ----------------------------------------------------------

    static void write(NdArray a, ByteBuffer bb) {
        bb.clear();
        switch (a.data()) {
            case float[] f -> bb.asFloatBuffer().put(f);
            case double[] d -> bb.asDoubleBuffer().put(d);
            case int[] i -> bb.asIntBuffer().put(i);
            case long[] l -> bb.asLongBuffer().put(l);
            case short[] s -> bb.asShortBuffer().put(s);
            case boolean[] z -> { for (int i = 0; i < z.length; i++) bb.put(i, (byte) (z[i] ? 1 : 0)); }
            default -> throw new IllegalStateException();
        }
    }

    static void read(ByteBuffer bb, NdArray a) {
        bb.clear();
        switch (a.data()) {
            case float[] f -> bb.asFloatBuffer().get(f);
            case double[] d -> bb.asDoubleBuffer().get(d);
            case int[] i -> bb.asIntBuffer().get(i);
            case long[] l -> bb.asLongBuffer().get(l);
            case short[] s -> bb.asShortBuffer().get(s);
            case boolean[] z -> { for (int i = 0; i < z.length; i++) z[i] = bb.get(i) != 0; }
            default -> throw new IllegalStateException();
        }
    }

    /// The GPU state of one executable, shared with its resident loops; it never refers to the
    /// executable (so that a `Cleaner` can free it once the executable is unreachable). Every
    /// method runs under its lock.
    private static final class Program {
        final CudaPlan plan;
        final String ptx;
        final List<NdArray> constantData;
        final CudaDriver cuda;
        final CUfunction[] functions;
        final boolean graphs;
        final Map<List<Integer>, Instance> instances = new HashMap<>();
        final CUdeviceptr[] constants;
        final Holds holds = new Holds(this::free);

        Program(CudaPlan plan, String ptx, List<NdArray> constantData, boolean graphs) {
            this.plan = plan;
            this.ptx = ptx;
            this.constantData = List.copyOf(constantData);
            this.cuda = CudaDriver.get();
            this.graphs = graphs;
            for (Buffer b : plan.buffers())
                if (b.kind() == Kind.CONST && (b.index() < 0 || b.index() >= constantData.size()))
                    throw new IllegalArgumentException("graph @" + plan.name() + ": constant " + b.index() + " is missing");
            CUmodule module = cuda.load(ptx);
            functions = new CUfunction[plan.launches().size()];
            constants = new CUdeviceptr[plan.buffers().size()];
            try {
                for (int i = 0; i < functions.length; i++) {
                    functions[i] = new CUfunction();
                    String entry = plan.launches().get(i).entry();
                    check(cuModuleGetFunction(functions[i], module, entry), "cuModuleGetFunction(" + entry + ")");
                }
                cuda.enter();
                for (int id = 0; id < constants.length; id++) {
                    Buffer b = plan.buffers().get(id);
                    if (b.kind() != Kind.CONST) continue;
                    long bytes = bytes(b, null);
                    constants[id] = cuda.allocator.alloc(bytes);
                    if (bytes > 0) {
                        ByteBuffer bb = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
                        write(constantData.get(b.index()), bb);
                        check(cuMemcpyHtoD(constants[id], Pointer.to(bb), bytes), "cuMemcpyHtoD(constant)");
                    }
                }
            } catch (RuntimeException e) {
                free();
                throw e;
            }
        }

        long bytes(Buffer b, int[] dims) {
            if (b.kind() == Kind.CONST) return (long) constantData.get(b.index()).size() * b.dtype().byteSize();
            return b.numel().eval(dims) * b.dtype().byteSize();
        }

        /// The sizes of the symbols that `inputs` binds; throws for an input of the wrong type.
        int[] bind(List<NdArray> inputs) {
            List<CudaPlan.Param> params = plan.params();
            if (inputs.size() != params.size())
                throw new IllegalArgumentException("graph @" + plan.name() + " takes " + params.size() + " inputs, given " + inputs.size());
            int[] dims = new int[plan.symbols().size()];
            Arrays.fill(dims, -1);
            for (int i = 0; i < inputs.size(); i++) {
                NdArray a = inputs.get(i);
                List<Integer> want = params.get(i).dims();
                boolean ok = a.dtype() == params.get(i).dtype() && a.rank() == want.size();
                for (int d = 0; ok && d < want.size(); d++) {
                    int size = a.dim(d), w = want.get(d);
                    if (w >= 0) ok = w == size;
                    else if (dims[-w - 1] < 0) dims[-w - 1] = size;
                    else ok = dims[-w - 1] == size;
                }
                if (!ok) throw new IllegalArgumentException("input '%" + params.get(i).name() + "' is " + a.dtype()
                        + Arrays.toString(a.shape()).replace(" ", "") + ", expected " + plan.paramType(i));
            }
            return dims;
        }

        /// The instance an earlier `run` made for the shapes of `inputs`.
        Instance ran(List<NdArray> inputs) {
            Instance in = instances.get(key(bind(inputs)));
            if (in == null) throw new IllegalStateException("run once first");
            return in;
        }

        double replay(Instance in, int iterations) {
            cuda.enter();
            long t0 = System.nanoTime();
            for (int i = 0; i < iterations; i++) in.launch();
            check(cuStreamSynchronize(cuda.stream), "cuStreamSynchronize");
            return (System.nanoTime() - t0) / 1e3 / iterations;
        }

        /// Frees everything, after the last hold: the instances' graphs first, then their memory
        /// and the constants, then the module. Runs once (see `Holds`).
        synchronized void free() {
            cuda.enter();
            cuStreamSynchronize(cuda.stream); // nothing of ours may still be running
            for (Instance in : instances.values()) in.close();
            instances.clear();
            for (int id = 0; id < constants.length; id++)
                if (constants[id] != null) cuda.allocator.release(constants[id], bytes(plan.buffers().get(id), null));
            cuda.unload(ptx);
        }
    }

    /// Everything one binding of the symbols needs on the device.
    private static final class Instance {
        final Program p;
        final int[] dims;
        /// Resident state: parameter `stateParams[i]` is not copied in, result `stateResults[i]`
        /// is not copied out but copied over that parameter's device buffer after each step.
        final int[] stateParams, stateResults;
        final boolean[] skipIn, skipOut;
        final CUdeviceptr[] dev;
        final List<CUdeviceptr> owned = new ArrayList<>();
        final List<Long> ownedBytes = new ArrayList<>();
        final Pointer[] hostIn, hostOut;
        final ByteBuffer[] inView, outView;
        final long[] inBytes, outBytes;
        final int[][] grids;
        final Pointer[] params;
        CUgraph graph;
        CUgraphExec exec;
        boolean closed;

        Instance(Program p, int[] dims, int[] stateParams, int[] stateResults) {
            this.p = p;
            this.dims = dims.clone();
            this.stateParams = stateParams.clone();
            this.stateResults = stateResults.clone();
            CudaPlan plan = p.plan;
            int np = plan.params().size(), nr = plan.results().size();
            skipIn = new boolean[np];
            skipOut = new boolean[nr];
            for (int sp : stateParams) skipIn[sp] = true;
            for (int r : stateResults) skipOut[r] = true;
            dev = new CUdeviceptr[plan.buffers().size()];
            hostIn = new Pointer[np];
            inView = new ByteBuffer[np];
            inBytes = new long[np];
            hostOut = new Pointer[nr];
            outView = new ByteBuffer[nr];
            outBytes = new long[nr];
            grids = new int[plan.launches().size()][];
            params = new Pointer[plan.launches().size()];
            try {
                allocate();
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        private void allocate() {
            CudaPlan plan = p.plan;
            Map<Integer, Long> slotBytes = new HashMap<>();
            for (Buffer b : plan.buffers())
                if (b.kind() == Kind.TEMP && b.slot() >= 0) slotBytes.merge(b.slot(), p.bytes(b, dims), Math::max);
            Map<Integer, CUdeviceptr> slots = new HashMap<>();
            for (var e : slotBytes.entrySet()) slots.put(e.getKey(), own(e.getValue()));
            for (int id = 0; id < dev.length; id++) {
                Buffer b = plan.buffers().get(id);
                dev[id] = switch (b.kind()) {
                    case CONST -> p.constants[id];
                    case PARAM -> own(p.bytes(b, dims));
                    case TEMP -> b.slot() >= 0 ? slots.get(b.slot()) : own(p.bytes(b, dims));
                };
            }
            for (int i = 0; i < hostIn.length; i++) inView[i] = stage(hostIn, inBytes, i, plan.params().get(i).buffer());
            for (int r = 0; r < hostOut.length; r++) outView[r] = stage(hostOut, outBytes, r, plan.results().get(r).buffer());
            for (int i = 0; i < grids.length; i++) {
                CudaPlan.Launch l = plan.launches().get(i);
                grids[i] = new int[]{eval(l.gridX()), eval(l.gridY()), eval(l.gridZ())};
                Pointer[] args = new Pointer[l.args().size()];
                for (int a = 0; a < args.length; a++)
                    args[a] = switch (l.args().get(a)) {
                        case CudaPlan.Buf b -> Pointer.to(dev[b.id()]);
                        case CudaPlan.Int n -> Pointer.to(new int[]{eval(n.value())});
                    };
                params[i] = Pointer.to(args);
            }
            if (p.graphs) capture();
        }

        /// Pinned host memory for buffer `id` at `host[k]`, its size at `bytes[k]`; returns its view.
        private ByteBuffer stage(Pointer[] host, long[] bytes, int k, int id) {
            bytes[k] = p.bytes(p.plan.buffers().get(id), dims);
            host[k] = CudaDriver.pinned(bytes[k]);
            return host[k].getByteBuffer(0, Math.max(1, bytes[k])).order(ByteOrder.nativeOrder());
        }

        int eval(Size e) {
            long v = e.eval(dims);
            if (v > Integer.MAX_VALUE) throw new IllegalArgumentException("graph @" + p.plan.name() + ": size " + v + " is too large for a launch");
            return (int) v;
        }

        CUdeviceptr own(long bytes) {
            CUdeviceptr ptr = p.cuda.allocator.alloc(bytes);
            owned.add(ptr);
            ownedBytes.add(bytes);
            return ptr;
        }

        /// The whole step on the stream: inputs in, kernels, results out.
        void enqueue() {
            List<CudaPlan.Param> ps = p.plan.params();
            List<CudaPlan.Result> rs = p.plan.results();
            for (int i = 0; i < hostIn.length; i++)
                if (inBytes[i] > 0 && !skipIn[i])
                    check(cuMemcpyHtoDAsync(dev[ps.get(i).buffer()], hostIn[i], inBytes[i], p.cuda.stream), "cuMemcpyHtoDAsync");
            for (int i = 0; i < grids.length; i++) launchOne(i);
            for (int k = 0; k < stateParams.length; k++) {
                CUdeviceptr from = dev[rs.get(stateResults[k]).buffer()], to = dev[ps.get(stateParams[k]).buffer()];
                if (from != to && inBytes[stateParams[k]] > 0)
                    check(cuMemcpyDtoDAsync(to, from, inBytes[stateParams[k]], p.cuda.stream), "cuMemcpyDtoDAsync(state)");
            }
            for (int r = 0; r < hostOut.length; r++)
                if (outBytes[r] > 0 && !skipOut[r])
                    check(cuMemcpyDtoHAsync(hostOut[r], dev[rs.get(r).buffer()], outBytes[r], p.cuda.stream), "cuMemcpyDtoHAsync");
        }

        void launchOne(int i) {
            int[] g = grids[i];
            if (g[0] <= 0 || g[1] <= 0 || g[2] <= 0) return;
            CudaPlan.Launch l = p.plan.launches().get(i);
            check(cuLaunchKernel(p.functions[i], g[0], g[1], g[2], l.block(), 1, 1, 0, p.cuda.stream, params[i], null),
                    "cuLaunchKernel(" + l.entry() + ")");
        }

        void capture() {
            check(cuStreamBeginCapture(p.cuda.stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
            try {
                enqueue();
            } finally {
                graph = new CUgraph();
                check(cuStreamEndCapture(p.cuda.stream, graph), "cuStreamEndCapture");
            }
            exec = new CUgraphExec();
            check(cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate");
        }

        void launch() {
            if (exec != null) check(cuGraphLaunch(exec, p.cuda.stream), "cuGraphLaunch");
            else enqueue();
        }

        /// One step: `inputs` holds an array for every parameter that is not state (in order),
        /// the result lists every result that is not state (in order).
        List<NdArray> run(List<NdArray> inputs) {
            int k = 0;
            for (int i = 0; i < inView.length; i++) {
                if (skipIn[i]) continue;
                NdArray a = inputs.get(k++);
                if (inBytes[i] > 0) write(a, inView[i]);
            }
            launch();
            int rc = cuStreamSynchronize(p.cuda.stream);
            if (rc != 0) throw new CudaException("graph @" + p.plan.name() + ": the step failed on the GPU: " + jcuda.driver.CUresult.stringFor(rc));
            List<NdArray> out = new ArrayList<>(outView.length);
            for (int r = 0; r < outView.length; r++) {
                if (skipOut[r]) continue;
                List<Integer> want = p.plan.results().get(r).dims();
                int[] shape = new int[want.size()];
                for (int a = 0; a < shape.length; a++) shape[a] = want.get(a) >= 0 ? want.get(a) : dims[-want.get(a) - 1];
                DType dtype = p.plan.results().get(r).dtype();
                NdArray a = NdArray.zeros(dtype, shape);
                if (outBytes[r] > 0) read(outView[r], a);
                out.add(a);
            }
            return out;
        }

        /// Destroys the captured graph before releasing the memory it reads. Idempotent.
        void close() {
            if (closed) return;
            closed = true;
            p.cuda.enter();
            cuStreamSynchronize(p.cuda.stream);
            if (exec != null) cuGraphExecDestroy(exec);
            if (graph != null) cuGraphDestroy(graph);
            for (Pointer h : hostIn) if (h != null) cuMemFreeHost(h);
            for (Pointer h : hostOut) if (h != null) cuMemFreeHost(h);
            for (int i = 0; i < owned.size(); i++) p.cuda.allocator.release(owned.get(i), ownedBytes.get(i));
        }
    }
}
