package dev.kiln.data;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;

/// The contents of an IDX file, the format of the MNIST files: a 4-byte magic number (two zero
/// bytes, an element type code, the rank), one big-endian 32-bit size per dimension, then the
/// elements in row-major order, big-endian. Files may be gzip-compressed (recognised by their
/// first two bytes, not their name). Storage per type: ubyte and byte `byte[]` (ubyte read
/// unsigned by the accessors), short `short[]`, int `int[]`, float `float[]`, double `double[]`.
/// Invariant: the storage length equals the product of the shape.
///
/// Reading never trusts the header: the declared data size is checked against the file length
/// before anything is allocated, and compressed input is read in chunks, so a truncated, corrupt
/// or hostile file fails with a one-line `DataException` naming the file, not an OutOfMemoryError.
public final class Idx {
    /// Element types with their IDX code and size in bytes.
    public enum Type {
        UBYTE(0x08, 1), BYTE(0x09, 1), SHORT(0x0B, 2), INT(0x0C, 4), FLOAT(0x0D, 4), DOUBLE(0x0E, 8);

        public final int code, byteSize;

        Type(int code, int byteSize) { this.code = code; this.byteSize = byteSize; }

        static Type ofCode(int code) {
            for (Type t : values()) if (t.code == code) return t;
            return null;
        }

        @Override public String toString() { return name().toLowerCase(); }
    }

    /// Ranks above this are refused as corrupt: real IDX files have rank 1 to 4.
    public static final int MAX_RANK = 8;
    /// Largest data section of one array (Java arrays stop just short of 2^31 elements).
    static final long MAX_DATA_BYTES = Integer.MAX_VALUE - 8;
    /// Compressed input cannot be checked against its file length, so its declared data size is
    /// capped instead (the whole Fashion-MNIST training set is 47 MB).
    static final long MAX_COMPRESSED_DATA_BYTES = Long.getLong("kiln.idx.maxBytes", 1L << 30);
    private static final int CHUNK = 1 << 20;

    private final Type type;
    private final int[] shape;
    private final Object data;

    private Idx(Type type, int[] shape, Object data) {
        this.type = type;
        this.shape = shape;
        this.data = data;
    }

    /// Wraps (does not copy) `data`, which must be the storage array of `type` (see the class comment).
    public static Idx of(Type type, Object data, int... shape) {
        if (shape.length > MAX_RANK) throw new IllegalArgumentException("IDX rank " + shape.length + " exceeds " + MAX_RANK);
        int n = NdArray.checkedSize(shape);
        boolean ok = switch (type) {
            case UBYTE, BYTE -> data instanceof byte[] a && a.length == n;
            case SHORT -> data instanceof short[] a && a.length == n;
            case INT -> data instanceof int[] a && a.length == n;
            case FLOAT -> data instanceof float[] a && a.length == n;
            case DOUBLE -> data instanceof double[] a && a.length == n;
        };
        if (!ok) throw new IllegalArgumentException("storage " + data.getClass().getSimpleName() + " does not fit IDX "
                + type + Arrays.toString(shape));
        return new Idx(type, shape.clone(), data);
    }

    public Type type() { return type; }
    public int[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public int dim(int axis) { return shape[axis]; }
    public int size() { return java.lang.reflect.Array.getLength(data); }
    /// The storage array itself (not a copy).
    public Object data() { return data; }

    /// Element `i` as a long (ubyte as 0..255).
    public long getLong(int i) {
        return switch (data) {
            case byte[] a -> type == Type.UBYTE ? a[i] & 0xff : a[i];
            case short[] a -> a[i];
            case int[] a -> a[i];
            case float[] a -> (long) a[i];
            case double[] a -> (long) a[i];
            default -> throw new IllegalStateException();
        };
    }

    /// Element `i` as a double (ubyte as 0..255).
    public double getDouble(int i) {
        return switch (data) {
            case float[] a -> a[i];
            case double[] a -> a[i];
            default -> getLong(i);
        };
    }

    /// A copy as an NdArray of the same shape: the integer types widen to i32, float is f32,
    /// double is f64 (the runtime has no 8- or 16-bit dtypes).
    public NdArray toNdArray() {
        DType dtype = switch (type) {
            case UBYTE, BYTE, SHORT, INT -> DType.I32;
            case FLOAT -> DType.F32;
            case DOUBLE -> DType.F64;
        };
        NdArray out = NdArray.zeros(dtype, shape);
        switch (data) {
            case float[] a -> System.arraycopy(a, 0, out.data(), 0, a.length);
            case double[] a -> System.arraycopy(a, 0, out.data(), 0, a.length);
            default -> {
                int[] o = (int[]) out.data();
                for (int i = 0; i < o.length; i++) o[i] = (int) getLong(i);
            }
        }
        return out;
    }

    // ---- reading ----

    /// Reads an IDX file, gzip-compressed or not.
    public static Idx read(Path file) {
        String name = file.toString();
        long length;
        try {
            length = Files.size(file);
        } catch (NoSuchFileException e) {
            throw new DataException(name + ": no such file");
        } catch (IOException e) {
            throw new DataException(name + ": cannot read: " + DataLoader.describe(e), e);
        }
        try (InputStream raw = Files.newInputStream(file)) {
            return read(raw, name, length);
        } catch (IOException e) {
            throw new DataException(name + ": cannot read: " + DataLoader.describe(e), e);
        }
    }

    /// Reads an IDX stream, gzip-compressed or not, of unknown length; `name` names it in errors.
    /// Does not close `in`.
    public static Idx read(InputStream in, String name) {
        try {
            return read(in, name, -1);
        } catch (IOException e) {
            throw new DataException(name + ": cannot read: " + DataLoader.describe(e), e);
        }
    }

    private static Idx read(InputStream raw, String name, long rawLength) throws IOException {
        BufferedInputStream in = new BufferedInputStream(raw, 1 << 16);
        in.mark(2);
        int b0 = in.read(), b1 = in.read();
        in.reset();
        if (b0 == 0x1f && b1 == 0x8b) {
            try {
                return parse(new GZIPInputStream(in, 1 << 16), name, -1, true);
            } catch (EOFException e) {
                throw new DataException(name + ": truncated gzip stream (" + DataLoader.describe(e) + ")");
            } catch (ZipException e) {
                throw new DataException(name + ": corrupt gzip stream (" + DataLoader.describe(e) + ")");
            }
        }
        return parse(in, name, rawLength, false);
    }

    /// Parses an uncompressed IDX stream. `length` is its total length in bytes, or -1 if unknown.
    private static Idx parse(InputStream in, String name, long length, boolean gzip) throws IOException {
        String what = gzip ? "decompressed data" : "file";
        byte[] magic = new byte[4];
        int got = in.readNBytes(magic, 0, 4);
        if (got < 4) throw new DataException(name + ": not an IDX file: the " + what + " ends after " + got
                + " bytes, before the end of the 4-byte magic number");
        if (magic[0] != 0 || magic[1] != 0)
            throw new DataException(name + ": not an IDX file: magic number " + String.format("0x%02x%02x%02x%02x",
                    magic[0], magic[1], magic[2], magic[3]) + " does not start with two zero bytes");
        Type type = Type.ofCode(magic[2] & 0xff);
        if (type == null) throw new DataException(name + ": unknown IDX element type " + String.format("0x%02x", magic[2])
                + " (known: 0x08 ubyte, 0x09 byte, 0x0b short, 0x0c int, 0x0d float, 0x0e double)");
        int rank = magic[3] & 0xff;
        if (rank > MAX_RANK) throw new DataException(name + ": IDX rank " + rank + " exceeds the maximum of " + MAX_RANK
                + " (corrupt header?)");
        byte[] dimBytes = new byte[4 * rank];
        got = in.readNBytes(dimBytes, 0, dimBytes.length);
        if (got < dimBytes.length) throw new DataException(name + ": truncated header: rank " + rank + " needs "
                + dimBytes.length + " bytes of dimensions, the " + what + " ends after " + (4 + got));
        ByteBuffer dims = ByteBuffer.wrap(dimBytes).order(ByteOrder.BIG_ENDIAN);
        int[] shape = new int[rank];
        long count = 1;
        for (int d = 0; d < rank; d++) {
            long size = Integer.toUnsignedLong(dims.getInt());
            if (size > Integer.MAX_VALUE) throw new DataException(name + ": dimension " + d + " is " + size
                    + ", beyond the 2^31-1 an array allows");
            shape[d] = (int) size;
            count *= size; // no overflow: count * byteSize was at most 2^31 and size is below 2^31
            if (count * type.byteSize > MAX_DATA_BYTES) {
                for (int e = d + 1; e < rank; e++) shape[e] = (int) Math.min(Integer.toUnsignedLong(dims.getInt()), Integer.MAX_VALUE);
                throw new DataException(name + ": header declares " + type + Arrays.toString(shape).replace(" ", "")
                        + ": more than 2^31 bytes, beyond what one array holds");
            }
        }
        long dataBytes = count * type.byteSize;
        String declared = "header declares " + type + Arrays.toString(shape).replace(" ", "") + " (" + dataBytes + " bytes of data)";
        if (length >= 0) {
            long expected = 4 + 4L * rank + dataBytes;
            if (length < expected) throw new DataException(name + ": truncated: " + declared + " but the file holds only "
                    + (length - 4 - 4L * rank));
            if (length > expected) throw new DataException(name + ": " + (length - expected)
                    + " unexpected bytes after the data: " + declared);
        } else if (dataBytes > MAX_COMPRESSED_DATA_BYTES) {
            throw new DataException(name + ": " + declared + ", more than the limit of " + MAX_COMPRESSED_DATA_BYTES
                    + " for compressed input (raise it with -Dkiln.idx.maxBytes)");
        }
        long heap = Runtime.getRuntime().maxMemory();
        long needed = type.byteSize == 1 ? dataBytes : 2 * dataBytes; // bytes, then the decoded array
        if (needed > heap) throw new DataException(name + ": " + declared + ", more than the Java heap of " + heap
                + " bytes holds; raise -Xmx");

        byte[] bytes = length >= 0 ? readExactly(in, (int) dataBytes, name, declared, what)
                : readChunked(in, (int) dataBytes, name, declared, what);
        if (length < 0 && in.read() != -1)
            throw new DataException(name + ": more " + what + " than the " + declared);
        return new Idx(type, shape, decode(type, bytes));
    }

    private static byte[] readExactly(InputStream in, int n, String name, String declared, String what) throws IOException {
        byte[] out = new byte[n];
        int got = in.readNBytes(out, 0, n);
        if (got < n) throw new DataException(name + ": truncated: " + declared + " but the " + what + " holds only " + got);
        return out;
    }

    /// Reads `n` bytes in chunks, so memory grows with the data actually present rather than with
    /// what a (possibly hostile) header declares; the exact array is allocated once all has arrived.
    private static byte[] readChunked(InputStream in, int n, String name, String declared, String what) throws IOException {
        List<byte[]> chunks = new ArrayList<>();
        long got = 0;
        while (got < n) {
            byte[] chunk = new byte[(int) Math.min(CHUNK, n - got)];
            int r = in.readNBytes(chunk, 0, chunk.length);
            got += r;
            if (r < chunk.length) throw new DataException(name + ": truncated: " + declared + " but the " + what
                    + " holds only " + got);
            chunks.add(chunk);
        }
        if (chunks.size() == 1) return chunks.getFirst();
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] c : chunks) {
            System.arraycopy(c, 0, out, at, c.length);
            at += c.length;
        }
        return out;
    }

    private static Object decode(Type type, byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        int n = bytes.length / type.byteSize;
        return switch (type) {
            case UBYTE, BYTE -> bytes;
            case SHORT -> { short[] a = new short[n]; b.asShortBuffer().get(a); yield a; }
            case INT -> { int[] a = new int[n]; b.asIntBuffer().get(a); yield a; }
            case FLOAT -> { float[] a = new float[n]; b.asFloatBuffer().get(a); yield a; }
            case DOUBLE -> { double[] a = new double[n]; b.asDoubleBuffer().get(a); yield a; }
        };
    }

    // ---- writing ----

    /// Writes this array in IDX format to `out` (uncompressed; not closed).
    public void write(OutputStream out) throws IOException {
        DataOutputStream d = new DataOutputStream(out);
        d.write(new byte[] {0, 0, (byte) type.code, (byte) shape.length});
        for (int s : shape) d.writeInt(s);
        ByteBuffer b = ByteBuffer.allocate(size() * type.byteSize).order(ByteOrder.BIG_ENDIAN);
        switch (data) {
            case byte[] a -> b.put(a);
            case short[] a -> b.asShortBuffer().put(a);
            case int[] a -> b.asIntBuffer().put(a);
            case float[] a -> b.asFloatBuffer().put(a);
            case double[] a -> b.asDoubleBuffer().put(a);
            default -> throw new IllegalStateException();
        }
        d.write(b.array());
        d.flush();
    }

    /// Writes this array to `file`, gzip-compressed (at the best compression level) if `gzip`,
    /// through a temporary file in the same directory that is then renamed over `file`.
    public void write(Path file, boolean gzip) throws IOException {
        Path tmp = tempSibling(file);
        try {
            try (OutputStream raw = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                if (gzip) {
                    ByteArrayOutputStream buf = new ByteArrayOutputStream();
                    write(buf);
                    try (GZIPOutputStream z = new GZIPOutputStream(raw, 1 << 16) {{ def.setLevel(Deflater.BEST_COMPRESSION); }}) {
                        buf.writeTo(z);
                    }
                } else {
                    write(raw);
                }
            }
            moveAtomically(tmp, file);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /// A fresh name beside `file` for writing it before the rename. Not `Files.createTempFile`,
    /// whose owner-only permissions the renamed file would keep.
    static Path tempSibling(Path file) {
        return file.toAbsolutePath().resolveSibling("." + file.getFileName() + "." + Long.toHexString(System.nanoTime())
                + Integer.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextInt()) + ".tmp");
    }

    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    @Override public String toString() {
        return "idx " + type + Arrays.toString(shape).replace(" ", "");
    }
}
