package dev.kiln.runtime;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.Set;

/// Safetensors files: named tensors plus optional string metadata.
///
/// Layout: an 8-byte little-endian header length N; N bytes of UTF-8 JSON
/// `{"__metadata__": {str: str}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}`
/// (possibly padded with trailing spaces); then the data buffer, little-endian, C order, with
/// offsets relative to its start. Dtypes F32, F64, I32, I64, BOOL, F16 and BF16 are read; the
/// other safetensors dtypes are refused by name.
///
/// Reading keeps the header's key order. A file is accepted only if each tensor's offsets span
/// exactly its shape's bytes and the tensors tile the data buffer with no gap, overlap or
/// trailing byte (as the format requires); a tensor entry with keys other than the three is
/// refused. Writing keeps the map's order (a PyTorch state dict's order), puts the data in the
/// same order and pads the header with spaces so the data starts 8-byte aligned.
///
/// Invariant: every failure, I/O included, is a [TensorFileException] naming the source, and
/// no allocation is sized by the header before it is checked against the file's real length.
public final class SafeTensors {
    private SafeTensors() {}

    /// The reference implementation's limit; real headers are at most a few MB.
    static final long MAX_HEADER = 100_000_000;
    private static final String METADATA = "__metadata__";
    private static final Set<String> ENTRY_KEYS = Set.of("dtype", "shape", "data_offsets");
    /// Safetensors dtypes that exist but have no Kiln dtype: refused with a clearer message than
    /// an unknown name gets.
    private static final Set<String> OTHER_DTYPES = Set.of("U8", "I8", "I16", "U16", "U32", "U64", "C64",
            "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4");

    /// One header entry. `begin` and `end` are relative to the data buffer, which starts at
    /// [Header#dataStart] in the file.
    public record TensorInfo(String name, DType dtype, List<Integer> shape, long begin, long end) {}

    /// A checked header: tensors and metadata in file order.
    public record Header(SequencedMap<String, TensorInfo> tensors, SequencedMap<String, String> metadata, long dataStart) {}

    /// A whole file: tensors and metadata in file order.
    public record Contents(LinkedHashMap<String, NdArray> tensors, LinkedHashMap<String, String> metadata) {}

    /// The tensors in `file`, in header order.
    public static LinkedHashMap<String, NdArray> read(Path file) { return readContents(file).tensors(); }

    /// The tensors in `bytes` (a whole file), in header order; `source` names it in errors.
    public static LinkedHashMap<String, NdArray> read(byte[] bytes, String source) { return readContents(bytes, source).tensors(); }

    public static Contents readContents(Path file) {
        String source = file.toString();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return readContents(TensorBytes.Input.of(channel), channel.size(), source);
        } catch (IOException e) {
            throw TensorBytes.ioFailure(source, "cannot read", e);
        }
    }

    public static Contents readContents(byte[] bytes, String source) {
        try {
            return readContents(TensorBytes.Input.of(bytes), bytes.length, source);
        } catch (IOException e) {
            throw TensorBytes.ioFailure(source, "cannot read", e);
        }
    }

    /// The checked header of `file`, without reading any tensor data.
    public static Header readHeader(Path file) {
        String source = file.toString();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return readHeader(TensorBytes.Input.of(channel), channel.size(), source);
        } catch (IOException e) {
            throw TensorBytes.ioFailure(source, "cannot read", e);
        }
    }

    public static void write(Path file, Map<String, NdArray> tensors) { write(file, tensors, Map.of()); }

    /// Writes `tensors` (in the map's iteration order) and `metadata` to `file` atomically.
    public static void write(Path file, Map<String, NdArray> tensors, Map<String, String> metadata) {
        String source = file.toString();
        byte[] header = header(tensors, metadata, source);
        try {
            AtomicFiles.write(file, out -> write(header, tensors, out));
        } catch (IOException e) {
            throw TensorBytes.ioFailure(source, "cannot write", e);
        }
    }

    public static byte[] toBytes(Map<String, NdArray> tensors) { return toBytes(tensors, Map.of()); }

    /// The bytes of a safetensors file holding `tensors` and `metadata`.
    public static byte[] toBytes(Map<String, NdArray> tensors, Map<String, String> metadata) {
        String source = "in-memory safetensors";
        byte[] header = header(tensors, metadata, source);
        long total = header.length;
        for (NdArray a : tensors.values()) total += (long) a.size() * a.dtype().byteSize();
        if (total > TensorBytes.MAX_ELEMENTS)
            throw new TensorFileException(source, "the tensors need " + total + " bytes, more than a byte array holds; write them to a file");
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) total);
        try {
            write(header, tensors, out);
        } catch (IOException e) {
            throw new IllegalStateException(e);                 // a ByteArrayOutputStream does not fail
        }
        return out.toByteArray();
    }

    // ---- reading ----

    private static Contents readContents(TensorBytes.Input in, long size, String source) throws IOException {
        Header h = readHeader(in, size, source);
        // The tensors tile the buffer, so reading them in offset order reads the file front to back.
        List<TensorInfo> byOffset = new ArrayList<>(h.tensors().values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        Map<String, NdArray> loaded = new LinkedHashMap<>();
        for (TensorInfo t : byOffset) {
            int[] shape = t.shape().stream().mapToInt(Integer::intValue).toArray();
            Object data;
            try {
                data = TensorBytes.decode(t.dtype(), NdArray.checkedSize(shape), ByteOrder.LITTLE_ENDIAN, in);
            } catch (EOFException e) {
                throw new TensorFileException(source, "truncated: the file ends inside tensor '" + t.name() + "'");
            }
            loaded.put(t.name(), NdArray.wrap(t.dtype(), data, shape));
        }
        LinkedHashMap<String, NdArray> tensors = new LinkedHashMap<>();
        for (String name : h.tensors().keySet()) tensors.put(name, loaded.get(name));
        return new Contents(tensors, new LinkedHashMap<>(h.metadata()));
    }

    private static Header readHeader(TensorBytes.Input in, long size, String source) throws IOException {
        if (size < 8) throw new TensorFileException(source, "file is " + size + " bytes, too short for the 8-byte header length");
        byte[] lengthField = new byte[8];
        in.readFully(lengthField, 0, 8);
        long n = ByteBuffer.wrap(lengthField).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String hint = new String(lengthField, 1, 5, StandardCharsets.ISO_8859_1).equals("NUMPY") ? "; this looks like a .npy file" : "";
        if (n < 0 || n > MAX_HEADER)
            throw new TensorFileException(source, "header length " + Long.toUnsignedString(n) + " is absurd (the limit is " + MAX_HEADER + " bytes)" + hint);
        if (8 + n > size)
            throw new TensorFileException(source, "header length " + n + " runs past the end of the file (" + size + " bytes)" + hint);
        byte[] headerBytes = new byte[(int) n];
        in.readFully(headerBytes, 0, headerBytes.length);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(headerBytes)).toString();
        } catch (CharacterCodingException e) {
            throw new TensorFileException(source, "header is not valid UTF-8");
        }
        if (!text.startsWith("{")) throw new TensorFileException(source, "header does not start with '{'");
        Json.Value root;
        try {
            root = Json.parse(text);
        } catch (Json.SyntaxError e) {
            throw new TensorFileException(source, "header is not valid JSON: " + e.getMessage());
        }
        long bufferLength = size - 8 - n;
        SequencedMap<String, TensorInfo> tensors = new LinkedHashMap<>();
        SequencedMap<String, String> metadata = new LinkedHashMap<>();
        for (var member : ((Json.Obj) root).members().entrySet()) {
            if (member.getKey().equals(METADATA)) metadata = metadata(member.getValue(), source);
            else tensors.put(member.getKey(), entry(member.getKey(), member.getValue(), bufferLength, source));
        }
        checkTiling(tensors.values(), bufferLength, source);
        return new Header(tensors, metadata, 8 + n);
    }

    private static SequencedMap<String, String> metadata(Json.Value v, String source) {
        if (!(v instanceof Json.Obj(var members)))
            throw new TensorFileException(source, "__metadata__ is " + Json.kind(v) + ", not an object of strings");
        SequencedMap<String, String> metadata = new LinkedHashMap<>();
        for (var m : members.entrySet()) {
            if (!(m.getValue() instanceof Json.Str(String s)))
                throw new TensorFileException(source, "__metadata__ value for " + Json.quote(m.getKey()) + " is " + Json.kind(m.getValue()) + ", not a string");
            metadata.put(m.getKey(), s);
        }
        return metadata;
    }

    private static TensorInfo entry(String name, Json.Value v, long bufferLength, String source) {
        String what = "tensor " + quoteName(name);
        if (!(v instanceof Json.Obj(var keys)))
            throw new TensorFileException(source, what + " is described by " + Json.kind(v) + ", not an object");
        for (String k : keys.keySet())
            if (!ENTRY_KEYS.contains(k)) throw new TensorFileException(source, what + " has unexpected key " + Json.quote(k) + " (expected dtype, shape, data_offsets)");
        for (String k : List.of("dtype", "shape", "data_offsets"))
            if (!keys.containsKey(k)) throw new TensorFileException(source, what + " has no '" + k + "'");

        if (!(keys.get("dtype") instanceof Json.Str(String dtypeName)))
            throw new TensorFileException(source, what + " has a dtype that is " + Json.kind(keys.get("dtype")) + ", not a string");
        DType dtype = dtypeOf(dtypeName);
        if (dtype == null) {
            throw new TensorFileException(source, OTHER_DTYPES.contains(dtypeName)
                    ? what + " has dtype " + dtypeName + ", which Kiln does not support (it reads F32, F64, I32, I64, BOOL, F16, BF16)"
                    : what + " has unknown dtype " + Json.quote(dtypeName));
        }
        int[] shape = TensorBytes.shape(source, what, keys.get("shape"));

        if (!(keys.get("data_offsets") instanceof Json.Arr(var offsets)) || offsets.size() != 2
                || !(offsets.get(0) instanceof Json.Int(long begin)) || !(offsets.get(1) instanceof Json.Int(long end)))
            throw new TensorFileException(source, what + " has data_offsets that are not a pair [begin, end] of integers");
        String range = "[" + begin + ", " + end + "]";
        if (begin < 0 || end < begin)
            throw new TensorFileException(source, what + " has data_offsets " + range + ", not 0 <= begin <= end");
        if (end > bufferLength)
            throw new TensorFileException(source, what + " has data_offsets " + range + " beyond the end of the data buffer (" + bufferLength + " bytes)");
        long bytes = (long) NdArray.checkedSize(shape) * dtype.byteSize();
        if (end - begin != bytes)
            throw new TensorFileException(source, what + " has shape " + TensorBytes.shapeText(shape) + " (" + bytes + " bytes as "
                    + dtypeName + ") but data_offsets cover " + (end - begin) + " bytes");
        List<Integer> shapeList = new ArrayList<>(shape.length);
        for (int d : shape) shapeList.add(d);
        return new TensorInfo(name, dtype, List.copyOf(shapeList), begin, end);
    }

    /// The tensors must cover `[0, bufferLength)` exactly once: the format forbids holes
    /// (they could hide a second file) and overlaps.
    private static void checkTiling(Iterable<TensorInfo> tensors, long bufferLength, String source) {
        List<TensorInfo> sorted = new ArrayList<>();
        tensors.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long covered = 0;
        TensorInfo previous = null;
        for (TensorInfo t : sorted) {
            if (t.begin() < covered)
                throw new TensorFileException(source, "tensors " + quoteName(previous.name()) + " [" + previous.begin() + ", " + previous.end()
                        + "] and " + quoteName(t.name()) + " [" + t.begin() + ", " + t.end() + "] overlap");
            if (t.begin() > covered)
                throw new TensorFileException(source, "bytes [" + covered + ", " + t.begin() + ") of the data buffer belong to no tensor");
            covered = t.end();
            previous = t;
        }
        if (covered < bufferLength)
            throw new TensorFileException(source, "bytes [" + covered + ", " + bufferLength + ") of the data buffer belong to no tensor");
    }

    private static DType dtypeOf(String name) {
        return switch (name) {
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            case "F32" -> DType.F32;
            case "F64" -> DType.F64;
            case "I32" -> DType.I32;
            case "I64" -> DType.I64;
            case "BOOL" -> DType.BOOL;
            default -> null;
        };
    }

    private static String dtypeName(DType dtype) {
        return switch (dtype) {
            case F16 -> "F16";
            case BF16 -> "BF16";
            case F32 -> "F32";
            case F64 -> "F64";
            case I32 -> "I32";
            case I64 -> "I64";
            case BOOL -> "BOOL";
        };
    }

    /// `'fc.bias'`, with control characters escaped so a hostile name cannot forge message lines.
    private static String quoteName(String name) {
        String q = Json.quote(name);
        return "'" + q.substring(1, q.length() - 1) + "'";
    }

    // ---- writing ----

    private static byte[] header(Map<String, NdArray> tensors, Map<String, String> metadata, String source) {
        StringBuilder json = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            json.append(Json.quote(METADATA)).append(":{");
            String sep = "";
            for (var m : metadata.entrySet()) {
                if (m.getKey() == null || m.getValue() == null) throw new TensorFileException(source, "metadata keys and values must not be null");
                json.append(sep).append(Json.quote(m.getKey())).append(':').append(Json.quote(m.getValue()));
                sep = ",";
            }
            json.append('}');
            if (!tensors.isEmpty()) json.append(',');
        }
        long offset = 0;
        String sep = "";
        for (var t : tensors.entrySet()) {
            String name = t.getKey();
            NdArray a = t.getValue();
            if (name == null || a == null) throw new TensorFileException(source, "tensor names and tensors must not be null");
            if (name.equals(METADATA)) throw new TensorFileException(source, "a tensor cannot be named __metadata__");
            if (a.rank() > TensorBytes.MAX_RANK)
                throw new TensorFileException(source, "tensor " + quoteName(name) + " has " + a.rank() + " dimensions; at most " + TensorBytes.MAX_RANK + " are supported");
            long bytes = (long) a.size() * a.dtype().byteSize();
            json.append(sep).append(Json.quote(name)).append(":{\"dtype\":\"").append(dtypeName(a.dtype())).append("\",\"shape\":[");
            int[] shape = a.shape();
            for (int i = 0; i < shape.length; i++) json.append(i > 0 ? "," : "").append(shape[i]);
            json.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
            sep = ",";
        }
        byte[] text = json.append('}').toString().getBytes(StandardCharsets.UTF_8);
        int padded = (text.length + 7) / 8 * 8;                   // data starts 8-byte aligned
        if (padded > MAX_HEADER) throw new TensorFileException(source, "header would be " + padded + " bytes, beyond the " + MAX_HEADER + " limit readers accept");
        ByteBuffer b = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(text);
        while (b.hasRemaining()) b.put((byte) ' ');
        return b.array();
    }

    private static void write(byte[] header, Map<String, NdArray> tensors, OutputStream out) throws IOException {
        out.write(header);
        for (NdArray a : tensors.values()) TensorBytes.encode(a, ByteOrder.LITTLE_ENDIAN, out);
    }
}
