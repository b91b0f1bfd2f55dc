package dev.kiln.ir.text;

import dev.kiln.ir.Axes;
import dev.kiln.ir.Builder;
import dev.kiln.ir.DenseData;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Ints;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Shape;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// Reads `.kir` text (the form `Printer` writes) back into graphs, building them through a
/// `Builder`, so every op is type-checked as it is read; the declared `: type` of each statement
/// must equal the type its op's rule gives.
///
/// Generic over ops: the mnemonic names the record (`Ops.byMnemonic`), operands fill its `Value`
/// components in order (a `List<Value>` component takes the rest), attributes fill the other
/// components by snake_case name, `type` is the declared type and a `Graph` component is the
/// region that follows it.
///
/// Errors: the parser reports every error in the file, not only the first. After an error in a
/// statement it records a diagnostic, skips to the next line and still defines the statement's
/// result with its declared type, so that later lines do not fail because of an earlier one.
/// Statements without `loc(...)` get the location `fileName:line`. Invariant: `parse` returns a
/// graph or throws `ParseException`, nothing else, and its work is linear in the text (plus the
/// type rules), whatever the text.
public final class Parser {
    private static final int MAX_ERRORS = 100;
    private static final int MAX_REGION_DEPTH = 32;
    private static final int MAX_LOC_DEPTH = 64;
    private static final int MAX_AXES = 4096;
    private static final int MAX_RANK = 1024;
    private static final int EOF = -1;

    private final String src;
    private final String file;
    private final int n;
    private final int[] lineStarts;
    private final List<ParseException.Diagnostic> diagnostics = new ArrayList<>();
    private final List<Integer> diagnosticLines = new ArrayList<>();
    private int pos;
    /// When set, errors throw without being recorded (used to look ahead).
    private boolean quiet;
    /// Set once an unclosed graph or region is reported, so enclosing blocks stay quiet.
    private boolean unclosedReported;
    /// Whether the region just read ended with its `}`.
    private boolean regionClosed;
    /// Whether the attributes just read named one the op does not have.
    private boolean unknownAttribute;

    private Parser(String text, String fileName) {
        this.src = text;
        this.file = fileName;
        this.n = text.length();
        int lines = 1;
        for (int i = 0; i < n; i++) if (text.charAt(i) == '\n') lines++;
        lineStarts = new int[lines];
        for (int i = 0, l = 1; i < n; i++) if (text.charAt(i) == '\n') lineStarts[l++] = i + 1;
        if (n > 0 && text.charAt(0) == '\uFEFF') pos = 1;
    }

    /// The one graph in `text`; `fileName` names the text in diagnostics and locations.
    /// Throws `ParseException` listing every error.
    public static Graph parse(String text, String fileName) {
        return new Parser(text, fileName).run(true).getFirst();
    }

    /// Every graph in `text`, in order (a file may hold several). Throws `ParseException` listing every error.
    public static List<Graph> parseAll(String text, String fileName) {
        return new Parser(text, fileName).run(false);
    }

    // ---- errors --------------------------------------------------------------------------

    /// Thrown after an error has been recorded, to abandon the current statement.
    private static final class Bail extends RuntimeException {
        Bail() { super(null, null, false, false); }
    }

    /// Thrown when there are too many errors to go on.
    private static final class Stop extends RuntimeException {
        Stop() { super(null, null, false, false); }
    }

    private void error(int at, String message) {
        if (quiet) return;
        int line = line(at);
        diagnostics.add(new ParseException.Diagnostic(file, line, at - lineStarts[line - 1] + 1, message));
        diagnosticLines.add(line);
        if (diagnostics.size() >= MAX_ERRORS) {
            diagnostics.add(new ParseException.Diagnostic(file, line, at - lineStarts[line - 1] + 1,
                    "too many errors (" + MAX_ERRORS + "), stopping"));
            diagnosticLines.add(line);
            throw new Stop();
        }
    }

    private Bail fail(int at, String message) {
        error(at, message);
        return new Bail();
    }

    private Bail expected(String what) { return fail(pos, "expected " + what + ", found " + describe(pos)); }

    private ParseException exception() {
        List<String> lines = new ArrayList<>();
        for (int line : diagnosticLines) {
            int start = lineStarts[line - 1], end = lineEnd(start);
            lines.add(end - start > 200 ? null : src.substring(start, end).stripTrailing());
        }
        return new ParseException(diagnostics, lines);
    }

    /// What is at `at`, for "expected X, found Y".
    private String describe(int at) {
        if (at >= n) return "end of file";
        char c = src.charAt(at);
        if (c == '\n' || c == '\r') return "end of line";
        int start = at, end = at;
        if (c == '%' || c == '@') end++;
        while (end < n && end - start < 32 && Printer.isNameChar(src.charAt(end))) end++;
        if (end > start + (c == '%' || c == '@' ? 1 : 0)) return "'" + src.substring(start, end) + "'";
        if (c == '"') return "a string";
        if (Character.isISOControl(c) || Character.isSurrogate(c) || Character.isWhitespace(c))
            return String.format("character U+%04X", (int) c);
        return "'" + c + "'";
    }

    private static String shorten(String s) { return s.length() <= 40 ? s : s.substring(0, 37) + "..."; }

    // ---- characters ----------------------------------------------------------------------

    private int ch() { return pos < n ? src.charAt(pos) : EOF; }

    private int line(int at) {
        int i = Arrays.binarySearch(lineStarts, Math.min(at, n));
        return i >= 0 ? i + 1 : -i - 1;
    }

    private int lineEnd(int from) {
        int e = src.indexOf('\n', from);
        return e < 0 ? n : e;
    }

    /// Skips spaces, tabs and a `//` comment, but not the end of the line.
    private void skipInline() {
        while (pos < n) {
            char c = src.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\r') pos++;
            else if (c == '/' && pos + 1 < n && src.charAt(pos + 1) == '/') pos = lineEnd(pos);
            else break;
        }
    }

    /// Skips whitespace, comments and line ends.
    private void skipAll() {
        while (true) {
            skipInline();
            if (pos < n && src.charAt(pos) == '\n') pos++;
            else return;
        }
    }

    private void skipLine() { pos = lineEnd(pos); }

    private void expectChar(char c, String what) {
        if (ch() != c) throw expected(what);
        pos++;
    }

    private void expectEol() {
        skipInline();
        if (pos < n && src.charAt(pos) != '\n') throw expected("end of line");
    }

    private boolean isWordChar(int c) { return c != EOF && (Character.isLetterOrDigit(c) || c == '_'); }

    /// An identifier (letter or `_`, then letters, digits, `_`), or null when none starts here.
    private String word() {
        int c = ch();
        if (c == EOF || !(Character.isLetter(c) || c == '_')) return null;
        int start = pos;
        while (pos < n && isWordChar(src.charAt(pos))) pos++;
        return src.substring(start, pos);
    }

    private boolean lookingAtWord(String w) {
        return src.startsWith(w, pos) && (pos + w.length() >= n || !isWordChar(src.charAt(pos + w.length())));
    }

    /// Whether the line starting at or before `from` ends with `{` (a comment aside).
    private boolean lineEndsWithBrace(int from) {
        int end = lineEnd(from);
        for (int i = from; i + 1 < end; i++) // a comment ends the line early (searched within the line only)
            if (src.charAt(i) == '/' && src.charAt(i + 1) == '/') {
                end = i;
                break;
            }
        for (int i = end - 1; i >= from; i--) {
            char c = src.charAt(i);
            if (c == '{') return true;
            if (c != ' ' && c != '\t' && c != '\r') return false;
        }
        return false;
    }

    private int firstNonSpace(int from) {
        int p = from;
        while (p < n && (src.charAt(p) == ' ' || src.charAt(p) == '\t')) p++;
        return p;
    }

    // ---- file ----------------------------------------------------------------------------

    private List<Graph> run(boolean single) {
        List<Graph> graphs = new ArrayList<>();
        List<Integer> starts = new ArrayList<>();
        Map<String, Integer> names = new HashMap<>();
        try {
            while (true) {
                skipAll();
                if (pos >= n) break;
                if (lookingAtWord("graph")) {
                    starts.add(pos);
                    graph(graphs, names);
                } else {
                    error(pos, "expected 'graph', found " + describe(pos));
                    skipToGraph();
                }
            }
            if (diagnostics.isEmpty() && single && starts.size() != 1) {
                if (starts.isEmpty()) error(n, "expected a graph, found end of file");
                else error(starts.get(1), "expected one graph in the file, found " + starts.size());
            }
        } catch (Stop _) {
            // the diagnostics so far are the answer
        }
        if (!diagnostics.isEmpty()) throw exception();
        return graphs;
    }

    private void skipToGraph() {
        while (pos < n) {
            skipLine();
            skipAll();
            if (lookingAtWord("graph")) return;
        }
    }

    private void graph(List<Graph> out, Map<String, Integer> names) {
        int graphPos = pos, errorsBefore = diagnostics.size();
        unclosedReported = false;
        pos += "graph".length();
        Builder b = new Builder();
        Scope scope = new Scope(null);
        String name = null;
        int namePos = pos;
        List<TensorType> declared = null;
        try {
            skipInline();
            namePos = pos;
            if (ch() != '@') throw expected("'@' and the graph name");
            name = ref('@').name();
            skipInline();
            expectChar('(', "'(' to open the parameters");
            skipAll();
            if (ch() != ')') {
                while (true) {
                    param(b, scope);
                    skipAll();
                    if (ch() != ',') break;
                    pos++;
                    skipAll();
                }
            }
            expectChar(')', "',' or ')' after a parameter");
            skipAll();
            if (!src.startsWith("->", pos)) throw expected("'->' and the result types");
            pos += 2;
            skipAll();
            expectChar('(', "'(' to open the result types");
            skipAll();
            List<TensorType> types = new ArrayList<>();
            if (ch() != ')') {
                while (true) {
                    types.add(type());
                    skipAll();
                    if (ch() != ',') break;
                    pos++;
                    skipAll();
                }
            }
            expectChar(')', "',' or ')' after a result type");
            skipInline();
            expectChar('{', "'{' to open the graph body");
            expectEol();
            declared = types;
        } catch (Bail _) {
            scope.lenient = true; // parameters may be missing: do not report their uses
            skipHeader();
        }
        Block end = block(b, scope, false, graphPos, 0, name == null ? "?" : name);
        if (end.closed()) {
            try {
                expectEol();
            } catch (Bail _) {
                skipLine();
            }
        }
        if (declared != null && end.results() != null) {
            if (end.results().size() != declared.size()) {
                error(end.at(), "'return' gives " + end.results().size() + " value" + (end.results().size() == 1 ? "" : "s")
                        + ", but the header declares " + declared.size() + " result type" + (declared.size() == 1 ? "" : "s"));
            } else {
                for (int i = 0; i < declared.size(); i++) {
                    Value v = end.results().get(i);
                    if (v != null && !v.type().equals(declared.get(i)))
                        error(end.refs().get(i).pos(), "result #" + i + " " + end.refs().get(i).display() + " has type " + v.type()
                                + ", but the header declares " + declared.get(i));
                }
            }
        }
        if (name != null && names.containsKey(name))
            error(namePos, "graph @" + shorten(name) + " is defined twice (first at line " + names.get(name) + ")");
        if (name != null) names.putIfAbsent(name, line(graphPos));
        if (diagnostics.size() == errorsBefore) out.add(b.build(name, end.results()));
    }

    /// After a broken header: resume after the line that ends with `{`, or at the first line that
    /// looks like a statement.
    private void skipHeader() {
        while (pos < n) {
            boolean opens = lineEndsWithBrace(pos);
            skipLine();
            if (pos < n) pos++;
            if (opens) return;
            int p = firstNonSpace(pos);
            if (p < n && (src.charAt(p) == '%' || src.charAt(p) == '}')) return;
            int save = pos;
            pos = p;
            boolean keyword = lookingAtWord("return") || lookingAtWord("graph");
            pos = save;
            if (keyword) return;
        }
    }

    // ---- names and scopes ----------------------------------------------------------------

    /// A value's key: `%7` (numbered) and `%"7"` (a name made of digits) are different values.
    private record Key(String name, boolean numbered) {}

    /// A reference as written: its key, its spelling for messages, where it is.
    private record Ref(Key key, String display, int pos) {
        String name() { return key.name(); }
    }

    /// The values visible in one graph or region. A region sees only its own values; `parent`
    /// serves only to explain that in an error.
    private static final class Scope {
        final Scope parent;
        final Map<Key, Value> values = new HashMap<>();
        final Map<Key, Integer> lines = new HashMap<>();
        /// Names whose definition failed (or that were reported undefined): uses stay quiet.
        final Set<Key> poisoned = new HashSet<>();
        /// The header is broken: any unknown name may be one of its parameters.
        boolean lenient;

        Scope(Scope parent) { this.parent = parent; }
    }

    /// `%name`, `%7` or `%"any text"` (or the same after `@`).
    private Ref ref(char sigil) {
        int at = pos;
        if (ch() != sigil) throw expected(sigil == '%' ? "a value such as '%x'" : "'@'");
        pos++;
        if (ch() == '"') {
            String s = string();
            return new Ref(new Key(s, false), shorten(sigil + Printer.quote(s)), at);
        }
        int start = pos;
        while (pos < n && Printer.isNameChar(src.charAt(pos))) pos++;
        if (start == pos) throw fail(pos, "expected a name after '" + sigil + "', found " + describe(pos));
        String name = src.substring(start, pos);
        return new Ref(new Key(name, Printer.isAllDigits(name)), shorten(sigil + name), at);
    }

    private void define(Scope scope, Ref ref, Value v, int line) {
        Integer first = scope.lines.get(ref.key());
        if (first != null) {
            error(ref.pos(), ref.display() + " is already defined at line " + first);
            return;
        }
        scope.values.put(ref.key(), v);
        scope.lines.put(ref.key(), line);
        scope.poisoned.remove(ref.key());
    }

    /// The value `ref` names, or null (after reporting it, unless its definition already failed).
    private Value lookup(Scope scope, Ref ref) {
        Value v = scope.values.get(ref.key());
        if (v != null) return v;
        if (scope.poisoned.contains(ref.key()) || scope.lenient) return null;
        String hint = "";
        for (Scope s = scope.parent; s != null; s = s.parent)
            if (s.values.containsKey(ref.key())) {
                hint = " in this region (a region sees only its own parameters and values)";
                break;
            }
        error(ref.pos(), ref.display() + " is not defined" + hint);
        scope.poisoned.add(ref.key());
        return null;
    }

    /// `%name: type`, added to the builder and the scope.
    private void param(Builder b, Scope scope) {
        Ref r = ref('%');
        skipInline();
        expectChar(':', "':' and the type of parameter " + r.display());
        skipInline();
        TensorType t = type();
        int line = line(r.pos());
        if (scope.lines.containsKey(r.key())) {
            error(r.pos(), "parameter " + r.display() + " is defined twice");
            return;
        }
        Value v;
        try (var _ = b.at(Loc.of(file, line))) {
            v = b.param(r.name(), t);
        } catch (IrError e) { // the same name spelled another way (`%0` and `%"0"`)
            error(r.pos(), "parameter " + r.display() + " is defined twice");
            return;
        }
        define(scope, r, v, line);
    }

    // ---- blocks and statements -----------------------------------------------------------

    /// The end of a graph or region body: its results (null when broken, or an element null when
    /// that value is undefined), their references, where `return` is, and whether `}` was found.
    private record Block(List<Value> results, List<Ref> refs, int at, boolean closed) {}

    private Block block(Builder b, Scope scope, boolean region, int openPos, int depth, String graphName) {
        String keyword = region ? "yield" : "return";
        while (true) {
            skipAll();
            if (pos >= n) {
                if (!unclosedReported)
                    error(openPos, (region ? "region is not closed" : "graph @" + shorten(graphName) + " is not closed")
                            + ": expected '" + keyword + "' and '}' before the end of the file");
                unclosedReported = true;
                return new Block(null, List.of(), pos, false);
            }
            int c = ch();
            if (c == '%') {
                statement(b, scope, depth);
                continue;
            }
            if (c == '}') {
                error(pos, "expected '" + keyword + "' before '}'");
                pos++;
                return new Block(null, List.of(), pos - 1, true);
            }
            if (lookingAtWord("return") || lookingAtWord("yield")) return terminator(scope, region);
            if (lookingAtWord("graph")) {
                if (!unclosedReported)
                    error(pos, "expected '" + keyword + "' and '}' to close " + (region ? "the region" : "graph @" + shorten(graphName))
                            + " before the next graph");
                unclosedReported = true;
                return new Block(null, List.of(), pos, false);
            }
            error(pos, "expected a statement such as '%0 = add %x, %y : f32[4]' or '" + keyword + "', found " + describe(pos));
            skipLine();
        }
    }

    private Block terminator(Scope scope, boolean region) {
        int at = pos;
        boolean isReturn = lookingAtWord("return");
        if (isReturn == region) error(at, region ? "a region ends with 'yield', not 'return'" : "a graph ends with 'return', not 'yield'");
        pos += isReturn ? "return".length() : "yield".length();
        List<Value> results = new ArrayList<>();
        List<Ref> refs = new ArrayList<>();
        try {
            skipInline();
            if (pos < n && src.charAt(pos) != '\n') {
                while (true) {
                    Ref r = ref('%');
                    refs.add(r);
                    results.add(lookup(scope, r));
                    skipInline();
                    if (ch() != ',') break;
                    pos++;
                    skipInline();
                }
            }
            expectEol();
        } catch (Bail _) {
            skipLine();
            results = null;
        }
        skipAll();
        if (ch() == '}') {
            pos++;
            return new Block(results, refs, at, true);
        }
        error(pos, "expected '}' after '" + (isReturn ? "return" : "yield") + "', found " + describe(pos));
        while (pos < n) { // resume at the closing brace, or at the next graph
            skipLine();
            skipAll();
            if (ch() == '}') {
                pos++;
                return new Block(results, refs, at, true);
            }
            if (lookingAtWord("graph")) break;
        }
        return new Block(results, refs, at, false);
    }

    /// An attribute as written: its name, where, and its literal.
    private record Attr(String name, int pos, Lit value) {}

    /// `%N = mnemonic operands {attributes} : type [region] [loc(...)]`, one line (plus its
    /// region). On an error, reports it, defines the result with its declared type if that can be
    /// read, and skips the rest of the statement.
    private void statement(Builder b, Scope scope, int depth) {
        int start = pos, line = line(pos);
        Ref def = null;
        try {
            def = ref('%');
            skipInline();
            expectChar('=', "'=' after " + def.display());
            skipInline();
            int opPos = pos;
            String mnemonic = word();
            if (mnemonic == null) throw expected("an op name after '='");
            Ops.Info info = Ops.byMnemonic(mnemonic);
            if (info == null) throw fail(opPos, "unknown op '" + shorten(mnemonic) + "'" + suggestion(mnemonic, mnemonics()));
            if (info.cls() == Op.Param.class)
                throw fail(opPos, "'param' cannot be a statement: parameters are declared in the graph header");
            int errorsBefore = diagnostics.size();

            List<Value> operands = new ArrayList<>();
            boolean broken = false;
            skipInline();
            if (ch() == '%') {
                while (true) {
                    Value v = lookup(scope, ref('%'));
                    broken |= v == null;
                    operands.add(v);
                    skipInline();
                    if (ch() != ',') break;
                    pos++;
                    skipInline();
                }
            }
            int attrPos = pos;
            unknownAttribute = false;
            Map<String, Attr> attrs = ch() == '{' ? attributes(info, mnemonic) : Map.of();
            skipInline();
            if (ch() != ':') throw expected("':' before the result type");
            pos++;
            skipInline();
            int typePos = pos;
            TensorType declared = type();
            skipInline();

            Graph region = null;
            if (hasRegion(info)) {
                if (ch() != '{') throw expected("'{' to open the region of '" + mnemonic + "'");
                int openPos = pos++;
                expectEol();
                Attr kernel = attrs.get("kernel");
                String regionName = kernel != null && kernel.value() instanceof StrLit(String s, int _, int _) ? s : mnemonic;
                int errs = diagnostics.size();
                region = region(scope, openPos, depth + 1, regionName);
                if (!regionClosed) { // reported; the file ends or the next graph starts here
                    define(scope, def, unchecked(b, new Op.Const(0, declared), declared, Loc.of(file, line)), line);
                    return;
                }
                broken |= region == null || diagnostics.size() > errs;
                skipInline();
            }
            Loc loc = Loc.of(file, line);
            if (lookingAtWord("loc")) loc = loc();
            expectEol();

            // operand count and attributes are checked even when an operand is undefined
            Object[] args = arguments(info, mnemonic, opPos, attrPos, operands, attrs, declared, region);
            broken |= args == null || diagnostics.size() > errorsBefore;
            Value v = broken ? null : emit(b, info, mnemonic, args, opPos, typePos, declared, loc);
            if (v == null) v = unchecked(b, new Op.Const(0, declared), declared, loc);
            define(scope, def, v, line);
        } catch (Bail _) {
            if (def != null) salvage(b, scope, def, start, line);
            if (line(pos) == line && lineEndsWithBrace(start)) skipBlock(start);
            else skipLine();
        }
    }

    private static boolean hasRegion(Ops.Info info) {
        for (RecordComponent c : info.components()) if (c.getType() == Graph.class) return true;
        return false;
    }

    /// The record's components from the parsed parts, or null after reporting what is wrong.
    private Object[] arguments(Ops.Info info, String mnemonic, int opPos, int attrPos, List<Value> operands,
                               Map<String, Attr> attrs, TensorType declared, Graph region) {
        RecordComponent[] comps = info.components();
        int fixed = 0;
        boolean hasList = false;
        for (RecordComponent c : comps) {
            if (!Ops.isOperand(c)) continue;
            if (c.getType() == Value.class) fixed++;
            else hasList = true;
        }
        if (hasList ? operands.size() < fixed : operands.size() != fixed) {
            error(opPos, "'" + mnemonic + "' takes " + (hasList ? "at least " : "") + fixed + " operand" + (fixed == 1 ? "" : "s")
                    + ", got " + operands.size());
            return null;
        }
        List<String> missing = new ArrayList<>();
        for (RecordComponent c : comps) if (Ops.isAttribute(c) && !attrs.containsKey(Ops.snake(c.getName()))) missing.add("'" + Ops.snake(c.getName()) + "'");
        if (!missing.isEmpty()) {
            if (!unknownAttribute) // after a misspelt name, its absence is no news
                error(attrPos, "'" + mnemonic + "' needs attribute" + (missing.size() == 1 ? " " : "s ") + String.join(", ", missing));
            return null;
        }
        Object[] args = new Object[comps.length];
        int k = 0, listLength = operands.size() - fixed;
        boolean ok = true;
        for (int i = 0; i < comps.length; i++) {
            RecordComponent c = comps[i];
            if (c.getType() == Value.class) args[i] = operands.get(k++);
            else if (Ops.isOperand(c)) {
                args[i] = Collections.unmodifiableList(new ArrayList<>(operands.subList(k, k + listLength))); // may hold nulls
                k += listLength;
            } else if (c.getType() == Graph.class) args[i] = region;
            else if (c.getName().equals("type") && c.getType() == TensorType.class) args[i] = declared;
            else {
                args[i] = convert(attrs.get(Ops.snake(c.getName())), c.getType(), mnemonic, declared);
                ok &= args[i] != null;
            }
        }
        return ok ? args : null;
    }

    /// Builds the op, checks its type against the declared one and emits it; null after an error.
    private Value emit(Builder b, Ops.Info info, String mnemonic, Object[] args, int opPos, int typePos,
                       TensorType declared, Loc loc) {
        Op op;
        try {
            op = Ops.construct(info, args);
        } catch (RuntimeException e) {
            error(opPos, "'" + mnemonic + "' " + e.getMessage());
            return null;
        }
        TensorType inferred;
        try {
            inferred = op.inferType();
        } catch (IrError e) {
            error(opPos, e.detail());
            return unchecked(b, op, declared, loc);
        } catch (RuntimeException e) { // a type rule that failed on hostile input
            error(opPos, "'" + mnemonic + "' has no valid type: " + e.getMessage());
            return unchecked(b, op, declared, loc);
        }
        if (!inferred.equals(declared)) {
            error(typePos, "'" + mnemonic + "' gives type " + inferred + ", but " + declared + " is declared");
            return unchecked(b, op, declared, loc);
        }
        try (var _ = b.at(loc)) {
            return b.emit(op);
        }
    }

    private static Value unchecked(Builder b, Op op, TensorType declared, Loc loc) {
        try (var _ = b.at(loc)) {
            return b.emitUnchecked(op, declared);
        }
    }

    /// After a failed statement: defines its result with the type after its `:` when one reads
    /// as a type, so that its uses need not fail too; otherwise marks the name as failed.
    private void salvage(Builder b, Scope scope, Ref def, int start, int line) {
        if (scope.lines.containsKey(def.key())) return;
        int end = lineEnd(start), save = pos;
        TensorType t = null;
        quiet = true;
        try {
            for (int i = start; i < end && t == null; i++) {
                if (src.charAt(i) != ':') continue;
                pos = i + 1;
                skipInline();
                try {
                    t = type();
                } catch (Bail _) {
                    // not a type here
                }
            }
        } finally {
            quiet = false;
            pos = save;
        }
        if (t == null) scope.poisoned.add(def.key());
        else define(scope, def, unchecked(b, new Op.Const(0, t), t, Loc.of(file, line)), line);
    }

    /// Skips a statement whose first line opens a region, through its closing `}` line.
    private void skipBlock(int start) {
        int depth = 0;
        pos = start;
        while (pos < n) {
            int first = firstNonSpace(pos);
            if (first < n && src.charAt(first) == '}') depth--;
            if (lineEndsWithBrace(pos)) depth++;
            skipLine();
            if (depth <= 0) return;
            if (pos < n) pos++;
        }
    }

    /// `(%arg0: type, ...):` and the region's statements through `yield` and `}`; null when broken.
    private Graph region(Scope outer, int openPos, int depth, String name) {
        if (depth > MAX_REGION_DEPTH) throw fail(openPos, "regions are nested more than " + MAX_REGION_DEPTH + " deep");
        Builder rb = new Builder();
        Scope scope = new Scope(outer);
        skipAll();
        int headerPos = pos;
        try {
            expectChar('(', "'(' and the region's parameters");
            skipInline();
            if (ch() != ')') {
                while (true) {
                    param(rb, scope);
                    skipInline();
                    if (ch() != ',') break;
                    pos++;
                    skipInline();
                }
            }
            expectChar(')', "',' or ')' after a region parameter");
            skipInline();
            expectChar(':', "':' after the region's parameters");
            expectEol();
        } catch (Bail _) {
            scope.lenient = true;
            if (headerPos < n && src.charAt(headerPos) == '(') skipLine();
            else pos = headerPos;
        }
        Block end = block(rb, scope, true, openPos, depth, null);
        regionClosed = end.closed();
        if (end.results() == null || end.results().contains(null)) return null;
        return rb.build(name, end.results());
    }

    // ---- attributes ----------------------------------------------------------------------

    /// An attribute literal as written; converted once the component's type (and, for dense
    /// data, the declared type) is known.
    private sealed interface Lit { int pos(); int end(); }
    private record NumLit(String text, int pos, int end) implements Lit {
        boolean integral() { return text.chars().allMatch(c -> c == '-' || (c >= '0' && c <= '9')); }
    }
    private record StrLit(String value, int pos, int end) implements Lit {}
    private record WordLit(String word, int pos, int end) implements Lit {}
    /// A flat list; items are re-read from their positions when converted, to keep big lists small.
    private record ListLit(int[] starts, int pos, int end) implements Lit {}

    private Map<String, Attr> attributes(Ops.Info info, String mnemonic) {
        Map<String, RecordComponent> known = new LinkedHashMap<>();
        for (RecordComponent c : info.components()) if (Ops.isAttribute(c)) known.put(Ops.snake(c.getName()), c);
        Map<String, Attr> out = new LinkedHashMap<>();
        unknownAttribute = false;
        pos++; // '{'
        skipInline();
        if (ch() == '}') {
            pos++;
            return out;
        }
        while (true) {
            skipInline();
            int at = pos;
            String name = word();
            if (name == null) throw expected("an attribute name");
            skipInline();
            expectChar('=', "'=' after attribute '" + shorten(name) + "'");
            Lit value = literal(true);
            if (!known.containsKey(name)) {
                String hint = suggestion(name, known.keySet());
                if (hint.isEmpty()) hint = known.isEmpty() ? " (it has none)" : " (it has " + String.join(", ", known.keySet()) + ")";
                error(at, "'" + mnemonic + "' has no attribute '" + shorten(name) + "'" + hint);
                unknownAttribute = true;
            } else if (out.containsKey(name)) error(at, "attribute '" + name + "' is given twice");
            else out.put(name, new Attr(name, at, value));
            skipInline();
            if (ch() == ',') {
                pos++;
                continue;
            }
            expectChar('}', "',' or '}' after an attribute");
            return out;
        }
    }

    /// A number, `inf`, `-inf`, `nan`, a word, a string, or (when `list`) a flat `[...]` of those.
    private Lit literal(boolean list) {
        skipInline();
        int at = pos, c = ch();
        if (c == '"') {
            String s = string();
            return new StrLit(s, at, pos);
        }
        if (c == '[' && list) {
            pos++;
            int[] starts = new int[8];
            int count = 0;
            skipInline();
            if (ch() != ']') {
                while (true) {
                    skipInline();
                    if (count == starts.length) starts = Arrays.copyOf(starts, count * 2);
                    starts[count++] = pos;
                    literal(false);
                    skipInline();
                    if (ch() != ',') break;
                    pos++;
                }
            }
            expectChar(']', "',' or ']' in the list");
            return new ListLit(Arrays.copyOf(starts, count), at, pos);
        }
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        String w = word();
        if (w == null) throw expected("an attribute value");
        return w.equals("inf") || w.equals("nan") ? new NumLit(w, at, pos) : new WordLit(w, at, pos);
    }

    /// `-?digits(.digits)?([eE][+-]?digits)?`, or `-inf`.
    private NumLit number() {
        int at = pos;
        if (ch() == '-') {
            pos++;
            if (lookingAtWord("inf")) {
                pos += 3;
                return new NumLit("-inf", at, pos);
            }
        }
        int digits = pos;
        while (ch() >= '0' && ch() <= '9') pos++;
        if (pos == digits) throw expected("a digit");
        if (ch() == '.' && pos + 1 < n && Character.isDigit(src.charAt(pos + 1))) {
            pos++;
            while (ch() >= '0' && ch() <= '9') pos++;
        }
        if (ch() == 'e' || ch() == 'E') {
            int p = pos + 1;
            if (p < n && (src.charAt(p) == '+' || src.charAt(p) == '-')) p++;
            int e = p;
            while (p < n && src.charAt(p) >= '0' && src.charAt(p) <= '9') p++;
            if (p > e) pos = p;
        }
        if (pos < n && Printer.isNameChar(src.charAt(pos))) throw fail(at, "malformed number '" + shorten(src.substring(at, pos + 1)) + "'");
        if (pos - at > 100) throw fail(at, "number literal is too long");
        return new NumLit(src.substring(at, pos), at, pos);
    }

    private String text(Lit l) { return "'" + shorten(src.substring(l.pos(), l.end())) + "'"; }

    /// The literal as a `type` component value, or null after reporting the mismatch.
    private Object convert(Attr a, Class<?> type, String mnemonic, TensorType declared) {
        Lit l = a.value();
        String what = "attribute '" + a.name() + "' of '" + mnemonic + "' ";
        if (type == int.class || type == long.class) {
            if (!(l instanceof NumLit num) || !num.integral()) return mismatch(l, what + "needs an integer");
            try {
                return type == int.class ? (Object) Integer.parseInt(num.text()) : (Object) Long.parseLong(num.text());
            } catch (NumberFormatException e) {
                return mismatch(l, what + "is out of range");
            }
        }
        if (type == double.class) {
            if (!(l instanceof NumLit num)) return mismatch(l, what + "needs a number");
            double d = parseDouble(num.text());
            if (Double.isInfinite(d) && !num.text().endsWith("inf")) return mismatch(l, what + "is out of range");
            return d;
        }
        if (type == boolean.class) {
            if (l instanceof WordLit(String w, int _, int _) && (w.equals("true") || w.equals("false"))) return w.equals("true");
            return mismatch(l, what + "needs true or false");
        }
        if (type == String.class) return l instanceof StrLit(String s, int _, int _) ? s : mismatch(l, what + "needs a string");
        if (type == DType.class) {
            DType d = l instanceof WordLit(String w, int _, int _) ? DType.parse(w) : null;
            return d != null ? d : mismatch(l, what + "needs a dtype (f16, bf16, f32, f64, i32, i64 or bool)");
        }
        if (type == Axes.class || type == Ints.class) {
            if (!(l instanceof ListLit list)) return mismatch(l, what + "needs a list of integers such as [1,0]");
            if (list.starts().length > MAX_AXES) return mismatch(l, what + "has more than " + MAX_AXES + " values");
            List<Integer> values = new ArrayList<>();
            for (int start : list.starts()) {
                Lit item = itemAt(start);
                if (!(item instanceof NumLit num) || !num.integral()) return mismatch(item, what + "needs integers");
                try {
                    values.add(Integer.parseInt(num.text()));
                } catch (NumberFormatException e) {
                    return mismatch(item, what + "has a value out of range");
                }
            }
            return type == Axes.class ? new Axes(values) : new Ints(values);
        }
        if (type == DenseData.class) {
            if (!(l instanceof ListLit list)) return mismatch(l, what + "needs a list of values such as [1.0,2.0]");
            return dense(list, declared, what);
        }
        return mismatch(l, what + "has type " + type.getSimpleName() + ", which the text form cannot express");
    }

    private Object mismatch(Lit l, String message) {
        error(l.pos(), message + ", found " + text(l));
        return null;
    }

    private Lit itemAt(int start) {
        int save = pos;
        pos = start;
        try {
            return literal(false);
        } finally {
            pos = save;
        }
    }

    /// A number as `Printer.number` writes it (`inf`, `-inf` and `nan` included).
    public static double parseDouble(String text) {
        return switch (text) {
            case "inf" -> Double.POSITIVE_INFINITY;
            case "-inf" -> Double.NEGATIVE_INFINITY;
            case "nan" -> Double.NaN;
            default -> Double.parseDouble(text);
        };
    }

    /// Dense data with the declared type's shape: checks the value count before allocating, so a
    /// huge declared shape cannot exhaust memory.
    private DenseData dense(ListLit list, TensorType declared, String what) {
        if (!declared.shape().isStatic()) {
            error(list.pos(), what + "needs a static result type, not " + declared);
            return null;
        }
        // the partial products are bounded as NdArray bounds them
        long limit = Integer.MAX_VALUE - 8, numel = 1;
        int[] shape = new int[declared.rank()];
        for (int i = 0; i < shape.length; i++) {
            long d = declared.dim(i).size();
            if (d > limit || numel * d > limit) {
                error(list.pos(), what + "cannot hold " + declared + ", which is too large");
                return null;
            }
            numel *= d;
            shape[i] = (int) d;
        }
        int count = list.starts().length;
        if (numel != count) {
            error(list.pos(), what + "has " + count + " value" + (count == 1 ? "" : "s") + ", but " + declared + " holds " + numel);
            return null;
        }
        DType dtype = declared.dtype();
        NdArray a = NdArray.zeros(dtype, shape);
        for (int i = 0; i < count; i++) {
            Lit item = itemAt(list.starts()[i]);
            switch (dtype) {
                case BOOL -> {
                    if (!(item instanceof WordLit(String w, int _, int _)) || !(w.equals("true") || w.equals("false")))
                        return (DenseData) mismatch(item, what + "needs true or false for bool");
                    a.setBool(i, w.equals("true"));
                }
                case I32, I64 -> {
                    if (!(item instanceof NumLit num) || !num.integral()) return (DenseData) mismatch(item, what + "needs integers for " + dtype);
                    try {
                        long v = Long.parseLong(num.text());
                        if (dtype == DType.I32 && v != (int) v) throw new NumberFormatException();
                        a.setLong(i, v);
                    } catch (NumberFormatException e) {
                        return (DenseData) mismatch(item, what + "has a value out of range for " + dtype);
                    }
                }
                default -> {
                    if (!(item instanceof NumLit num)) return (DenseData) mismatch(item, what + "needs numbers for " + dtype);
                    // f32/f16/bf16 read as float: the shortest float text reads back to the same bits
                    double v = dtype == DType.F64 ? parseDouble(num.text()) : parseFloat(num.text());
                    a.setDouble(i, v);
                    if (Double.isInfinite(a.getDouble(i)) && !num.text().endsWith("inf"))
                        return (DenseData) mismatch(item, what + "has a value out of range for " + dtype);
                }
            }
        }
        return new DenseData(a);
    }

    /// As `parseDouble`, to the nearest float: the shortest float text of a value reads back to the same bits.
    public static float parseFloat(String text) {
        return switch (text) {
            case "inf" -> Float.POSITIVE_INFINITY;
            case "-inf" -> Float.NEGATIVE_INFINITY;
            case "nan" -> Float.NaN;
            default -> Float.parseFloat(text);
        };
    }

    /// A string literal (`Printer.unquote`).
    private String string() {
        Printer.Unquoted u = Printer.unquote(src, pos);
        pos = u.end();
        if (u.error() != null) throw fail(u.errorAt(), u.error());
        return u.value();
    }

    // ---- types and locations -------------------------------------------------------------

    /// `f32[B,784]`, `i64[]`.
    private TensorType type() {
        int at = pos;
        String w = word();
        if (w == null) throw expected("a type such as f32[B,784]");
        DType dtype = DType.parse(w);
        if (dtype == null)
            throw fail(at, "unknown dtype '" + shorten(w) + "' (expected f16, bf16, f32, f64, i32, i64 or bool)");
        if (ch() != '[') throw expected("'[' and the shape after '" + w + "'");
        pos++;
        List<Dim> dims = new ArrayList<>();
        skipInline();
        if (ch() == ']') {
            pos++;
            return new TensorType(dtype, Shape.SCALAR);
        }
        while (true) {
            skipInline();
            int dimPos = pos, c = ch();
            if (c >= '0' && c <= '9') {
                while (ch() >= '0' && ch() <= '9') pos++;
                if (pos - dimPos > 18) throw fail(dimPos, "dimension " + shorten(src.substring(dimPos, pos)) + " is too large");
                if (isWordChar(ch())) throw fail(dimPos, "malformed dimension " + describe(dimPos));
                dims.add(Dim.of(Long.parseLong(src.substring(dimPos, pos))));
            } else if (c == '-') {
                throw fail(dimPos, "a dimension cannot be negative");
            } else if (c != EOF && Character.isLetter(c)) {
                dims.add(Dim.sym(word()));
            } else {
                throw expected("a dimension (a size, or a symbol such as B)");
            }
            skipInline();
            if (ch() != ',') break;
            if (dims.size() == MAX_RANK) throw fail(pos, "a shape has at most " + MAX_RANK + " dimensions");
            pos++;
        }
        expectChar(']', "',' or ']' in the shape");
        return new TensorType(dtype, new Shape(dims));
    }

    /// `loc(Mlp.java:18 in fc1)`, `loc(grad(...))`, `loc(fused[a, b])`, `loc(unknown)`.
    private Loc loc() {
        pos += "loc".length();
        expectChar('(', "'(' after 'loc'");
        Loc l = locBody(0);
        skipInline();
        expectChar(')', "')' to close the location");
        return l;
    }

    private Loc locBody(int depth) {
        if (depth > MAX_LOC_DEPTH) throw fail(pos, "location is nested more than " + MAX_LOC_DEPTH + " deep");
        skipInline();
        if (ch() == '"') return source(string());
        int start = pos;
        while (pos < n && Printer.isFileChar(src.charAt(pos))) pos++;
        String token = src.substring(start, pos);
        if (token.equals("grad") && ch() == '(') {
            pos++;
            Loc of = locBody(depth + 1);
            skipInline();
            expectChar(')', "')' to close 'grad('");
            return new Loc.Grad(of);
        }
        if (token.equals("fused") && ch() == '[') {
            pos++;
            List<Loc> parts = new ArrayList<>();
            skipInline();
            if (ch() != ']') {
                while (true) {
                    parts.add(locBody(depth + 1));
                    skipInline();
                    if (ch() != ',') break;
                    pos++;
                }
            }
            expectChar(']', "',' or ']' in 'fused[...]'");
            return new Loc.Fused(parts);
        }
        if (token.equals("unknown") && ch() != ':') return Loc.UNKNOWN;
        if (token.isEmpty()) throw expected("a location (file:line, grad(...), fused[...] or unknown)");
        return source(token);
    }

    /// After the file name: `:line` and an optional ` in scope`.
    private Loc source(String fileName) {
        expectChar(':', "':' and a line number after the file name");
        int at = pos;
        if (ch() == '-') pos++;
        int digits = pos;
        while (ch() >= '0' && ch() <= '9') pos++;
        if (pos == digits) throw expected("a line number");
        int line;
        try {
            line = Integer.parseInt(src.substring(at, pos));
        } catch (NumberFormatException e) {
            throw fail(at, "line number " + shorten(src.substring(at, pos)) + " is out of range");
        }
        int save = pos;
        skipInline();
        if (!lookingAtWord("in")) {
            pos = save;
            return new Loc.Source(fileName, line, "");
        }
        pos += 2;
        skipInline();
        String scope;
        if (ch() == '"') scope = string();
        else {
            int start = pos;
            while (pos < n && Printer.isScopeChar(src.charAt(pos))) pos++;
            scope = src.substring(start, pos).stripTrailing();
            if (scope.isEmpty()) throw expected("a scope name after 'in'");
        }
        return new Loc.Source(fileName, line, scope);
    }

    // ---- suggestions ---------------------------------------------------------------------

    private static List<String> mnemonics() { return Ops.all().stream().map(Ops.Info::mnemonic).toList(); }

    /// ` (did you mean 'x'?)` for the nearest candidate within two edits, or "".
    static String suggestion(String word, Iterable<String> candidates) {
        if (word.length() > 40) return "";
        String best = null;
        int bestDistance = 3;
        for (String c : candidates) {
            int d = distance(word, c);
            if (d < bestDistance && d < Math.max(word.length(), c.length())) {
                best = c;
                bestDistance = d;
            }
        }
        return best == null ? "" : " (did you mean '" + best + "'?)";
    }

    /// Edit distance counting a swap of neighbours as one edit (typos are often swaps).
    private static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) d[i][0] = i;
        for (int j = 0; j <= b.length(); j++) d[0][j] = j;
        for (int i = 1; i <= a.length(); i++)
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1))
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
            }
        return d[a.length()][b.length()];
    }
}
