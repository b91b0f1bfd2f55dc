package dev.kiln.ir.text;

import dev.kiln.ir.DenseData;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/// Prints a graph as `.kir` text, the form that `Parser` reads back:
///
/// ```
/// graph @mlp(%x: f32[B,784], %fc1.w: f32[784,128]) -> (f32[B,128]) {
///   %0 = matmul %x, %fc1.w : f32[B,128]
///   %1 = relu %0 : f32[B,128]
///   return %1
/// }
/// ```
///
/// Everything but the values' numbering is derived from the op records (`Ops`), so a new op
/// prints without code here. Body values are numbered by position; a region's values continue
/// the count of the enclosing graph, so every number in one printout names one value.
/// Invariant: for a valid graph `g`, `Parser.parse(print(g))` prints back to exactly `print(g)`.
public final class Printer {
    private Printer() {}

    /// Index (0-based) of the column where `loc(...)` starts when locations are printed.
    static final int LOC_COLUMN = 56;
    /// A header longer than this puts one parameter per line.
    static final int HEADER_WIDTH = 100;

    /// The canonical, location-free text of `g` (what golden tests compare).
    public static String print(Graph g) { return print(g, false); }

    /// The text of `g`; with `withLocations`, each statement ends with its `loc(...)` at column 57.
    public static String print(Graph g, boolean withLocations) {
        StringBuilder s = new StringBuilder();
        for (Line l : new Listing(g, withLocations).lines) s.append(l.text).append('\n');
        return s.toString();
    }

    /// How `v` is spelled in `print(root)`: `%12`, `%fc1.w`; `%?` when it is not in `root`.
    public static String name(Graph root, Value v) {
        String name = new Listing(root, false).names.get(v);
        return name != null ? name : "%?";
    }

    /// The location-free lines of `root` around the statement that defines `at` (a parameter or
    /// a body value of `root` or of a region inside it), `radius` lines either side, the culprit
    /// marked `>>`. For error messages, as JAX's `check_jaxpr` prints the equations around a bad one.
    public static String excerpt(Graph root, Value at, int radius) { return excerptAt(root, at, radius); }

    /// As `excerpt(root, value, radius)`, around the `return` (or `yield`) line of `graph`, which
    /// is `root` or a region inside it.
    public static String excerptReturn(Graph root, Graph graph, int radius) { return excerptAt(root, graph, radius); }

    private static String excerptAt(Graph root, Object anchor, int radius) {
        Listing listing = new Listing(root, false);
        int at = 0;
        for (int i = 0; i < listing.lines.size(); i++)
            if (listing.lines.get(i).anchors.stream().anyMatch(a -> a == anchor)) { at = i; break; }
        StringBuilder s = new StringBuilder();
        for (int i = Math.max(0, at - radius); i <= Math.min(listing.lines.size() - 1, at + radius); i++)
            s.append(i == at ? ">> " : "   ").append(listing.lines.get(i).text).append('\n');
        return s.toString();
    }

    /// One printed line and the values (or the graph, for its return line) it defines.
    private record Line(String text, List<Object> anchors) {}

    /// Names every value of a graph and its regions, then prints them.
    private static final class Listing {
        final List<Line> lines = new ArrayList<>();
        final Map<Value, String> names = new IdentityHashMap<>();
        final boolean withLocations;
        int counter;

        Listing(Graph g, boolean withLocations) {
            this.withLocations = withLocations;
            name(g);
            header(g);
            body(g, "  ", "return");
            lines.add(new Line("}", List.of()));
        }

        /// Numbers the body (regions continue the count) before anything prints, so that an
        /// invalid graph that uses a value before its definition still prints its number.
        private void name(Graph g) {
            for (Value p : g.params())
                names.putIfAbsent(p, p.op() instanceof Op.Param(int _, String name, var _) ? "%" + valueName(name) : "%?");
            for (Value v : g.body()) {
                names.putIfAbsent(v, "%" + counter++);
                Graph region = Ops.region(v.op());
                if (region != null) name(region);
            }
        }

        private void header(Graph g) {
            List<String> params = new ArrayList<>();
            for (Value p : g.params()) params.add(ref(p) + ": " + p.type());
            List<String> results = g.results().stream().map(v -> v.type().toString()).toList();
            String tail = ") -> (" + String.join(", ", results) + ") {";
            String head = "graph @" + graphName(g.name()) + "(";
            String oneLine = head + String.join(", ", params) + tail;
            if (oneLine.length() <= HEADER_WIDTH || params.isEmpty()) {
                lines.add(new Line(oneLine, List.copyOf(g.params())));
                return;
            }
            lines.add(new Line(head, List.of()));
            for (int i = 0; i < params.size(); i++)
                lines.add(new Line("    " + params.get(i) + (i + 1 < params.size() ? "," : ""), List.of(g.params().get(i))));
            lines.add(new Line(tail, List.of()));
        }

        private void body(Graph g, String indent, String keyword) {
            for (Value v : g.body()) statement(v, indent);
            StringBuilder s = new StringBuilder(indent).append(keyword);
            for (int i = 0; i < g.results().size(); i++) s.append(i == 0 ? " " : ", ").append(ref(g.results().get(i)));
            lines.add(new Line(s.toString(), List.of(g)));
        }

        private void statement(Value v, String indent) {
            Op op = v.op();
            StringBuilder s = new StringBuilder(indent).append(ref(v)).append(" = ").append(Ops.mnemonic(op));
            List<Value> operands = Ops.operands(op);
            for (int i = 0; i < operands.size(); i++) s.append(i == 0 ? " " : ", ").append(ref(operands.get(i)));
            Map<String, Object> attributes = Ops.attributes(op);
            if (!attributes.isEmpty()) {
                s.append(" {");
                boolean first = true;
                for (var e : attributes.entrySet()) {
                    s.append(first ? "" : ", ").append(Ops.snake(e.getKey())).append('=').append(literal(e.getValue()));
                    first = false;
                }
                s.append('}');
            }
            s.append(" : ").append(v.type());
            Graph region = Ops.region(op);
            if (region == null) {
                lines.add(new Line(withLoc(s.toString(), v.loc()), List.of(v)));
                return;
            }
            lines.add(new Line(s.append(" {").toString(), List.of(v)));
            String inner = indent + "  ";
            List<String> params = new ArrayList<>();
            for (Value p : region.params()) params.add(ref(p) + ": " + p.type());
            lines.add(new Line(inner + "(" + String.join(", ", params) + "):", List.copyOf(region.params())));
            body(region, inner, "yield");
            lines.add(new Line(withLoc(indent + "}", v.loc()), List.of()));
        }

        private String withLoc(String text, Loc loc) {
            if (!withLocations) return text;
            String pad = text.length() < LOC_COLUMN ? " ".repeat(LOC_COLUMN - text.length()) : " ";
            return text + pad + "loc(" + loc(loc) + ")";
        }

        private String ref(Value v) {
            String name = names.get(v);
            return name != null ? name : "%?"; // a value from outside this graph: only an invalid graph has one
        }
    }

    // ---- lexical forms shared with the parser ------------------------------------------------

    /// A value name as written after `%`: bare when it is made of letters, digits, `_` and `.` and
    /// is not all digits (those are numbered results), otherwise quoted.
    static String valueName(String name) {
        return isBareName(name) && !isAllDigits(name) ? name : quote(name);
    }

    /// A graph (or kernel program) name as written after `@`: bare or quoted.
    public static String graphName(String name) { return isBareName(name) ? name : quote(name); }

    static boolean isNameChar(int c) { return Character.isLetterOrDigit(c) || c == '_' || c == '.'; }

    static boolean isBareName(String s) {
        if (s.isEmpty()) return false;
        for (int i = 0; i < s.length(); i++) if (!isNameChar(s.charAt(i))) return false;
        return true;
    }

    static boolean isAllDigits(String s) {
        if (s.isEmpty()) return false;
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) < '0' || s.charAt(i) > '9') return false;
        return true;
    }

    /// A string literal: `"..."` with `\"`, `\\`, `\n`, `\t`, `\r` and four-hex-digit unicode escapes for control characters.
    public static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                case '\r' -> b.append("\\r");
                default -> {
                    if (c < 0x20 || c == 0x7f) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }

    /// A string literal read back (see `unquote`): its value and the index after its closing
    /// quote, or, when it is malformed, `error` (not null), where it is (`errorAt`) and where
    /// reading stopped (`end`).
    public record Unquoted(String value, int end, int errorAt, String error) {}

    /// The string literal that starts at `src[at]` (a `"`), as `quote` writes it, on one line.
    public static Unquoted unquote(String src, int at) {
        int n = src.length(), pos = at + 1;
        StringBuilder s = new StringBuilder();
        while (true) {
            if (pos >= n || src.charAt(pos) == '\n') return new Unquoted(null, pos, at, "unterminated string");
            char c = src.charAt(pos++);
            if (c == '"') return new Unquoted(s.toString(), pos, -1, null);
            if (c != '\\') {
                s.append(c);
                continue;
            }
            int e = pos < n ? src.charAt(pos) : -1;
            pos++;
            switch (e) {
                case '"' -> s.append('"');
                case '\\' -> s.append('\\');
                case 'n' -> s.append('\n');
                case 't' -> s.append('\t');
                case 'r' -> s.append('\r');
                case 'u' -> {
                    int v = 0;
                    for (int i = 0; i < 4; i++) {
                        int d = pos < n ? Character.digit(src.charAt(pos), 16) : -1;
                        if (d < 0) return new Unquoted(null, pos, pos, "expected four hex digits after '\\u'");
                        v = v * 16 + d;
                        pos++;
                    }
                    s.append((char) v);
                }
                default -> {
                    return new Unquoted(null, pos, pos - 2, "unknown escape in string; use \\\", \\\\, \\n, \\t, \\r or \\uXXXX");
                }
            }
        }
    }

    /// An attribute value: numbers, `inf`/`-inf`/`nan`, quoted strings, dtypes, `[1,0]` lists,
    /// dense data as its flat values.
    static String literal(Object value) {
        return switch (value) {
            case Double d -> number(d);
            case Float f -> number(f.doubleValue());
            case String str -> quote(str);
            case DType d -> d.text();
            case DenseData d -> dense(d);
            default -> String.valueOf(value); // Integer, Long, Boolean, Axes, Ints
        };
    }

    /// `Double.toString`, which reads back to the same double, with inf and nan spelled as in the IR.
    static String number(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        return Double.toString(d);
    }

    /// Flat values in row-major order; the shape is in the result type. Floats narrower than f64
    /// print their shortest float form (`0.1`, not `0.10000000149011612`), which reads back exactly.
    public static String dense(DenseData d) {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < d.size(); i++) {
            if (i > 0) s.append(',');
            double v = d.getDouble(i);
            switch (d.dtype()) {
                case BOOL -> s.append(v != 0);
                case I32, I64 -> s.append(d.getLong(i));
                case F64 -> s.append(number(v));
                case F32, F16, BF16 -> s.append(Double.isNaN(v) || Double.isInfinite(v) ? number(v) : Float.toString((float) v));
            }
        }
        return s.append(']').toString();
    }

    /// The text inside `loc(...)`. A file or scope with characters that delimit locations is quoted.
    static String loc(Loc loc) {
        return switch (loc) {
            case Loc.Unknown _ -> "unknown";
            case Loc.Source(String file, int line, String scope) ->
                    (isPlainFile(file) ? file : quote(file)) + ":" + line
                            + (scope.isEmpty() ? "" : " in " + (isPlainScope(scope) ? scope : quote(scope)));
            case Loc.Grad(Loc of) -> "grad(" + loc(of) + ")";
            case Loc.Fused(List<Loc> parts) -> {
                StringBuilder s = new StringBuilder("fused[");
                for (int i = 0; i < parts.size(); i++) s.append(i > 0 ? ", " : "").append(loc(parts.get(i)));
                yield s.append(']').toString();
            }
        };
    }

    static boolean isFileChar(int c) { return c > ' ' && c != 0x7f && "()[],\":".indexOf(c) < 0; }

    private static boolean isPlainFile(String f) {
        if (f.isEmpty()) return false;
        for (int i = 0; i < f.length(); i++) if (!isFileChar(f.charAt(i))) return false;
        return true;
    }

    static boolean isScopeChar(int c) { return c >= ' ' && c != 0x7f && "()[],\"".indexOf(c) < 0; }

    private static boolean isPlainScope(String s) {
        if (s.isBlank() || !s.strip().equals(s)) return false;
        for (int i = 0; i < s.length(); i++) if (!isScopeChar(s.charAt(i))) return false;
        return true;
    }
}
