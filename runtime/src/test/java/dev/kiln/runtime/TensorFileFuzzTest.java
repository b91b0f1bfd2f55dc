package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/// Random damage to valid files: whatever comes out must be a result or a TensorFileException,
/// never another exception, an OutOfMemoryError or a hang.
class TensorFileFuzzTest {
    private static final int ROUNDS = 2_000;
    private static final byte[] HEADER_CHARS = "0123456789-+,:;[](){}\"' .eE\\uTFLN_x\n\u0000".getBytes(StandardCharsets.ISO_8859_1);

    private static List<byte[]> npyFiles(Random rnd) {
        return List.of(
                Npy.toBytes(TensorFixtures.random(DType.F32, new int[] {2, 3}, rnd)),
                Npy.toBytes(TensorFixtures.random(DType.I64, new int[] {}, rnd)),
                Npy.toBytes(TensorFixtures.random(DType.BOOL, new int[] {4}, rnd)),
                Npy.toBytes(TensorFixtures.random(DType.F16, new int[] {3, 1}, rnd)),
                Npy.toBytes(TensorFixtures.random(DType.F64, new int[] {0}, rnd)));
    }

    private static List<byte[]> safetensorsFiles(Random rnd) {
        var t = new LinkedHashMap<String, NdArray>();
        t.put("enc.w", TensorFixtures.random(DType.F32, new int[] {2, 2}, rnd));
        t.put("enc.b", TensorFixtures.random(DType.BF16, new int[] {2}, rnd));
        t.put("mask", TensorFixtures.random(DType.BOOL, new int[] {3}, rnd));
        t.put("step", TensorFixtures.random(DType.I64, new int[] {}, rnd));
        return List.of(SafeTensors.toBytes(t, Map.of("format", "pt")),
                SafeTensors.toBytes(Map.of("x", TensorFixtures.random(DType.I32, new int[] {1, 2, 1}, rnd))));
    }

    /// How to take a valid file apart into header text and data, and put it back together.
    private interface Framing {
        int headerStart();
        int headerEnd(byte[] file);
        byte[] build(String header, byte[] data);
    }

    private static final Framing NPY = new Framing() {
        public int headerStart() { return 10; }
        public int headerEnd(byte[] f) { return 10 + (f[8] & 0xff) + ((f[9] & 0xff) << 8); }
        public byte[] build(String header, byte[] data) { return TensorFixtures.concat(Npy.wrapHeader(header.strip()), data); }
    };

    private static final Framing SAFETENSORS = new Framing() {
        public int headerStart() { return 8; }
        public int headerEnd(byte[] f) { return 8 + (f[0] & 0xff) + ((f[1] & 0xff) << 8); }
        public byte[] build(String header, byte[] data) {
            byte[] text = header.getBytes(StandardCharsets.UTF_8);
            byte[] length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(text.length).array();
            return TensorFixtures.concat(length, text, data);
        }
    };

    private static final List<String> INTERESTING = List.of("-1", "0", "1", "3", "7", "8", "2147483647", "2147483648", "-2147483648",
            "4294967296", "9223372036854775807", "9223372036854775808", "99999999999999999999", "1000000000");

    /// Replaces one integer in the header text by an interesting one and reframes the file, so
    /// that the damage reaches the checks behind the syntax (shapes, offsets, sizes).
    private static byte[] replaceNumber(byte[] file, Framing framing, Random rnd) {
        int start = framing.headerStart(), end = framing.headerEnd(file);
        String header = new String(file, start, end - start, StandardCharsets.ISO_8859_1);
        Matcher m = Pattern.compile("\\d+").matcher(header);
        List<int[]> spans = new ArrayList<>();
        while (m.find()) spans.add(new int[] {m.start(), m.end()});
        if (spans.isEmpty()) return file;
        int[] span = spans.get(rnd.nextInt(spans.size()));
        String replaced = header.substring(0, span[0]) + INTERESTING.get(rnd.nextInt(INTERESTING.size())) + header.substring(span[1]);
        return framing.build(replaced, Arrays.copyOfRange(file, end, file.length));
    }

    /// One random kind of damage.
    private static byte[] mutate(byte[] file, Framing framing, Random rnd) {
        byte[] b = file.clone();
        int headerEnd = framing.headerEnd(file);
        switch (rnd.nextInt(8)) {
            case 6, 7 -> b = replaceNumber(file, framing, rnd);
            case 0 -> { for (int i = 1 + rnd.nextInt(4); i > 0; i--) b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256); }
            case 1 -> b = Arrays.copyOf(b, rnd.nextInt(b.length));
            case 2 -> { for (int i = 1 + rnd.nextInt(3); i > 0; i--) b[rnd.nextInt(headerEnd)] = HEADER_CHARS[rnd.nextInt(HEADER_CHARS.length)]; }
            case 3 -> {
                int at = rnd.nextInt(b.length + 1);
                byte[] extra = new byte[1 + rnd.nextInt(8)];
                rnd.nextBytes(extra);
                b = TensorFixtures.concat(Arrays.copyOf(b, at), extra, Arrays.copyOfRange(file, at, file.length));
            }
            case 4 -> { for (int i = 0; i < 10; i++) if (rnd.nextInt(3) == 0) b[i] = (byte) rnd.nextInt(256); }   // magic, version, lengths
            default -> {
                int from = rnd.nextInt(b.length), to = from + rnd.nextInt(b.length - from + 1);
                b = TensorFixtures.concat(Arrays.copyOf(b, from), Arrays.copyOfRange(b, to, b.length));
            }
        }
        return b;
    }

    private static int[] fuzz(List<byte[]> files, Framing framing, List<Function<byte[], Object>> readers, long seed) {
        Random rnd = new Random(seed);
        int accepted = 0, refused = 0;
        for (int round = 0; round < ROUNDS; round++) {
            byte[] base = files.get(rnd.nextInt(files.size()));
            byte[] damaged = mutate(base, framing, rnd);
            for (Function<byte[], Object> reader : readers) {
                try {
                    reader.apply(damaged);
                    accepted++;
                } catch (TensorFileException e) {
                    assertTrue(e.getMessage().startsWith("fuzz: "), e.getMessage());
                    refused++;
                } catch (Throwable t) {
                    fail("round " + round + ": " + t + " on " + HexFormat.of().formatHex(damaged, 0, Math.min(damaged.length, 400)), t);
                }
            }
        }
        return new int[] {accepted, refused};
    }

    @Test
    @Timeout(20)
    void damagedNpyFilesOnlyEverRaiseTensorFileException() {
        Random rnd = new Random(11);
        int[] counts = fuzz(npyFiles(rnd), NPY,
                List.of(b -> Npy.read(b, "fuzz"), b -> Npy.read(new ByteArrayInputStream(b), "fuzz")), 12);
        assertTrue(counts[0] > 0 && counts[1] > 0, () -> Arrays.toString(counts));   // the fuzz reaches both outcomes
    }

    @Test
    @Timeout(20)
    void damagedSafetensorsFilesOnlyEverRaiseTensorFileException() {
        Random rnd = new Random(21);
        int[] counts = fuzz(safetensorsFiles(rnd), SAFETENSORS,
                List.of(b -> SafeTensors.read(b, "fuzz")), 22);
        assertTrue(counts[0] > 0 && counts[1] > 0, () -> Arrays.toString(counts));
    }
}
