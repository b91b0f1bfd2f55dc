package dev.kiln.runtime;

import static dev.kiln.runtime.TensorFixtures.assertRefused;
import static dev.kiln.runtime.TensorFixtures.assertSameBits;
import static dev.kiln.runtime.TensorFixtures.bytes;
import static dev.kiln.runtime.TensorFixtures.concat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
    private static final DType[] NPY_DTYPES = {DType.F16, DType.F32, DType.F64, DType.I32, DType.I64, DType.BOOL};

    /// A .npy file with an arbitrary header, unpadded: for inputs the writer would never make.
    static byte[] npy(int major, String dict, byte[] data) {
        byte[] text = dict.getBytes(major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        ByteBuffer len = ByteBuffer.allocate(major == 1 ? 2 : 4).order(ByteOrder.LITTLE_ENDIAN);
        if (major == 1) len.putShort((short) text.length); else len.putInt(text.length);
        return concat(bytes(0x93, 'N', 'U', 'M', 'P', 'Y', major, 0), len.array(), text, data);
    }

    static byte[] npy(String dict, byte[] data) { return npy(1, dict, data); }

    // ---- round trips ----

    @Test
    void roundTripsEveryDtypeAndRankThroughBytesFilesAndStreams(@TempDir Path dir) {
        Random rnd = new Random(1);
        for (DType dtype : NPY_DTYPES) {
            for (int[] shape : TensorFixtures.SHAPES) {
                NdArray a = TensorFixtures.random(dtype, shape, rnd);
                byte[] file = Npy.toBytes(a);
                assertSameBits(a, Npy.read(file, "mem.npy"));
                assertSameBits(a, Npy.read(new ByteArrayInputStream(file), "stream"));
                Path p = dir.resolve(dtype + "-" + shape.length + "-" + NdArray.checkedSize(shape) + ".npy");
                Npy.write(p, a);
                assertSameBits(a, Npy.read(p));
                assertEquals(0, (file.length - a.size() * dtype.byteSize()) % 64, "data starts 64-byte aligned");
            }
        }
    }

    @Test
    void roundTripsAnArrayLargerThanOneCopyChunk(@TempDir Path dir) {
        NdArray a = TensorFixtures.random(DType.F64, new int[] {3, 10_007}, new Random(2));   // 240 KB, several chunks
        Path p = dir.resolve("big.npy");
        Npy.write(p, a);
        assertSameBits(a, Npy.read(p));
    }

    @Test
    void bf16HasNoNumpyDtypeAndIsRefusedOnWrite() {
        assertRefused("in-memory .npy", () -> Npy.toBytes(NdArray.zeros(DType.BF16, 2)), "bf16 has no NumPy dtype");
    }

    @Test
    void streamReadsConsecutiveArraysOneAtATime() throws Exception {
        NdArray a = NdArray.of(new int[] {1, 2, 3}, 3);
        NdArray b = NdArray.of(new double[] {0.5}, 1, 1);
        InputStream in = new ByteArrayInputStream(concat(Npy.toBytes(a), Npy.toBytes(b)));
        assertSameBits(a, Npy.read(in, "two.npy"));
        assertSameBits(b, Npy.read(in, "two.npy"));
        assertEquals(-1, in.read());
    }

    // ---- the format, byte for byte ----

    @Test
    void headerMatchesTheSpecByteForByte() {
        // From the format description: magic \x93NUMPY, version 1.0, little-endian u16 header
        // length, then the dict literal padded with spaces and ended by '\n' so that the data
        // starts at a multiple of 64. The dict is 57 characters; NumPy adds 21 - len("3") = 20
        // spaces of room for the first dimension, and the rest of the padding brings
        // 10 + 57 + 20 + pad + 1 to 128: pad = 40, header length 57 + 60 + 1 = 118 = 0x76.
        String dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
        assertEquals(57, dict.length());
        byte[] expected = concat(
                bytes(0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0x76, 0x00),
                dict.getBytes(StandardCharsets.US_ASCII),
                " ".repeat(60).getBytes(StandardCharsets.US_ASCII),
                bytes('\n'),
                bytes(1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0));
        assertArrayEquals(expected, Npy.toBytes(NdArray.of(new int[] {1, 2, 3}, 3)));
    }

    @Test
    void scalarHeaderHasAnEmptyTupleAndNoGrowthRoom() {
        // 55-character dict, no growth room for a rank-0 array; 10 + 55 + pad + 1 = 128: pad 62.
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
        byte[] expected = concat(bytes(0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0),
                dict.getBytes(StandardCharsets.US_ASCII), " ".repeat(62).getBytes(StandardCharsets.US_ASCII), bytes('\n'),
                bytes(0x00, 0x00, 0xc0, 0x3f));                             // 1.5f = 0x3fc00000
        assertArrayEquals(expected, Npy.toBytes(NdArray.scalar(DType.F32, 1.5)));
    }

    @Test
    void alignedHeaderStillGetsAFullBlockOfPadding() {
        // 53 characters + '\n' + 10 = 64 exactly: NumPy then pads 64 spaces, not 0.
        String dict = "x".repeat(53);
        byte[] out = Npy.wrapHeader(dict);
        assertEquals(128, out.length);
        assertEquals(118, out[8]);
        assertEquals('\n', out[127]);
    }

    @Test
    void headerTooLongForVersion1UsesVersion2() {
        byte[] out = Npy.wrapHeader("x".repeat(70_000));
        assertEquals(2, out[6]);
        int length = ByteBuffer.wrap(out, 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        assertEquals(out.length - 12, length);
        assertEquals(0, out.length % 64);
    }

    @Test
    void readsVersions2And3AndPython2Longs() {
        byte[] data = bytes(1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0);
        NdArray expected = NdArray.of(new long[] {1, 2}, 2, 1);
        assertSameBits(expected, Npy.read(npy(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1)}\n", data), "v2.npy"));
        assertSameBits(expected, Npy.read(npy(3, "{'shape': (2,1,), 'fortran_order': False, 'descr': '<i8'}  \n", data), "v3.npy"));
        assertSameBits(expected, Npy.read(npy(1, "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (2L, 1L), }\n", data), "py2.npy"));
    }

    @Test
    void convertsBigEndianData() {
        NdArray f = Npy.read(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", bytes(0x3f, 0xc0, 0, 0, 0xc0, 0x20, 0, 0)), "be.npy");
        assertSameBits(NdArray.of(new float[] {1.5f, -2.5f}, 2), f);
        NdArray i = Npy.read(npy("{'descr': '>i4', 'fortran_order': False, 'shape': (), }", bytes(0xff, 0xff, 0xff, 0xfe)), "be.npy");
        assertEquals(-2, i.getLong(0));
        NdArray h = Npy.read(npy("{'descr': '>f2', 'fortran_order': False, 'shape': (1,), }", bytes(0x3c, 0x00)), "be.npy");
        assertEquals(1.0, h.getDouble(0));
    }

    @Test
    void boolReadsNonzeroBytesAsTrue() {
        NdArray b = Npy.read(npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", bytes(0, 1, 7)), "b.npy");
        assertSameBits(NdArray.of(new boolean[] {false, true, true}, 3), b);
    }

    @Test
    void writeReplacesAnExistingFileAndLeavesNoTemporaryFile(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("x.npy");
        Files.writeString(p, "old");
        NdArray a = NdArray.of(new float[] {1, 2}, 2);
        Npy.write(p, a);
        assertSameBits(a, Npy.read(p));
        try (var files = Files.list(dir)) { assertEquals(1, files.count()); }
    }

    @Test
    void ioErrorsAreTensorFileExceptions(@TempDir Path dir) {
        Path missing = dir.resolve("missing.npy");
        assertRefused(missing.toString(), () -> Npy.read(missing), "cannot read", "no such file");
        Path noDir = dir.resolve("no/such/dir/x.npy");
        assertRefused(noDir.toString(), () -> Npy.write(noDir, NdArray.zeros(DType.F32, 1)), "cannot write");
        assertFalse(Files.exists(dir.resolve("no")));
    }

    // ---- hostile files ----

    private static final String F4_2 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";

    @Test
    void refusesWhatIsNotNpy() {
        assertRefused("x.npy", () -> Npy.read(bytes(1, 2, 3), "x.npy"), "truncated", "magic");
        assertRefused("x.npy", () -> Npy.read(new byte[0], "x.npy"), "truncated");
        assertRefused("x.npy", () -> Npy.read("hello world, not numpy".getBytes(StandardCharsets.US_ASCII), "x.npy"), "not a .npy file");
        assertRefused("x.npz", () -> Npy.read(bytes('P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0), "x.npz"), "zip archive");
        assertRefused("x.npy", () -> Npy.read(npy(4, F4_2, new byte[8]), "x.npy"), "unsupported .npy format version 4.0");
    }

    @Test
    void refusesHeaderLengthsBeyondTheFileOrAbsurd() {
        byte[] shortHeader = concat(bytes(0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0x00), "{'descr'".getBytes(StandardCharsets.US_ASCII));
        assertRefused("x.npy", () -> Npy.read(shortHeader, "x.npy"), "header length 255 runs past the end of the file");
        byte[] absurd = concat(bytes(0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xf0, 0xff, 0xff, 0xff), new byte[16]);
        assertRefused("x.npy", () -> Npy.read(absurd, "x.npy"), "header length 4294967280 is absurd");
        assertRefused("s", () -> Npy.read(new ByteArrayInputStream(absurd), "s"), "is absurd");
        byte[] cutInLength = bytes(0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0x10);
        assertRefused("x.npy", () -> Npy.read(cutInLength, "x.npy"), "truncated", "header length");
    }

    @Test
    void refusesDataThatDoesNotMatchTheShape() {
        assertRefused("x.npy", () -> Npy.read(npy(F4_2, new byte[6]), "x.npy"),
                "truncated", "shape [2] of f32 needs 8 bytes of data but only 6 follow the header");
        assertRefused("x.npy", () -> Npy.read(npy(F4_2, new byte[12]), "x.npy"), "4 unexpected bytes after the array data");
        assertRefused("s", () -> Npy.read(new ByteArrayInputStream(npy(F4_2, new byte[6])), "s"), "needs 8 bytes of data but only 6");
    }

    @Test
    void aHugeDeclaredShapeOnATinyInputCostsNothing() {
        // 2e9 bytes declared, 4 present: refused from the lengths, nothing that size allocated.
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (500000000,), }";
        assertRefused("x.npy", () -> Npy.read(npy(dict, new byte[4]), "x.npy"), "needs 2000000000 bytes of data but only 4");
        assertRefused("s", () -> Npy.read(new ByteArrayInputStream(npy(dict, new byte[4])), "s"), "needs 2000000000 bytes of data but only 4");
        String tooBig = "{'descr': '<f8', 'fortran_order': False, 'shape': (2000000000,), }";
        assertRefused("s", () -> Npy.read(new ByteArrayInputStream(npy(tooBig, new byte[4])), "s"), "too large to read from a stream");
    }

    @Test
    void refusesUnsupportedDtypesAndLayouts() {
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", new byte[4]), "x.npy"),
                "dtype '<u2' is not supported");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", new byte[16]), "x.npy"),
                "dtype '|O' is not supported");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", new byte[8]), "x.npy"),
                "dtype '|f4' is not supported");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", new byte[8]), "x.npy"),
                "structured dtypes");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new byte[16]), "x.npy"),
                "fortran_order is True", "column-major");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", new byte[8]), "x.npy"),
                "fortran_order is an integer");
    }

    @Test
    void refusesBadShapes() {
        String rank33 = "(" + "1, ".repeat(33) + ")";
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + rank33 + ", }", new byte[4]), "x.npy"),
                "array has 33 dimensions; at most 32");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", new byte[0]), "x.npy"),
                "negative dimension in shape [2, -3]");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3000000000,), }", new byte[0]), "x.npy"),
                "dimension 3000000000", "beyond the 2^31-1 limit");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '|b1', 'fortran_order': False, 'shape': (100000, 100000), }", new byte[0]), "x.npy"),
                "shape [100000, 100000]", "more than the 2147483639 elements");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'fortran_order': False, 'shape': 2, }", new byte[8]), "x.npy"),
                "shape that is an integer");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", new byte[8]), "x.npy"),
                "out of range");
    }

    @Test
    void emptyShapeWithHugeOtherDimensionsIsEmpty() {
        NdArray a = Npy.read(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 2147483647, 2147483647), }", new byte[0]), "x.npy");
        assertEquals(0, a.size());
        assertArrayEquals(new int[] {0, Integer.MAX_VALUE, Integer.MAX_VALUE}, a.shape());
    }

    @Test
    void refusesMalformedHeaders() {
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'shape': (2,), }", new byte[8]), "x.npy"), "no 'fortran_order' key");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", new byte[8]), "x.npy"),
                "unexpected key \"x\"");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", new byte[8]), "x.npy"),
                "duplicate key \"descr\"");
        assertRefused("x.npy", () -> Npy.read(npy("['descr']", new byte[8]), "x.npy"), "header is a list, not a dict");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr' '<f4'}", new byte[8]), "x.npy"), "not a Python dict literal", "expected ':'");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", new byte[8]), "x.npy"),
                "after the dict");
        assertRefused("x.npy", () -> Npy.read(npy("{'descr': '<f4", new byte[8]), "x.npy"), "unterminated string");
        assertRefused("x.npy", () -> Npy.read(npy("(".repeat(10_000), new byte[8]), "x.npy"), "nested deeper than 64");
        assertRefused("x.npy", () -> Npy.read(npy(3, "{'descr': '<f4'}", new byte[0]), "x.npy"), "no 'fortran_order' key");
        byte[] badUtf8 = npy(3, F4_2, new byte[8]);
        badUtf8[12] = (byte) 0xff;                                 // inside the header text
        assertRefused("x.npy", () -> Npy.read(badUtf8, "x.npy"), "not valid UTF-8");
    }

    @Test
    void negativeZeroAndNanPayloadsSurviveExactly() {
        float[] v = {-0.0f, Float.intBitsToFloat(0x7fc12345), Float.intBitsToFloat(0x7f800001), Float.NEGATIVE_INFINITY};
        float[] back = (float[]) Npy.read(Npy.toBytes(NdArray.of(v, 4)), "x.npy").data();
        assertEquals(0x80000000, Float.floatToRawIntBits(back[0]));
        assertEquals(0x7fc12345, Float.floatToRawIntBits(back[1]));
        assertEquals(0x7f800001, Float.floatToRawIntBits(back[2]));
        assertEquals(0xff800000, Float.floatToRawIntBits(back[3]));
    }
}
