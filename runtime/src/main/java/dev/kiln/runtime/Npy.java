package dev.kiln.runtime;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.Set;

/// NumPy `.npy` files: one array each.
///
/// Layout: the magic `\x93NUMPY`, a version (major, minor byte), the header length (2 bytes
/// little-endian in version 1.0, 4 bytes in 2.0 and 3.0), the header (a Python dict literal with
/// exactly the keys `descr`, `fortran_order`, `shape`; Latin-1 text, UTF-8 in 3.0), then the raw
/// elements. Reads versions 1.0, 2.0 and 3.0 with dtypes `<f2 <f4 <f8 <i4 <i8 |b1`; big-endian
/// (`>`) data is converted on read, Fortran-order data is refused. Writes version 1.0 (2.0 only
/// for a header too long for it), little-endian, padded exactly as `numpy.save` pads, so the
/// bytes equal what NumPy writes for the same array. `bf16` has no NumPy dtype and is refused.
///
/// Invariant: every failure, I/O included, is a [TensorFileException] naming the source, and
/// no allocation is sized by the header before the header is checked against the bytes present.
public final class Npy {
    private Npy() {}

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /// Real headers are under a kilobyte (32 dimensions of 10 digits); NumPy itself refuses
    /// more than 10,000 characters unless told to trust the file.
    static final int MAX_HEADER = 1 << 20;
    private static final Set<String> KEYS = Set.of("descr", "fortran_order", "shape");
    private static final String SUPPORTED = "<f2, <f4, <f8, <i4, <i8, |b1 (or big-endian '>')";

    /// The declared element type, byte order and shape, and where the data starts.
    private record Header(DType dtype, ByteOrder order, int[] shape, long dataStart) {
        long dataBytes() { return (long) NdArray.checkedSize(shape) * dtype.byteSize(); }
    }

    /// Reads the array in `file`, which must hold exactly one array and nothing after it.
    public static NdArray read(Path file) {
        String source = file.toString();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return readWhole(TensorBytes.Input.of(channel), channel.size(), source);
        } catch (IOException e) {
            throw TensorBytes.ioFailure(source, "cannot read", e);
        }
    }

    /// Reads the array in `bytes`, which must hold exactly one array; `source` names it in errors.
    public static NdArray read(byte[] bytes, String source) {
        try {
            return readWhole(TensorBytes.Input.of(bytes), bytes.length, source);
        } catch (IOException e) {
            throw TensorBytes.ioFailure(source, "cannot read", e);
        }
    }

    /// Reads one array from `in` and leaves the stream just after it, so arrays written one
    /// after another (as `numpy.save` on an open file does) read back one call each. The stream
    /// is not closed. Data beyond 2 GiB cannot come through a stream; read such files by path.
    public static NdArray read(InputStream in, String source) {
        try {
            Header h = readHeader(TensorBytes.Input.of(in), -1, source);
            long need = h.dataBytes();
            if (need > TensorBytes.MAX_ELEMENTS)
                throw new TensorFileException(source, "array data is " + need + " bytes, too large to read from a stream; read the file by path");
            byte[] data = TensorBytes.readUpTo(in, (int) need);
            if (data.length < need) throw truncated(source, h, data.length);
            return decode(h, TensorBytes.Input.of(data));
        } catch (IOException e) {
            throw TensorBytes.ioFailure(source, "cannot read", e);
        }
    }

    /// Writes `array` to `file` atomically (a temporary file renamed over it).
    public static void write(Path file, NdArray array) {
        String source = file.toString();
        byte[] header = header(array, source);
        try {
            AtomicFiles.write(file, out -> write(header, array, out));
        } catch (IOException e) {
            throw TensorBytes.ioFailure(source, "cannot write", e);
        }
    }

    /// The bytes of a `.npy` file holding `array`.
    public static byte[] toBytes(NdArray array) {
        String source = "in-memory .npy";
        byte[] header = header(array, source);
        long total = header.length + (long) array.size() * array.dtype().byteSize();
        if (total > TensorBytes.MAX_ELEMENTS)
            throw new TensorFileException(source, array.dtype() + TensorBytes.shapeText(array.shape()) + " needs " + total + " bytes, more than a byte array holds; write it to a file");
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) total);
        try {
            write(header, array, out);
        } catch (IOException e) {
            throw new IllegalStateException(e);                 // a ByteArrayOutputStream does not fail
        }
        return out.toByteArray();
    }

    private static void write(byte[] header, NdArray array, OutputStream out) throws IOException {
        out.write(header);
        TensorBytes.encode(array, ByteOrder.LITTLE_ENDIAN, out);
    }

    // ---- reading ----

    private static NdArray readWhole(TensorBytes.Input in, long size, String source) throws IOException {
        Header h = readHeader(in, size, source);
        long have = size - h.dataStart();
        long need = h.dataBytes();
        if (have < need) throw truncated(source, h, have);
        if (have > need)
            throw new TensorFileException(source, (have - need) + " unexpected bytes after the array data (shape "
                    + TensorBytes.shapeText(h.shape()) + " of " + h.dtype() + " is " + need + " bytes)");
        return decode(h, in);
    }

    private static NdArray decode(Header h, TensorBytes.Input in) throws IOException {
        int count = NdArray.checkedSize(h.shape());
        return NdArray.wrap(h.dtype(), TensorBytes.decode(h.dtype(), count, h.order(), in), h.shape());
    }

    private static TensorFileException truncated(String source, Header h, long have) {
        return new TensorFileException(source, "truncated: shape " + TensorBytes.shapeText(h.shape()) + " of " + h.dtype()
                + " needs " + h.dataBytes() + " bytes of data but only " + have + " follow the header");
    }

    /// Reads and checks everything before the data. `size` is the total length, or -1 for a stream.
    private static Header readHeader(TensorBytes.Input in, long size, String source) throws IOException {
        byte[] preamble = new byte[MAGIC.length + 2];
        readOrFail(in, preamble, preamble.length, source, "the magic and version");
        for (int i = 0; i < MAGIC.length; i++) {
            if (preamble[i] != MAGIC[i]) {
                String hint = preamble[0] == 'P' && preamble[1] == 'K' ? " (it looks like a zip archive, e.g. an .npz)" : "";
                throw new TensorFileException(source, "not a .npy file: it does not start with \\x93NUMPY" + hint);
            }
        }
        int major = preamble[6] & 0xff, minor = preamble[7] & 0xff;
        if (minor != 0 || major < 1 || major > 3)
            throw new TensorFileException(source, "unsupported .npy format version " + major + "." + minor + " (Kiln reads 1.0, 2.0 and 3.0)");
        int lengthBytes = major == 1 ? 2 : 4;
        byte[] lengthField = new byte[lengthBytes];
        readOrFail(in, lengthField, lengthBytes, source, "the header length");
        ByteBuffer lb = ByteBuffer.wrap(lengthField).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = major == 1 ? lb.getShort() & 0xffffL : lb.getInt() & 0xffffffffL;
        long dataStart = preamble.length + lengthBytes + headerLength;
        if (headerLength > MAX_HEADER)
            throw new TensorFileException(source, "header length " + headerLength + " is absurd (the limit is " + MAX_HEADER + " bytes)");
        if (size >= 0 && dataStart > size)
            throw new TensorFileException(source, "header length " + headerLength + " runs past the end of the file (" + size + " bytes)");
        byte[] headerBytes = new byte[(int) headerLength];
        readOrFail(in, headerBytes, headerBytes.length, source, "the header");
        String text;
        try {
            Charset cs = major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1;
            text = cs.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(headerBytes)).toString();
        } catch (CharacterCodingException e) {
            throw new TensorFileException(source, "header is not valid UTF-8");
        }
        Json.Value dict;
        try {
            dict = new Literal(text).document();
        } catch (Json.SyntaxError e) {
            throw new TensorFileException(source, "header is not a Python dict literal: " + e.getMessage());
        }
        if (!(dict instanceof Json.Obj(SequencedMap<String, Json.Value> keys)))
            throw new TensorFileException(source, "header is " + Json.kind(dict) + ", not a dict");
        for (String k : keys.keySet())
            if (!KEYS.contains(k)) throw new TensorFileException(source, "header has unexpected key " + Json.quote(k) + " (a .npy header has exactly descr, fortran_order, shape)");
        for (String k : List.of("descr", "fortran_order", "shape"))
            if (!keys.containsKey(k)) throw new TensorFileException(source, "header has no '" + k + "' key");

        switch (keys.get("fortran_order")) {
            case Json.Bool(boolean fortran) when fortran -> throw new TensorFileException(source,
                    "fortran_order is True (column-major data), which Kiln does not read; save a C-ordered copy (numpy.ascontiguousarray)");
            case Json.Bool _ -> { }
            case Json.Value v -> throw new TensorFileException(source, "fortran_order is " + Json.kind(v) + ", not True or False");
        }
        Json.Value descr = keys.get("descr");
        DType dtype;
        ByteOrder order;
        switch (descr) {
            case Json.Str(String d) -> {
                dtype = dtypeOf(d);
                if (dtype == null) throw new TensorFileException(source, "dtype '" + d + "' is not supported; Kiln reads " + SUPPORTED);
                order = d.charAt(0) == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
            }
            case Json.Arr _ -> throw new TensorFileException(source, "structured dtypes (a descr list) are not supported; Kiln reads " + SUPPORTED);
            default -> throw new TensorFileException(source, "descr is " + Json.kind(descr) + ", not a dtype string");
        }
        int[] shape = TensorBytes.shape(source, "array", keys.get("shape"));
        return new Header(dtype, order, shape, dataStart);
    }

    private static void readOrFail(TensorBytes.Input in, byte[] b, int len, String source, String what) throws IOException {
        try {
            in.readFully(b, 0, len);
        } catch (EOFException e) {
            throw new TensorFileException(source, "truncated: the file ends inside " + what);
        }
    }

    /// The dtype of a descr such as `<f4`, or null. One-byte bools carry `|` (no byte order),
    /// though `<` and `>` mean the same for them.
    private static DType dtypeOf(String descr) {
        if (descr.length() != 3) return null;
        char order = descr.charAt(0);
        String kind = descr.substring(1);
        if (kind.equals("b1")) return order == '|' || order == '<' || order == '>' ? DType.BOOL : null;
        if (order != '<' && order != '>') return null;
        return switch (kind) {
            case "f2" -> DType.F16;
            case "f4" -> DType.F32;
            case "f8" -> DType.F64;
            case "i4" -> DType.I32;
            case "i8" -> DType.I64;
            default -> null;
        };
    }

    // ---- writing ----

    /// Magic, version, length and the padded header, as `numpy.save` writes them.
    private static byte[] header(NdArray array, String source) {
        String descr = switch (array.dtype()) {
            case F16 -> "<f2";
            case F32 -> "<f4";
            case F64 -> "<f8";
            case I32 -> "<i4";
            case I64 -> "<i8";
            case BOOL -> "|b1";
            case BF16 -> throw new TensorFileException(source, "bf16 has no NumPy dtype; cast to f32 first or use safetensors");
        };
        int[] shape = array.shape();
        if (shape.length > TensorBytes.MAX_RANK)
            throw new TensorFileException(source, "array has " + shape.length + " dimensions; at most " + TensorBytes.MAX_RANK + " are supported");
        StringBuilder dict = new StringBuilder("{'descr': '").append(descr).append("', 'fortran_order': False, 'shape': (");
        for (int i = 0; i < shape.length; i++) dict.append(i > 0 ? ", " : "").append(shape[i]);
        dict.append(shape.length == 1 ? ",), }" : "), }");
        // NumPy leaves room for the first dimension to grow to 21 digits in place.
        if (shape.length > 0) dict.append(" ".repeat(21 - Integer.toString(shape[0]).length()));
        return wrapHeader(dict.toString());
    }

    /// Prefixes magic, version and length, and pads with spaces and a final newline so that the
    /// data starts at a multiple of 64 bytes. Like NumPy, pads a whole 64 when already aligned.
    static byte[] wrapHeader(String dict) {
        byte[] text = dict.getBytes(StandardCharsets.ISO_8859_1);
        int withNewline = text.length + 1;
        int major = 1, lengthBytes = 2;
        int pad = 64 - (MAGIC.length + 2 + lengthBytes + withNewline) % 64;
        if (withNewline + pad > 0xffff) {
            major = 2;
            lengthBytes = 4;
            pad = 64 - (MAGIC.length + 2 + lengthBytes + withNewline) % 64;
        }
        int headerLength = withNewline + pad;
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 2 + lengthBytes + headerLength).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) b.putShort((short) headerLength); else b.putInt(headerLength);
        b.put(text);
        for (int i = 0; i < pad; i++) b.put((byte) ' ');
        b.put((byte) '\n');
        return b.array();
    }

    /// A reader for the Python literals found in .npy headers: dicts, tuples and lists, quoted
    /// strings without escapes, integers (with Python 2's `L` suffix), True, False, None. Tuples
    /// and lists both become [Json.Arr]; `(x)` without a comma is `x`, as in Python.
    private static final class Literal {
        private final String s;
        private int pos;
        private int depth;

        Literal(String s) { this.s = s; }

        Json.Value document() throws Json.SyntaxError {
            skipSpace();
            Json.Value v = value();
            skipSpace();
            if (pos < s.length()) throw error("unexpected " + found() + " after the dict");
            return v;
        }

        private Json.SyntaxError error(String what) { return new Json.SyntaxError("at character " + pos + ": " + what); }

        private String found() {
            if (pos >= s.length()) return "end of header";
            char c = s.charAt(pos);
            return c >= 0x20 && c < 0x7f ? "'" + c + "'" : String.format("character U+%04X", (int) c);
        }

        private void skipSpace() {
            while (pos < s.length() && (s.charAt(pos) == ' ' || s.charAt(pos) == '\t' || s.charAt(pos) == '\n' || s.charAt(pos) == '\r')) pos++;
        }

        private boolean at(char c) {
            skipSpace();
            if (pos < s.length() && s.charAt(pos) == c) { pos++; return true; }
            return false;
        }

        private Json.Value value() throws Json.SyntaxError {
            skipSpace();
            if (pos >= s.length()) throw error("expected a value but found end of header");
            char c = s.charAt(pos);
            if (c == '{' || c == '(' || c == '[') {
                if (++depth > Json.MAX_DEPTH) throw error("nested deeper than " + Json.MAX_DEPTH + " levels");
                pos++;
                Json.Value v = c == '{' ? dict() : sequence(c == '(' ? ')' : ']', c == '(');
                depth--;
                return v;
            }
            if (c == '\'' || c == '"') return new Json.Str(string(c));
            if (c == '-' || (c >= '0' && c <= '9')) return integer();
            for (String word : List.of("True", "False", "None")) {
                if (s.startsWith(word, pos)) {
                    pos += word.length();
                    return word.equals("None") ? new Json.Null() : new Json.Bool(word.equals("True"));
                }
            }
            throw error("expected a value but found " + found());
        }

        private Json.Value dict() throws Json.SyntaxError {
            SequencedMap<String, Json.Value> members = new LinkedHashMap<>();
            while (!at('}')) {
                skipSpace();
                int keyAt = pos;
                if (!(value() instanceof Json.Str(String key))) { pos = keyAt; throw error("dict keys must be strings"); }
                if (members.containsKey(key)) { pos = keyAt; throw error("duplicate key " + Json.quote(key)); }
                if (!at(':')) throw error("expected ':' but found " + found());
                members.put(key, value());
                if (!at(',')) {
                    if (at('}')) break;
                    throw error("expected ',' or '}' but found " + found());
                }
            }
            return new Json.Obj(members);
        }

        private Json.Value sequence(char close, boolean tuple) throws Json.SyntaxError {
            List<Json.Value> items = new ArrayList<>();
            boolean comma = false;
            while (!at(close)) {
                items.add(value());
                comma = at(',');
                if (!comma) {
                    if (at(close)) break;
                    throw error("expected ',' or '" + close + "' but found " + found());
                }
            }
            if (tuple && items.size() == 1 && !comma) return items.getFirst();   // (x) is just x
            return new Json.Arr(items);
        }

        private String string(char quote) throws Json.SyntaxError {
            int start = ++pos;
            while (pos < s.length() && s.charAt(pos) != quote) {
                char c = s.charAt(pos);
                if (c == '\\') throw error("escape sequences are not supported in header strings");
                if (c == '\n') throw error("unterminated string");
                pos++;
            }
            if (pos >= s.length()) throw error("unterminated string");
            return s.substring(start, pos++);
        }

        private Json.Value integer() throws Json.SyntaxError {
            int start = pos;
            if (s.charAt(pos) == '-') pos++;
            int digits = pos;
            while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') pos++;
            if (pos == digits) throw error("expected a digit but found " + found());
            String text = s.substring(start, pos);
            if (pos < s.length() && s.charAt(pos) == 'L') pos++;     // Python 2 long
            if (pos < s.length() && (s.charAt(pos) == '.' || s.charAt(pos) == 'e' || s.charAt(pos) == 'E' || s.charAt(pos) == 'j'))
                throw error("only integers are allowed here");
            try {
                return new Json.Int(Long.parseLong(text));
            } catch (NumberFormatException e) {
                pos = start;
                throw error("integer " + (text.length() > 40 ? text.substring(0, 40) + "..." : text) + " is out of range");
            }
        }
    }
}
