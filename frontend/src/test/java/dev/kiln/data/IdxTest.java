package dev.kiln.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {
    @TempDir Path dir;

    /// Bytes written field by field with DataOutputStream, which is big-endian by definition.
    interface Body { void write(DataOutputStream d) throws IOException; }

    static byte[] bytes(Body body) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        body.write(new DataOutputStream(b));
        return b.toByteArray();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (GZIPOutputStream z = new GZIPOutputStream(b)) { z.write(raw); }
        return b.toByteArray();
    }

    Path file(String name, byte[] content) throws IOException {
        return Files.write(dir.resolve(name), content);
    }

    // A hand-written int file: magic 00 00 0c 02, dims 2 and 3, six big-endian ints.
    static final byte[] INTS = {
            0, 0, 0x0C, 2, 0, 0, 0, 2, 0, 0, 0, 3,
            0, 0, 0, 1, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFE, 0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
            (byte) 0x80, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};

    @Test void readsAHandWrittenFilePlainAndGzipped() throws IOException {
        for (Path p : new Path[] {file("ints", INTS), file("ints.gz", gzip(INTS))}) {
            Idx idx = Idx.read(p);
            assertEquals(Idx.Type.INT, idx.type());
            assertArrayEquals(new int[] {2, 3}, idx.shape());
            assertArrayEquals(new int[] {1, -2, Integer.MAX_VALUE, Integer.MIN_VALUE, 256, 0}, (int[]) idx.data());
        }
        // A .gz name does not make a file gzip: detection is by content.
        assertArrayEquals((int[]) Idx.read(file("misnamed.gz", INTS)).data(), (int[]) Idx.read(file("x", gzip(INTS))).data());
        assertEquals(Integer.MIN_VALUE, Idx.read(new ByteArrayInputStream(gzip(INTS)), "stream").getLong(3));
    }

    @Test void readsEveryElementTypeBigEndian() throws IOException {
        byte[] ubyte = bytes(d -> { d.writeInt(0x0801); d.writeInt(3); d.write(new byte[] {0, (byte) 200, (byte) 255}); });
        Idx u = Idx.read(file("u", ubyte));
        assertEquals(Idx.Type.UBYTE, u.type());
        assertEquals(200, u.getLong(1));
        assertEquals(255.0, u.getDouble(2));
        NdArray un = u.toNdArray();
        assertEquals(DType.I32, un.dtype());
        assertArrayEquals(new int[] {0, 200, 255}, (int[]) un.data());

        byte[] sbyte = bytes(d -> { d.writeInt(0x0901); d.writeInt(2); d.write(new byte[] {(byte) 200, 5}); });
        assertEquals(-56, Idx.read(file("b", sbyte)).getLong(0));

        byte[] shorts = bytes(d -> { d.writeInt(0x0B01); d.writeInt(2); d.writeShort(-3); d.writeShort(0x1234); });
        assertArrayEquals(new short[] {-3, 0x1234}, (short[]) Idx.read(file("s", shorts)).data());

        byte[] floats = bytes(d -> { d.writeInt(0x0D03); d.writeInt(1); d.writeInt(2); d.writeInt(1);
            d.writeFloat(1.5f); d.writeFloat(-0.25f); });
        Idx f = Idx.read(file("f", floats));
        assertArrayEquals(new int[] {1, 2, 1}, f.shape());
        NdArray fn = f.toNdArray();
        assertEquals(DType.F32, fn.dtype());
        assertArrayEquals(new float[] {1.5f, -0.25f}, (float[]) fn.data());

        byte[] doubles = bytes(d -> { d.writeInt(0x0E00); d.writeDouble(Math.PI); });
        Idx s = Idx.read(file("d", doubles));
        assertEquals(0, s.rank());
        assertEquals(Math.PI, s.getDouble(0));
        assertEquals(DType.F64, s.toNdArray().dtype());
    }

    @Test void writesTheSameBytesItReads() throws IOException {
        Idx ints = Idx.of(Idx.Type.INT, new int[] {1, -2, Integer.MAX_VALUE, Integer.MIN_VALUE, 256, 0}, 2, 3);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ints.write(out);
        assertArrayEquals(INTS, out.toByteArray());

        Object[] storages = {new byte[] {1, (byte) 255}, new byte[] {-1, 7}, new short[] {-1, 300}, new int[] {5, -5},
                new float[] {Float.NaN, -0f}, new double[] {1e300, -1e-300}};
        Idx.Type[] types = Idx.Type.values();
        for (int t = 0; t < types.length; t++) {
            for (boolean gz : new boolean[] {false, true}) {
                Path p = dir.resolve(types[t] + (gz ? ".gz" : ""));
                Idx.of(types[t], storages[t], 2, 1).write(p, gz);
                assertEquals(gz, Files.readAllBytes(p)[0] == 0x1f, "gzip magic");
                Idx back = Idx.read(p);
                assertEquals(types[t], back.type());
                assertArrayEquals(new int[] {2, 1}, back.shape());
                assertTrue(Arrays.deepEquals(new Object[] {storages[t]}, new Object[] {back.data()}), types[t] + " " + gz);
            }
        }
        try (var listing = Files.list(dir)) { // only the 12 files: no temporary names left
            assertEquals(12, listing.count());
        }
    }

    // ---- hostile and damaged files: each a one-line message naming the file ----

    void assertFails(String expected, byte[] content) throws IOException {
        Path p = file("bad", content);
        var e = assertThrows(DataException.class, () -> Idx.read(p));
        assertEquals(p + ": " + expected, e.getMessage());
    }

    @Test void refusesWhatIsNotIdx() throws IOException {
        assertFails("not an IDX file: the file ends after 0 bytes, before the end of the 4-byte magic number", new byte[0]);
        assertFails("not an IDX file: the file ends after 3 bytes, before the end of the 4-byte magic number", new byte[3]);
        assertFails("not an IDX file: magic number 0x504b0304 does not start with two zero bytes",
                new byte[] {'P', 'K', 3, 4, 0, 0, 0, 0});
        assertFails("unknown IDX element type 0x07 (known: 0x08 ubyte, 0x09 byte, 0x0b short, 0x0c int, 0x0d float, "
                + "0x0e double)", new byte[] {0, 0, 7, 1, 0, 0, 0, 0});
        assertFails("IDX rank 200 exceeds the maximum of 8 (corrupt header?)", new byte[] {0, 0, 8, (byte) 200});
        var missing = assertThrows(DataException.class, () -> Idx.read(dir.resolve("absent")));
        assertEquals(dir.resolve("absent") + ": no such file", missing.getMessage());
    }

    @Test void refusesAbsurdDimensions() throws IOException {
        assertFails("truncated header: rank 3 needs 12 bytes of dimensions, the file ends after 8",
                bytes(d -> { d.writeInt(0x0803); d.writeInt(60000); }));
        assertFails("dimension 0 is 4294967295, beyond the 2^31-1 an array allows",
                bytes(d -> { d.writeInt(0x0801); d.writeInt(-1); }));
        // 65536 x 65536 bytes = 2^32: each dimension is fine, their product is not.
        assertFails("header declares ubyte[65536,65536]: more than 2^31 bytes, beyond what one array holds",
                bytes(d -> { d.writeInt(0x0802); d.writeInt(65536); d.writeInt(65536); }));
        // 2^28 doubles are 2^31 bytes: the element size counts.
        assertFails("header declares double[268435456]: more than 2^31 bytes, beyond what one array holds",
                bytes(d -> { d.writeInt(0x0E01); d.writeInt(1 << 28); }));
    }

    @Test void refusesTruncatedOrOverlongData() throws IOException {
        assertFails("truncated: header declares ubyte[1000,1000] (1000000 bytes of data) but the file holds only 10",
                bytes(d -> { d.writeInt(0x0802); d.writeInt(1000); d.writeInt(1000); d.write(new byte[10]); }));
        assertFails("truncated: header declares float[3] (12 bytes of data) but the file holds only 11",
                bytes(d -> { d.writeInt(0x0D01); d.writeInt(3); d.write(new byte[11]); }));
        assertFails("2 unexpected bytes after the data: header declares ubyte[2] (2 bytes of data)",
                bytes(d -> { d.writeInt(0x0801); d.writeInt(2); d.write(new byte[4]); }));
    }

    @Test void refusesDamagedGzip() throws IOException {
        byte[] good = gzip(INTS);
        assertFails("truncated gzip stream (Unexpected end of ZLIB input stream)", Arrays.copyOf(good, good.length / 2));
        byte[] badCrc = good.clone();
        badCrc[badCrc.length - 8] ^= 1; // the CRC-32 of the trailer
        assertFails("corrupt gzip stream (Corrupt GZIP trailer)", badCrc);
        assertFails("truncated: header declares ubyte[100] (100 bytes of data) but the decompressed data holds only 3",
                gzip(bytes(d -> { d.writeInt(0x0801); d.writeInt(100); d.write(new byte[3]); })));
        assertFails("more decompressed data than the header declares ubyte[2] (2 bytes of data)",
                gzip(bytes(d -> { d.writeInt(0x0801); d.writeInt(2); d.write(new byte[3]); })));
        assertFails("not an IDX file: the decompressed data ends after 2 bytes, before the end of the 4-byte magic number",
                gzip(new byte[2]));
    }

    /// A small gzip file whose header declares most of the allowed size must fail on its missing
    /// data without first allocating what the header declares.
    @Test void aLyingCompressedHeaderAllocatesOnlyWhatArrives() throws IOException {
        long declared = Math.min(Idx.MAX_COMPRESSED_DATA_BYTES, Runtime.getRuntime().maxMemory()) * 9 / 10;
        byte[] bomb = gzip(bytes(d -> { d.writeInt(0x0801); d.writeInt((int) declared); d.write(new byte[5000]); }));
        Path p = file("bomb.gz", bomb);
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        var e = assertThrows(DataException.class, () -> Idx.read(p));
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertEquals(p + ": truncated: header declares ubyte[" + declared + "] (" + declared
                + " bytes of data) but the decompressed data holds only 5000", e.getMessage());
        assertTrue(allocated < 16 << 20, "allocated " + allocated + " bytes");

        long over = Idx.MAX_COMPRESSED_DATA_BYTES + 1;
        assertFails("header declares ubyte[" + over + "] (" + over + " bytes of data), more than the limit of "
                + Idx.MAX_COMPRESSED_DATA_BYTES + " for compressed input (raise it with -Dkiln.idx.maxBytes)",
                gzip(bytes(d -> { d.writeInt(0x0801); d.writeInt((int) over); })));
    }

    @Test void ofChecksTheStorage() {
        var e = assertThrows(IllegalArgumentException.class, () -> Idx.of(Idx.Type.SHORT, new int[2], 2));
        assertEquals("storage int[] does not fit IDX short[2]", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Idx.of(Idx.Type.UBYTE, new byte[3], 2));
    }
}
