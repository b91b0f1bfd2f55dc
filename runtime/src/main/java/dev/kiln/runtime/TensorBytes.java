package dev.kiln.runtime;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import java.util.List;

/// What the tensor file formats share: checking a declared shape, and converting between raw
/// element bytes and `NdArray` storage in bounded chunks. Invariant: nothing here allocates more
/// than a fixed chunk beyond the typed array whose size the caller has already checked against
/// the bytes actually available.
final class TensorBytes {
    private TensorBytes() {}

    /// More dimensions than this is taken as a corrupt or hostile file (NumPy itself long
    /// stopped at 32).
    static final int MAX_RANK = 32;
    /// The most elements a Java array (and so an `NdArray`) holds.
    static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;
    private static final int CHUNK = 1 << 16;

    /// A sequential source of bytes.
    interface Input {
        /// Fills `b[off, off + len)` or throws `EOFException`.
        void readFully(byte[] b, int off, int len) throws IOException;

        static Input of(byte[] bytes) {
            return new Input() {
                int pos;
                @Override public void readFully(byte[] b, int off, int len) throws EOFException {
                    if (len > bytes.length - pos) throw new EOFException();
                    System.arraycopy(bytes, pos, b, off, len);
                    pos += len;
                }
            };
        }

        static Input of(ReadableByteChannel channel) {
            return (b, off, len) -> {
                ByteBuffer dst = ByteBuffer.wrap(b, off, len);
                while (dst.hasRemaining()) if (channel.read(dst) < 0) throw new EOFException();
            };
        }

        static Input of(InputStream in) {
            return (b, off, len) -> {
                if (in.readNBytes(b, off, len) < len) throw new EOFException();
            };
        }
    }

    /// The shape declared by `v` (a list of integers), checked: at most [#MAX_RANK] dimensions,
    /// none negative or beyond an int, at most [#MAX_ELEMENTS] elements. `what` names the
    /// tensor in messages ("tensor 'fc.bias'", "array").
    static int[] shape(String source, String what, Json.Value v) {
        if (!(v instanceof Json.Arr(List<Json.Value> items)))
            throw new TensorFileException(source, what + " has a shape that is " + Json.kind(v) + ", not a list of integers");
        if (items.size() > MAX_RANK)
            throw new TensorFileException(source, what + " has " + items.size() + " dimensions; at most " + MAX_RANK + " are supported");
        long[] dims = new long[items.size()];
        for (int i = 0; i < dims.length; i++) {
            if (!(items.get(i) instanceof Json.Int(long d)))
                throw new TensorFileException(source, what + " has a shape entry that is " + Json.kind(items.get(i)) + ", not an integer");
            dims[i] = d;
        }
        String text = Arrays.toString(dims);
        for (long d : dims) {
            if (d < 0) throw new TensorFileException(source, what + " has a negative dimension in shape " + text);
            if (d > Integer.MAX_VALUE) throw new TensorFileException(source, what + " has dimension " + d + " in shape " + text + ", beyond the 2^31-1 limit");
        }
        if (elementCount(dims) > MAX_ELEMENTS)
            throw new TensorFileException(source, what + " has shape " + text + ", more than the " + MAX_ELEMENTS + " elements an array can hold");
        int[] shape = new int[dims.length];
        for (int i = 0; i < dims.length; i++) shape[i] = (int) dims[i];
        return shape;
    }

    /// The product of `dims` (each in [0, 2^31)), saturated just above [#MAX_ELEMENTS].
    private static long elementCount(long[] dims) {
        for (long d : dims) if (d == 0) return 0;
        long n = 1;
        for (long d : dims) {
            n *= d;                                            // both factors < 2^31: no overflow
            if (n > MAX_ELEMENTS) return MAX_ELEMENTS + 1;
        }
        return n;
    }

    /// `[2, 3]`
    static String shapeText(int[] shape) { return Arrays.toString(shape); }

    /// Reads `count` elements of `dtype` stored in `order` and returns the `NdArray` storage.
    /// Bool bytes read as `b != 0`.
    static Object decode(DType dtype, int count, ByteOrder order, Input in) throws IOException {
        Object data = NdArray.zeros(dtype, count).data();
        int size = dtype.byteSize();
        byte[] chunk = new byte[(int) Math.min(CHUNK, (long) count * size)];
        ByteBuffer buf = ByteBuffer.wrap(chunk).order(order);
        for (int done = 0; done < count; ) {
            int k = Math.min(count - done, chunk.length / size);
            in.readFully(chunk, 0, k * size);
            buf.clear();
            switch (data) {
                case float[] a -> buf.asFloatBuffer().get(a, done, k);
                case double[] a -> buf.asDoubleBuffer().get(a, done, k);
                case int[] a -> buf.asIntBuffer().get(a, done, k);
                case long[] a -> buf.asLongBuffer().get(a, done, k);
                case short[] a -> buf.asShortBuffer().get(a, done, k);
                case boolean[] a -> { for (int i = 0; i < k; i++) a[done + i] = chunk[i] != 0; }
                default -> throw new IllegalStateException();
            }
            done += k;
        }
        return data;
    }

    /// Writes the elements of `a` in `order`; bool as bytes 0 and 1.
    static void encode(NdArray a, ByteOrder order, OutputStream out) throws IOException {
        int size = a.dtype().byteSize();
        int count = a.size();
        byte[] chunk = new byte[(int) Math.min(CHUNK, (long) count * size)];
        ByteBuffer buf = ByteBuffer.wrap(chunk).order(order);
        for (int done = 0; done < count; ) {
            int k = Math.min(count - done, chunk.length / size);
            buf.clear();
            switch (a.data()) {
                case float[] d -> buf.asFloatBuffer().put(d, done, k);
                case double[] d -> buf.asDoubleBuffer().put(d, done, k);
                case int[] d -> buf.asIntBuffer().put(d, done, k);
                case long[] d -> buf.asLongBuffer().put(d, done, k);
                case short[] d -> buf.asShortBuffer().put(d, done, k);
                case boolean[] d -> { for (int i = 0; i < k; i++) chunk[i] = (byte) (d[done + i] ? 1 : 0); }
                default -> throw new IllegalStateException();
            }
            out.write(chunk, 0, k * size);
            done += k;
        }
    }

    /// Up to `n` bytes from `in`, fewer only at end of stream. The buffer grows with the bytes
    /// that arrive, so a hostile declared length costs nothing until the data is really there.
    static byte[] readUpTo(InputStream in, int n) throws IOException {
        byte[] buf = new byte[Math.min(n, CHUNK)];
        int len = 0;
        while (len < n) {
            if (len == buf.length) buf = Arrays.copyOf(buf, (int) Math.min(n, 2L * buf.length));
            int r = in.read(buf, len, buf.length - len);
            if (r < 0) break;
            len += r;
        }
        return len == buf.length ? buf : Arrays.copyOf(buf, len);
    }

    /// `source: <action>: <why>` for an I/O failure, with the common causes in plain words.
    static TensorFileException ioFailure(String source, String action, IOException e) {
        String why = switch (e) {
            case NoSuchFileException _ -> "no such file";
            case AccessDeniedException _ -> "permission denied";
            case EOFException _ -> "the file ends early (truncated?)";
            default -> e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        };
        return new TensorFileException(source, action + ": " + why, e);
    }
}
