package dev.kiln.codegen.cuda;

import dev.kiln.codegen.cuda.CudaDriver.CudaException;
import dev.kiln.ir.Dim;
import dev.kiln.ir.TensorType;
import dev.kiln.passes.lower.BufferPlan;
import dev.kiln.passes.lower.Kir.Buffer;
import dev.kiln.passes.lower.Kir.BufferKind;
import dev.kiln.passes.lower.Kir.Expr;
import dev.kiln.passes.lower.KernelProgram;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.Executable;
import dev.kiln.runtime.NdArray;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstreamCaptureMode;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.kiln.codegen.cuda.CudaDriver.check;
import static jcuda.driver.JCudaDriver.*;

/// A graph compiled to PTX and loaded on the GPU. A call copies the inputs into pinned host
/// buffers, then runs one CUDA graph holding the whole step: the host-to-device copies of the
/// inputs, every kernel launch, and the device-to-host copies of the results; it waits for the
/// stream and copies the results out of pinned memory into new arrays.
///
/// Each binding of the dimension symbols gets an `Instance`: device buffers sized for it (the
/// intermediates share memory as the buffer plan says), pinned staging, the launch arguments,
/// and the captured graph, built on the first call with that binding and replayed after. With
/// `-Dkiln.cuda.graphs=false` the same work is launched one call at a time instead.
///
/// Thread-safety: calls are serialized (one stream per process).
public final class CudaExecutable implements Executable, AutoCloseable {
    private final PtxProgram ptx;
    private final KernelProgram program;
    private final CudaDriver cuda;
    private final CUfunction[] functions;
    private final boolean graphs;
    private final String[] paramNames, paramTypes;
    private final DType[] paramDTypes, resultDTypes;
    private final int[][] paramDims, resultDims;
    private final Map<List<Integer>, Instance> instances = new HashMap<>();
    private final Map<Integer, CUdeviceptr> constants = new HashMap<>();
    private boolean closed;

    CudaExecutable(PtxProgram ptx, List<String> paramNames, List<TensorType> paramTypes, List<TensorType> resultTypes, boolean graphs) {
        this.ptx = ptx;
        this.program = ptx.program();
        this.cuda = CudaDriver.get();
        this.graphs = graphs;
        CUmodule module = cuda.module(ptx.ptx());
        functions = new CUfunction[ptx.launches().size()];
        for (int i = 0; i < functions.length; i++) {
            functions[i] = new CUfunction();
            check(cuModuleGetFunction(functions[i], module, ptx.launches().get(i).entry()), "cuModuleGetFunction(" + ptx.launches().get(i).entry() + ")");
        }
        this.paramNames = paramNames.toArray(String[]::new);
        this.paramTypes = paramTypes.stream().map(Object::toString).toArray(String[]::new);
        this.paramDTypes = paramTypes.stream().map(TensorType::dtype).toArray(DType[]::new);
        this.paramDims = paramTypes.stream().map(this::dimsOf).toArray(int[][]::new);
        this.resultDTypes = resultTypes.stream().map(TensorType::dtype).toArray(DType[]::new);
        this.resultDims = resultTypes.stream().map(this::dimsOf).toArray(int[][]::new);
        cuda.enter();
        for (Buffer b : program.buffers()) {
            if (b.kind() != BufferKind.CONST) continue;
            NdArray data = program.constants().get(b.index());
            long bytes = (long) data.size() * b.dtype().byteSize();
            CUdeviceptr p = cuda.allocator.alloc(bytes);
            if (bytes > 0) {
                ByteBuffer bb = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
                write(data, bb);
                check(cuMemcpyHtoD(p, Pointer.to(bb), bytes), "cuMemcpyHtoD(constant)");
            }
            constants.put(b.id(), p);
        }
    }

    private int[] dimsOf(TensorType t) {
        int[] d = new int[t.rank()];
        for (int a = 0; a < d.length; a++)
            d[a] = t.dim(a) instanceof Dim.Sym(String s) ? -(program.symbols().indexOf(s) + 1) : (int) t.dim(a).size();
        return d;
    }

    public PtxProgram ptx() { return ptx; }

    @Override public synchronized List<NdArray> run(List<NdArray> inputs) {
        if (closed) throw new IllegalStateException("graph @" + program.name() + ": executable is closed");
        int[] dims = bind(inputs);
        cuda.enter();
        Instance in = instances.get(key(dims));
        if (in == null) {
            in = new Instance(dims, new int[0], new int[0]);
            instances.put(key(dims), in);
        }
        return in.run(inputs);
    }

    /// A training loop's view of a compiled step: parameters `stateParams[i]` (weights, optimizer
    /// moments) stay on the device, and after each step result `stateResults[i]` (their new
    /// values) is copied over them on the device, inside the same CUDA graph; only the other
    /// inputs (a batch) go in and the other results (a loss) come out. `inputs` gives every
    /// parameter once, the state's starting values included, and fixes the shapes: each step
    /// takes arrays of the same shapes.
    public synchronized Resident resident(List<NdArray> inputs, int[] stateParams, int[] stateResults) {
        if (stateParams.length != stateResults.length)
            throw new IllegalArgumentException(stateParams.length + " state parameters but " + stateResults.length + " state results");
        for (int k = 0; k < stateParams.length; k++) {
            int p = stateParams[k], r = stateResults[k];
            if (p < 0 || p >= paramNames.length || r < 0 || r >= resultDTypes.length)
                throw new IllegalArgumentException("state pair #" + k + " (parameter " + p + ", result " + r + ") is out of range");
            if (paramDTypes[p] != resultDTypes[r] || !Arrays.equals(paramDims[p], resultDims[r]))
                throw new IllegalArgumentException("state pair #" + k + ": parameter '%" + paramNames[p] + "' (" + paramTypes[p]
                        + ") and result #" + r + " differ in type");
        }
        int[] dims = bind(inputs);
        cuda.enter();
        Instance in = new Instance(dims, stateParams, stateResults);
        for (int i = 0; i < inputs.size(); i++) {
            if (in.inBytes[i] == 0) continue;
            write(inputs.get(i), in.inView[i]);
            check(cuMemcpyHtoD(in.dev[program.params().get(i)], in.hostIn[i], in.inBytes[i]), "cuMemcpyHtoD(state)");
        }
        return new Resident(in, inputs);
    }

    /// See `resident`. Not thread-safe on its own; calls go through the executable's lock.
    public final class Resident implements AutoCloseable {
        private final Instance in;
        private final List<NdArray> shapes;

        private Resident(Instance in, List<NdArray> shapes) {
            this.in = in;
            this.shapes = shapes.stream().map(a -> NdArray.zeros(a.dtype(), a.shape())).toList();
        }

        /// One step on the non-state inputs (in parameter order); returns the non-state results.
        public List<NdArray> step(List<NdArray> batch) {
            synchronized (CudaExecutable.this) {
                int k = 0;
                for (int i = 0; i < in.skipIn.length; i++) {
                    if (in.skipIn[i]) continue;
                    NdArray a = batch.get(k++), want = shapes.get(i);
                    if (a.dtype() != want.dtype() || !Arrays.equals(a.shape(), want.shape()))
                        throw new IllegalArgumentException("input '%" + paramNames[i] + "' is " + a.dtype() + Arrays.toString(a.shape()).replace(" ", "")
                                + ", expected " + want.dtype() + Arrays.toString(want.shape()).replace(" ", "") + " (the shapes this loop started with)");
                }
                if (k != batch.size()) throw new IllegalArgumentException("step takes " + k + " inputs, given " + batch.size());
                cuda.enter();
                return in.run(batch);
            }
        }

        /// The state's current values, copied to the host (in `stateParams` order).
        public List<NdArray> state() {
            synchronized (CudaExecutable.this) {
                cuda.enter();
                List<NdArray> out = new ArrayList<>();
                for (int p : in.stateParams) {
                    NdArray a = NdArray.zeros(paramDTypes[p], shapes.get(p).shape());
                    if (in.inBytes[p] > 0) {
                        check(cuMemcpyDtoH(in.hostIn[p], in.dev[program.params().get(p)], in.inBytes[p]), "cuMemcpyDtoH(state)");
                        read(in.inView[p], a);
                    }
                    out.add(a);
                }
                return out;
            }
        }

        /// Mean microseconds per step over `iterations` back-to-back replays (no host copies).
        double replayMicros(int iterations) {
            synchronized (CudaExecutable.this) {
                cuda.enter();
                long t0 = System.nanoTime();
                for (int i = 0; i < iterations; i++) in.launch();
                check(cuStreamSynchronize(cuda.stream), "cuStreamSynchronize");
                return (System.nanoTime() - t0) / 1e3 / iterations;
            }
        }

        @Override public void close() {
            synchronized (CudaExecutable.this) {
                cuda.enter();
                in.close();
            }
        }
    }

    /// Replays the step `iterations` times back to back on the inputs of the last `run` with
    /// the same shapes (no host copies in between) and returns the mean microseconds per step,
    /// measured around the whole batch of replays.
    synchronized double replayMicros(List<NdArray> inputs, int iterations) {
        int[] dims = bind(inputs);
        Instance in = instances.get(key(dims));
        if (in == null) throw new IllegalStateException("run once first");
        cuda.enter();
        long t0 = System.nanoTime();
        for (int i = 0; i < iterations; i++) in.launch();
        check(cuStreamSynchronize(cuda.stream), "cuStreamSynchronize");
        return (System.nanoTime() - t0) / 1e3 / iterations;
    }

    /// Per-launch GPU time in microseconds (CUDA events around each launch, launched one by one
    /// on the inputs of an earlier `run` with the same shapes), in launch order; 0 for a launch
    /// skipped at these sizes. For finding where a step's time goes.
    synchronized double[] profileMicros(List<NdArray> inputs) {
        int[] dims = bind(inputs);
        Instance in = instances.get(key(dims));
        if (in == null) throw new IllegalStateException("run once first");
        cuda.enter();
        List<Launch> launches = ptx.launches();
        jcuda.driver.CUevent[] ev = new jcuda.driver.CUevent[launches.size() + 1];
        for (int i = 0; i < ev.length; i++) {
            ev[i] = new jcuda.driver.CUevent();
            check(cuEventCreate(ev[i], 0), "cuEventCreate");
        }
        check(cuEventRecord(ev[0], cuda.stream), "cuEventRecord");
        for (int i = 0; i < launches.size(); i++) {
            in.launchOne(i);
            check(cuEventRecord(ev[i + 1], cuda.stream), "cuEventRecord");
        }
        check(cuEventSynchronize(ev[ev.length - 1]), "cuEventSynchronize");
        double[] out = new double[launches.size()];
        float[] ms = new float[1];
        for (int i = 0; i < out.length; i++) {
            check(cuEventElapsedTime(ms, ev[i], ev[i + 1]), "cuEventElapsedTime");
            out[i] = ms[0] * 1e3;
        }
        for (jcuda.driver.CUevent e : ev) cuEventDestroy(e);
        return out;
    }

    private static List<Integer> key(int[] dims) { return Arrays.stream(dims).boxed().toList(); }

    private int[] bind(List<NdArray> inputs) {
        if (inputs.size() != paramNames.length)
            throw new IllegalArgumentException("graph @" + program.name() + " takes " + paramNames.length + " inputs, given " + inputs.size());
        int[] dims = new int[program.symbols().size()];
        Arrays.fill(dims, -1);
        for (int i = 0; i < inputs.size(); i++) {
            NdArray a = inputs.get(i);
            int[] want = paramDims[i];
            boolean ok = a.dtype() == paramDTypes[i] && a.rank() == want.length;
            for (int d = 0; ok && d < want.length; d++) {
                int size = a.dim(d);
                if (want[d] >= 0) ok = want[d] == size;
                else if (dims[-want[d] - 1] < 0) dims[-want[d] - 1] = size;
                else ok = dims[-want[d] - 1] == size;
            }
            if (!ok) throw new IllegalArgumentException("input '%" + paramNames[i] + "' is " + a.dtype()
                    + Arrays.toString(a.shape()).replace(" ", "") + ", expected " + paramTypes[i]);
        }
        return dims;
    }

    @Override public synchronized void close() {
        if (closed) return;
        closed = true;
        cuda.enter();
        for (Instance in : instances.values()) in.close();
        instances.clear();
        for (var e : constants.entrySet()) cuda.allocator.release(e.getValue(), bytes(program.buffers().get(e.getKey()), null));
    }

    private long bytes(Buffer b, int[] dims) {
        if (b.kind() == BufferKind.CONST) return (long) program.constants().get(b.index()).size() * b.dtype().byteSize();
        return BufferPlan.eval(b.numel(), s -> dims[program.symbols().indexOf(s)]) * b.dtype().byteSize();
    }

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

    /// Everything one binding of the symbols needs on the device.
    private final class Instance {
        final int[] dims;
        /// Resident state: parameter `stateParams[i]` is not copied in, result `stateResults[i]`
        /// is not copied out but copied over that parameter's device buffer after each step.
        final int[] stateParams, stateResults;
        final boolean[] skipIn, skipOut;
        final CUdeviceptr[] dev = new CUdeviceptr[program.buffers().size()];
        final List<CUdeviceptr> owned = new ArrayList<>();
        final List<Long> ownedBytes = new ArrayList<>();
        final Pointer[] hostIn, hostOut;
        final ByteBuffer[] inView, outView;
        final long[] inBytes, outBytes;
        final int[][] grids;
        final Pointer[] params;
        CUgraph graph;
        CUgraphExec exec;

        Instance(int[] dims, int[] stateParams, int[] stateResults) {
            this.dims = dims.clone();
            this.stateParams = stateParams.clone();
            this.stateResults = stateResults.clone();
            skipIn = new boolean[program.params().size()];
            skipOut = new boolean[program.results().size()];
            for (int p : stateParams) skipIn[p] = true;
            for (int r : stateResults) skipOut[r] = true;
            BufferPlan plan = program.plan();
            long[] slotBytes = new long[plan.slotTypes().size()];
            for (Buffer b : program.buffers()) {
                int s = plan.slotOf()[b.id()];
                if (s >= 0) slotBytes[s] = Math.max(slotBytes[s], bytes(b, dims));
            }
            CUdeviceptr[] slots = new CUdeviceptr[slotBytes.length];
            for (int s = 0; s < slots.length; s++) slots[s] = own(slotBytes[s]);
            for (Buffer b : program.buffers()) {
                int s = plan.slotOf()[b.id()];
                dev[b.id()] = switch (b.kind()) {
                    case CONST -> constants.get(b.id());
                    case PARAM -> own(bytes(b, dims));
                    case TEMP -> s >= 0 ? slots[s] : own(bytes(b, dims));
                };
            }
            int np = program.params().size(), nr = program.results().size();
            hostIn = new Pointer[np];
            inView = new ByteBuffer[np];
            inBytes = new long[np];
            for (int i = 0; i < np; i++) {
                inBytes[i] = bytes(program.buffers().get(program.params().get(i)), dims);
                hostIn[i] = CudaDriver.pinned(inBytes[i]);
                inView[i] = hostIn[i].getByteBuffer(0, Math.max(1, inBytes[i])).order(ByteOrder.nativeOrder());
            }
            hostOut = new Pointer[nr];
            outView = new ByteBuffer[nr];
            outBytes = new long[nr];
            for (int r = 0; r < nr; r++) {
                outBytes[r] = bytes(program.buffers().get(program.results().get(r)), dims);
                hostOut[r] = CudaDriver.pinned(outBytes[r]);
                outView[r] = hostOut[r].getByteBuffer(0, Math.max(1, outBytes[r])).order(ByteOrder.nativeOrder());
            }
            List<Launch> launches = ptx.launches();
            grids = new int[launches.size()][];
            params = new Pointer[launches.size()];
            for (int i = 0; i < launches.size(); i++) {
                Launch l = launches.get(i);
                grids[i] = new int[]{eval(l.gridX()), eval(l.gridY()), eval(l.gridZ())};
                Pointer[] args = new Pointer[l.args().size()];
                for (int a = 0; a < args.length; a++)
                    args[a] = switch (l.args().get(a)) {
                        case Launch.Buf b -> Pointer.to(dev[b.id()]);
                        case Launch.Int n -> Pointer.to(new int[]{eval(n.value())});
                    };
                params[i] = Pointer.to(args);
            }
            if (graphs) capture();
        }

        int eval(Expr e) {
            long v = BufferPlan.eval(e, s -> dims[program.symbols().indexOf(s)]);
            if (v > Integer.MAX_VALUE) throw new IllegalArgumentException("graph @" + program.name() + ": size " + v + " is too large for a launch");
            return (int) v;
        }

        CUdeviceptr own(long bytes) {
            CUdeviceptr p = cuda.allocator.alloc(bytes);
            owned.add(p);
            ownedBytes.add(bytes);
            return p;
        }

        /// The whole step on the stream: inputs in, kernels, results out.
        void enqueue() {
            for (int i = 0; i < hostIn.length; i++)
                if (inBytes[i] > 0 && !skipIn[i])
                    check(cuMemcpyHtoDAsync(dev[program.params().get(i)], hostIn[i], inBytes[i], cuda.stream), "cuMemcpyHtoDAsync");
            for (int i = 0; i < grids.length; i++) launchOne(i);
            for (int k = 0; k < stateParams.length; k++) {
                CUdeviceptr from = dev[program.results().get(stateResults[k])], to = dev[program.params().get(stateParams[k])];
                if (from != to && inBytes[stateParams[k]] > 0)
                    check(cuMemcpyDtoDAsync(to, from, inBytes[stateParams[k]], cuda.stream), "cuMemcpyDtoDAsync(state)");
            }
            for (int r = 0; r < hostOut.length; r++)
                if (outBytes[r] > 0 && !skipOut[r])
                    check(cuMemcpyDtoHAsync(hostOut[r], dev[program.results().get(r)], outBytes[r], cuda.stream), "cuMemcpyDtoHAsync");
        }

        void launchOne(int i) {
            int[] g = grids[i];
            if (g[0] <= 0 || g[1] <= 0 || g[2] <= 0) return;
            Launch l = ptx.launches().get(i);
            check(cuLaunchKernel(functions[i], g[0], g[1], g[2], l.block(), 1, 1, 0, cuda.stream, params[i], null),
                    "cuLaunchKernel(" + l.entry() + ")");
        }

        void capture() {
            check(cuStreamBeginCapture(cuda.stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
            try {
                enqueue();
            } finally {
                graph = new CUgraph();
                check(cuStreamEndCapture(cuda.stream, graph), "cuStreamEndCapture");
            }
            exec = new CUgraphExec();
            check(cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate");
        }

        void launch() {
            if (exec != null) check(cuGraphLaunch(exec, cuda.stream), "cuGraphLaunch");
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
            int rc = cuStreamSynchronize(cuda.stream);
            if (rc != 0) throw new CudaException("graph @" + program.name() + ": the step failed on the GPU: " + jcuda.driver.CUresult.stringFor(rc));
            List<NdArray> out = new ArrayList<>(outView.length);
            for (int r = 0; r < outView.length; r++) {
                if (skipOut[r]) continue;
                int[] shape = new int[resultDims[r].length];
                for (int a = 0; a < shape.length; a++) shape[a] = resultDims[r][a] >= 0 ? resultDims[r][a] : dims[-resultDims[r][a] - 1];
                NdArray a = NdArray.zeros(resultDTypes[r], shape);
                if (outBytes[r] > 0) read(outView[r], a);
                out.add(a);
            }
            return out;
        }

        void close() {
            if (exec != null) cuGraphExecDestroy(exec);
            if (graph != null) cuGraphDestroy(graph);
            for (Pointer p : hostIn) cuMemFreeHost(p);
            for (Pointer p : hostOut) cuMemFreeHost(p);
            for (int i = 0; i < owned.size(); i++) cuda.allocator.release(owned.get(i), ownedBytes.get(i));
        }
    }
}
