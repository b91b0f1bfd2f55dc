package dev.kiln;

import dev.kiln.ir.Dim;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/// The state of a trace in progress on this thread: which dimension symbols the traced inputs
/// carry (`B`) and the example sizes they stand for. While tracing, `size(d)` of a symbolic
/// dimension answers the example's size, and a reshape maps that size back to the symbol, so
/// `x.view(x.size(0), -1)` stays `[B, ...]` in the graph and the compiled code accepts any batch.
/// A trace leaves the random generator as it found it: the seeds drawn while tracing (dropout's)
/// are placeholders that the compiled graph redraws on every call, so compiling must not shift
/// the stream that eager code and checkpoints see.
final class Tracer implements AutoCloseable {
    private static final ThreadLocal<Tracer> CURRENT = new ThreadLocal<>();

    private final Map<String, Integer> examples = new LinkedHashMap<>();
    /// Buffer updates recorded while tracing (`BufferUpdates.set`): buffer -> its new value, in
    /// the order made. Tensors compare by identity.
    private final Map<Tensor, BufferUpdates.Update> bufferUpdates = new LinkedHashMap<>();
    private final Tracer previous;
    private final long[] generator = Generator.state();

    private Tracer() { previous = CURRENT.get(); }

    static Tracer begin() {
        Tracer t = new Tracer();
        CURRENT.set(t);
        return t;
    }

    void bind(String symbol, int example) { examples.put(symbol, example); }

    @Override public void close() {
        CURRENT.set(previous);
        Generator.restore(generator);
    }

    static boolean isTracing() { return CURRENT.get() != null; }

    /// Records that `buffer` takes `update`'s value when the traced graph runs; once per buffer.
    static void recordBufferUpdate(Tensor buffer, BufferUpdates.Update update) {
        Tracer t = CURRENT.get();
        BufferUpdates.Update old = t.bufferUpdates.putIfAbsent(buffer, update);
        if (old != null)
            throw new KilnException(update.who() + " updates its buffers twice in one traced step (is the module called twice?); "
                    + "a compiled step supports one update per buffer");
    }

    /// The buffer updates recorded so far in this trace.
    Map<Tensor, BufferUpdates.Update> bufferUpdates() { return bufferUpdates; }

    static int exampleSize(String symbol) {
        Tracer t = CURRENT.get();
        Integer v = t == null ? null : t.examples.get(symbol);
        if (v == null) throw new KilnException("the size of symbolic dimension '" + symbol + "' is only known while tracing");
        return v;
    }

    /// The shape `sizes` asks for (one may be -1) for a tensor of shape `in`.
    static Shape reshapeTarget(String op, Loc loc, Shape in, int[] sizes) {
        int infer = -1;
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] == -1) {
                if (infer >= 0) throw new IrError(loc, "'" + op + "' shape " + Arrays.toString(sizes) + " has more than one -1");
                infer = i;
            } else if (sizes[i] < 0) throw new IrError(loc, "'" + op + "' shape " + Arrays.toString(sizes) + " has a negative size");
        }
        Map<String, Integer> ex = new LinkedHashMap<>();
        if (!in.isStatic()) {
            Tracer t = CURRENT.get();
            if (t == null) throw new IrError(loc, "'" + op + "' of a symbolic shape " + in + " outside a trace");
            ex.putAll(t.examples);
        }
        long n = 1;
        for (Dim d : in.dims()) n *= d instanceof Dim.Fixed(long s) ? s : ex.get(((Dim.Sym) d).name());
        long known = 1;
        for (int s : sizes) if (s != -1) known *= s;
        long[] c = new long[sizes.length];
        for (int i = 0; i < c.length; i++) c[i] = sizes[i];
        String bad = "'" + op + "' shape " + Arrays.toString(sizes) + " is invalid for a tensor of shape " + in + " (" + n + " elements)";
        if (infer >= 0) {
            if (known == 0 || n % known != 0) throw new IrError(loc, bad);
            c[infer] = n / known;
        } else if (known != n) throw new IrError(loc, bad);
        List<Dim> dims = new ArrayList<>();
        for (long x : c) dims.add(Dim.of(x));
        if (in.isStatic()) return new Shape(dims);
        // Put each symbol back where its example size landed: the same axis, else the inferred one, else the first match.
        boolean[] taken = new boolean[c.length];
        for (int ax = 0; ax < in.rank(); ax++) {
            if (!(in.dim(ax) instanceof Dim.Sym sym) || dims.contains(sym)) continue;
            int v = ex.get(sym.name()), at = -1;
            if (ax < c.length && c[ax] == v && !taken[ax]) at = ax;
            else if (infer >= 0 && c[infer] == v && !taken[infer]) at = infer;
            else for (int j = 0; j < c.length && at < 0; j++) if (c[j] == v && !taken[j]) at = j;
            if (at < 0)
                throw new IrError(loc, "'" + op + "' cannot keep the symbolic dimension " + sym + " of " + in + " in shape "
                        + Arrays.toString(sizes) + ": it must stay a dimension of its own");
            dims.set(at, sym);
            taken[at] = true;
        }
        Shape out = new Shape(dims);
        if (!out.numelMonomial().equals(in.numelMonomial()))
            throw new IrError(loc, "'" + op + "' cannot keep the symbolic dimensions of " + in + " in shape " + Arrays.toString(sizes));
        return out;
    }
}
