package dev.kiln.runtime;

import static dev.kiln.runtime.TensorFixtures.assertRefused;
import static dev.kiln.runtime.TensorFixtures.assertSameBits;
import static dev.kiln.runtime.TensorFixtures.bytes;
import static dev.kiln.runtime.TensorFixtures.concat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {

    /// A safetensors file with an arbitrary header (unpadded) and data: for inputs the writer never makes.
    static byte[] file(String header, byte[] data) {
        byte[] text = header.getBytes(StandardCharsets.UTF_8);
        return concat(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(text.length).array(), text, data);
    }

    static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    static byte[] one(String dtype, String shape, long begin, long end, int dataBytes) {
        return file("{" + entry("t", dtype, shape, begin, end) + "}", new byte[dataBytes]);
    }

    // ---- round trips ----

    @Test
    void roundTripsEveryDtypeAndRankKeepingOrderAndMetadata(@TempDir Path dir) {
        Random rnd = new Random(3);
        LinkedHashMap<String, NdArray> tensors = new LinkedHashMap<>();
        int k = 0;
        for (DType dtype : DType.values())
            for (int[] shape : TensorFixtures.SHAPES)
                tensors.put("layer" + (k++ % 5) + "." + dtype + "." + shape.length + "." + k, TensorFixtures.random(dtype, shape, rnd));
        Map<String, String> metadata = new LinkedHashMap<>(Map.of("format", "pt"));
        metadata.put("note", "quote \" backslash \\ newline \n é 😀");

        Path p = dir.resolve("all.safetensors");
        SafeTensors.write(p, tensors, metadata);
        for (SafeTensors.Contents c : List.of(SafeTensors.readContents(p), SafeTensors.readContents(SafeTensors.toBytes(tensors, metadata), "mem"))) {
            assertEquals(List.copyOf(tensors.keySet()), List.copyOf(c.tensors().keySet()), "map order is file order");
            for (var e : tensors.entrySet()) assertSameBits(e.getValue(), c.tensors().get(e.getKey()));
            assertEquals(metadata, c.metadata());
        }
    }

    @Test
    void readsAHandBuiltFileInHeaderOrder() {
        // Header order b, a differs from both name order and offset order.
        String header = "{\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[4,12]},"
                + "\"__metadata__\":{\"format\":\"pt\"},"
                + " \"a\" : { \"shape\" : [ ], \"dtype\" : \"F32\", \"data_offsets\" : [0, 4] } }   ";
        byte[] data = bytes(0x00, 0x00, 0xc0, 0x3f,                      // a = 1.5f
                0x07, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff);        // b = [7, -1]
        SafeTensors.Contents c = SafeTensors.readContents(file(header, data), "hand.safetensors");
        assertEquals(List.of("b", "a"), List.copyOf(c.tensors().keySet()));
        assertSameBits(NdArray.of(new int[] {7, -1}, 2), c.tensors().get("b"));
        assertSameBits(NdArray.scalar(DType.F32, 1.5), c.tensors().get("a"));
        assertEquals(Map.of("format", "pt"), c.metadata());
    }

    @Test
    void readsBf16F16AndBoolBits() {
        String header = "{" + entry("h", "F16", "[2]", 0, 4) + "," + entry("bf", "BF16", "[1]", 4, 6) + "," + entry("m", "BOOL", "[3]", 6, 9) + "}";
        byte[] data = bytes(0x00, 0x3c, 0x00, 0xc0,                      // f16 1.0, -2.0
                0xc0, 0x3f,                                              // bf16 1.5 (0x3fc0)
                0, 1, 2);                                                // nonzero bytes are true
        var t = SafeTensors.read(file(header, data), "x");
        assertEquals(1.0, t.get("h").getDouble(0));
        assertEquals(-2.0, t.get("h").getDouble(1));
        assertEquals(1.5, t.get("bf").getDouble(0));
        assertSameBits(NdArray.of(new boolean[] {false, true, true}, 3), t.get("m"));
    }

    @Test
    void writesTheExpectedBytes() {
        // {"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} is 54 bytes; two spaces pad it to 56.
        byte[] expected = concat(bytes(56, 0, 0, 0, 0, 0, 0, 0),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ".getBytes(StandardCharsets.US_ASCII),
                bytes(0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0));  // 1.0f, -2.0f
        assertArrayEquals(expected, SafeTensors.toBytes(Map.of("w", NdArray.of(new float[] {1, -2}, 2))));
    }

    @Test
    void headerCanBeReadWithoutTheData(@TempDir Path dir) {
        Path p = dir.resolve("h.safetensors");
        var tensors = new LinkedHashMap<String, NdArray>();
        tensors.put("w", NdArray.zeros(DType.F32, 3, 4));
        tensors.put("b", NdArray.zeros(DType.BF16, 4));
        SafeTensors.write(p, tensors, Map.of("k", "v"));
        SafeTensors.Header h = SafeTensors.readHeader(p);
        assertEquals(new SafeTensors.TensorInfo("w", DType.F32, List.of(3, 4), 0, 48), h.tensors().get("w"));
        assertEquals(new SafeTensors.TensorInfo("b", DType.BF16, List.of(4), 48, 56), h.tensors().get("b"));
        assertEquals(0, h.dataStart() % 8);
        assertEquals(h.dataStart() + 56, dir.resolve("h.safetensors").toFile().length());
    }

    @Test
    void emptyFileAndEmptyTensors() {
        assertEquals(Map.of(), SafeTensors.read(SafeTensors.toBytes(Map.of()), "x"));
        NdArray huge = SafeTensors.read(one("F32", "[0, 2147483647, 2147483647]", 0, 0, 0), "x").get("t");
        assertEquals(0, huge.size());
    }

    @Test
    void refusesToWriteWhatCannotBeReadBack(@TempDir Path dir) {
        Path p = dir.resolve("x.safetensors");
        assertRefused(p.toString(), () -> SafeTensors.write(p, Map.of("__metadata__", NdArray.zeros(DType.F32, 1))), "cannot be named __metadata__");
        assertRefused(p.toString(), () -> SafeTensors.write(p, Map.of("t", NdArray.zeros(DType.F32, new int[33]))), "33 dimensions");
        assertEquals(false, Files.exists(p));
    }

    @Test
    void ioErrorsAreTensorFileExceptions(@TempDir Path dir) {
        Path missing = dir.resolve("missing.safetensors");
        assertRefused(missing.toString(), () -> SafeTensors.read(missing), "cannot read", "no such file");
    }

    // ---- hostile files, one per check ----

    @Test
    void refusesHeaderLengthsBeyondTheFileOrAbsurd() {
        assertRefused("x", () -> SafeTensors.read(bytes(1, 2, 3), "x"), "file is 3 bytes, too short");
        byte[] beyond = concat(bytes(100, 0, 0, 0, 0, 0, 0, 0), "{}".getBytes(StandardCharsets.US_ASCII));
        assertRefused("x", () -> SafeTensors.read(beyond, "x"), "header length 100 runs past the end of the file (10 bytes)");
        byte[] absurd = concat(bytes(0, 0, 0, 0, 0, 1, 0, 0), "{}".getBytes(StandardCharsets.US_ASCII));
        assertRefused("x", () -> SafeTensors.read(absurd, "x"), "header length 1099511627776 is absurd");
        byte[] negative = concat(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "{}".getBytes(StandardCharsets.US_ASCII));
        assertRefused("x", () -> SafeTensors.read(negative, "x"), "header length 18446744073709551615 is absurd");
        assertRefused("x", () -> SafeTensors.read(Npy.toBytes(NdArray.zeros(DType.F32, 2)), "x"), "is absurd", "this looks like a .npy file");
    }

    @Test
    void refusesShapesThatDoNotMatchTheOffsets() {
        assertRefused("weights.safetensors", () -> SafeTensors.read(file("{" + entry("fc.bias", "F32", "[10]", 0, 36) + "}", new byte[36]), "weights.safetensors"),
                "tensor 'fc.bias' has shape [10] (40 bytes as F32) but data_offsets cover 36 bytes");
    }

    @Test
    void refusesOverlappingOutOfRangeAndUncoveredOffsets() {
        String overlap = "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}";
        assertRefused("x", () -> SafeTensors.read(file(overlap, new byte[12]), "x"), "tensors 'a' [0, 8] and 'b' [4, 12] overlap");
        String same = "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 0, 4) + "}";
        assertRefused("x", () -> SafeTensors.read(file(same, new byte[4]), "x"), "overlap");
        assertRefused("x", () -> SafeTensors.read(one("F32", "[2]", 0, 8, 4), "x"), "data_offsets [0, 8] beyond the end of the data buffer (4 bytes)");
        assertRefused("x", () -> SafeTensors.read(one("F32", "[0]", 8, 4, 8), "x"), "data_offsets [8, 4], not 0 <= begin <= end");
        assertRefused("x", () -> SafeTensors.read(one("F32", "[0]", -4, 0, 0), "x"), "not 0 <= begin <= end");
        String gap = "{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}";
        assertRefused("x", () -> SafeTensors.read(file(gap, new byte[12]), "x"), "bytes [4, 8) of the data buffer belong to no tensor");
        assertRefused("x", () -> SafeTensors.read(one("F32", "[1]", 4, 8, 8), "x"), "bytes [0, 4) of the data buffer belong to no tensor");
        assertRefused("x", () -> SafeTensors.read(one("F32", "[1]", 0, 4, 7), "x"), "bytes [4, 7) of the data buffer belong to no tensor");
        assertRefused("x", () -> SafeTensors.read(file("{}", new byte[3]), "x"), "bytes [0, 3) of the data buffer belong to no tensor");
    }

    @Test
    void truncatedDataLeavesOffsetsBeyondTheBuffer(@TempDir Path dir) throws Exception {
        byte[] whole = SafeTensors.toBytes(Map.of("w", NdArray.zeros(DType.F64, 4)));
        Path p = dir.resolve("cut.safetensors");
        Files.write(p, java.util.Arrays.copyOf(whole, whole.length - 5));
        assertRefused(p.toString(), () -> SafeTensors.read(p), "tensor 'w' has data_offsets [0, 32] beyond the end of the data buffer (27 bytes)");
    }

    @Test
    void refusesUnknownAndUnsupportedDtypes() {
        assertRefused("x", () -> SafeTensors.read(one("Q7", "[1]", 0, 1, 1), "x"), "tensor 't' has unknown dtype \"Q7\"");
        assertRefused("x", () -> SafeTensors.read(one("U8", "[1]", 0, 1, 1), "x"), "tensor 't' has dtype U8, which Kiln does not support");
        assertRefused("x", () -> SafeTensors.read(file("{\"t\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", new byte[4]), "x"),
                "dtype that is an integer, not a string");
    }

    @Test
    void refusesBadShapes() {
        String rank33 = "[" + "1,".repeat(32) + "1]";
        assertRefused("x", () -> SafeTensors.read(one("F32", rank33, 0, 4, 4), "x"), "tensor 't' has 33 dimensions; at most 32");
        assertRefused("x", () -> SafeTensors.read(one("F32", "[-1, -4]", 0, 16, 16), "x"), "tensor 't' has a negative dimension in shape [-1, -4]");
        assertRefused("x", () -> SafeTensors.read(one("F32", "[65536, 65536]", 0, 0, 0), "x"),
                "tensor 't' has shape [65536, 65536], more than the 2147483639 elements");
        assertRefused("x", () -> SafeTensors.read(one("F32", "[4294967296]", 0, 0, 0), "x"), "dimension 4294967296", "beyond the 2^31-1 limit");
        assertRefused("x", () -> SafeTensors.read(one("F32", "[2.5]", 0, 0, 0), "x"), "not valid JSON", "only integers");
        assertRefused("x", () -> SafeTensors.read(one("F32", "[\"2\"]", 0, 8, 8), "x"), "shape entry that is a string");
        assertRefused("x", () -> SafeTensors.read(one("F32", "{}", 0, 8, 8), "x"), "shape that is an object");
    }

    @Test
    void refusesMalformedJson() {
        byte[] data = new byte[4];
        String ok = entry("t", "F32", "[1]", 0, 4);
        assertRefused("x", () -> SafeTensors.read(file("{\"t\" " + ok.substring(4) + "}", data), "x"), "not valid JSON", "expected ':'");
        assertRefused("x", () -> SafeTensors.read(file("{" + ok + ",}", data), "x"), "not valid JSON", "expected a string key");
        assertRefused("x", () -> SafeTensors.read(file("{" + ok, data), "x"), "not valid JSON", "expected ',' or '}' but found end of text");
        assertRefused("x", () -> SafeTensors.read(file("{" + ok + "} x", data), "x"), "after the end of the JSON value");
        assertRefused("x", () -> SafeTensors.read(file("[" + ok + "]", data), "x"), "does not start with '{'");
        assertRefused("x", () -> SafeTensors.read(file("{\"a\":" + "[".repeat(100_000), data), "x"), "nested deeper than 64 levels");
        assertRefused("x", () -> SafeTensors.read(file("{\"t\\q\":1}", data), "x"), "unknown escape");
        byte[] badUtf8 = file("{\"tX\":1}", data);
        badUtf8[11] = (byte) 0xff;
        assertRefused("x", () -> SafeTensors.read(badUtf8, "x"), "not valid UTF-8");
    }

    @Test
    void refusesDuplicateNames() {
        String dup = "{" + entry("w", "F32", "[1]", 0, 4) + "," + entry("w", "F32", "[1]", 4, 8) + "}";
        assertRefused("x", () -> SafeTensors.read(file(dup, new byte[8]), "x"), "duplicate key \"w\"");
    }

    @Test
    void refusesMalformedEntriesAndMetadata() {
        byte[] data = new byte[4];
        assertRefused("x", () -> SafeTensors.read(file("{\"t\":[1]}", data), "x"), "tensor 't' is described by a list, not an object");
        assertRefused("x", () -> SafeTensors.read(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", data), "x"), "tensor 't' has no 'data_offsets'");
        assertRefused("x", () -> SafeTensors.read(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", data), "x"),
                "unexpected key \"extra\"");
        assertRefused("x", () -> SafeTensors.read(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", data), "x"),
                "data_offsets that are not a pair");
        assertRefused("x", () -> SafeTensors.read(file("{\"__metadata__\":{\"k\":1}}", new byte[0]), "x"), "__metadata__ value for \"k\" is an integer");
        assertRefused("x", () -> SafeTensors.read(file("{\"__metadata__\":[]}", new byte[0]), "x"), "__metadata__ is a list");
        assertRefused("x", () -> SafeTensors.read(file("{\"a\\nb\":[]}", new byte[0]), "x"), "tensor 'a\\nb' is described by a list");
    }
}
