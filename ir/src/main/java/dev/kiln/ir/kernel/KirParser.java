package dev.kiln.ir.kernel;

import dev.kiln.ir.DenseData;
import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.ir.text.ParseException;
import dev.kiln.ir.text.Parser;
import dev.kiln.ir.text.Printer;
import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/// Reads the text that `KirPrinter.print(KernelProgram)` writes back into an equal program.
/// Recursive descent over lines: the header, one line per buffer, one per constant, then the
/// kernels, each statement on its line (a loop's body between its `{` line and its `}` line).
/// Types left out of the text come back by the rules of `Kir`: a loop counter is I32, a
/// local has the type its `Let` declares, a load its buffer's dtype, `Un`, `Bin` and `Sel`
/// their operands'; the plan's slot dtypes, slot members and live ranges come from the slots
/// and the kernels (`BufferPlan.of`).
///
/// Blank lines and `//` comments are allowed anywhere, except that the comment on a `kernel`
/// line is the kernel's source location. Errors: the first one found, as a `ParseException`
/// at `file:line:column` saying what was expected and what was found.
public final class KirParser {
    private static final int EOF = -1;
    /// Bounds parameter and result numbers, so that a typo cannot make a huge list.
    private static final int MAX_INDEX = 1 << 20;

    private final String src;
    private final String file;
    private final int n;
    private int pos;

    private final List<String> symbols = new ArrayList<>();
    private final List<Buffer> buffers = new ArrayList<>();
    /// Types of the locals declared so far in the current kernel.
    private final Map<String, DType> locals = new HashMap<>();

    private KirParser(String text, String fileName) {
        this.src = text;
        this.file = fileName;
        this.n = text.length();
    }

    /// The kernel program in `text`; `fileName` names the text in errors. Throws `ParseException`.
    public static KernelProgram parse(String text, String fileName) { return new KirParser(text, fileName).program(); }

    // ---- errors --------------------------------------------------------------------------

    /// The 1-based line of offset `at`.
    private int lineOf(int at) {
        int line = 1;
        for (int i = 0; i < Math.min(at, n); i++) if (src.charAt(i) == '\n') line++;
        return line;
    }

    private ParseException error(int at, String message) {
        at = Math.min(at, n);
        int lineStart = src.lastIndexOf('\n', at - 1) + 1, line = lineOf(lineStart);
        int end = src.indexOf('\n', lineStart);
        String text = src.substring(lineStart, end < 0 ? n : end).stripTrailing();
        return new ParseException(List.of(new ParseException.Diagnostic(file, line, at - lineStart + 1, message)),
                java.util.Collections.singletonList(text.length() > 200 ? null : text));
    }

    private ParseException expected(String what) { return error(pos, "expected " + what + ", found " + describe()); }

    /// What is at the cursor, for "expected X, found Y".
    private String describe() {
        if (pos >= n) return "end of file";
        char c = src.charAt(pos);
        if (c == '\n' || c == '\r') return "end of line";
        int end = pos;
        while (end < n && end - pos < 32 && isWordChar(src.charAt(end))) end++;
        if (end > pos) return "'" + src.substring(pos, end) + "'";
        if (c == '"') return "a string";
        return Character.isISOControl(c) ? String.format("character U+%04X", (int) c) : "'" + c + "'";
    }

    // ---- characters ----------------------------------------------------------------------

    private int ch() { return pos < n ? src.charAt(pos) : EOF; }

    /// The cursor after spaces: where the next token starts, for an error about it.
    private int here() {
        spaces();
        return pos;
    }

    private static boolean isWordChar(int c) { return c != EOF && (Character.isLetterOrDigit(c) || c == '_'); }

    /// Skips spaces and tabs, not the end of the line.
    private void spaces() {
        while (pos < n && (src.charAt(pos) == ' ' || src.charAt(pos) == '\t' || src.charAt(pos) == '\r')) pos++;
    }

    private void skipComment() {
        if (src.startsWith("//", pos)) while (pos < n && src.charAt(pos) != '\n') pos++;
    }

    /// Skips blank and comment lines (and the indentation of the next line).
    private void skipBlank() {
        while (true) {
            spaces();
            skipComment();
            if (ch() != '\n') return;
            pos++;
        }
    }

    /// The end of a line (a comment may precede it), or of the file.
    private void endLine() {
        spaces();
        skipComment();
        if (ch() == EOF) return;
        if (ch() != '\n') throw expected("end of line");
        pos++;
    }

    /// Skips a `,` (and the spaces before it) when there is one.
    private boolean comma() {
        spaces();
        if (ch() != ',') return false;
        pos++;
        return true;
    }

    private void expect(char c, String what) {
        spaces();
        if (ch() != c) throw expected(what);
        pos++;
    }

    /// A word of letters, digits and `_` starting with a letter or `_`; null when none starts here.
    private String word() {
        spaces();
        int c = ch();
        if (c == EOF || !(Character.isLetter(c) || c == '_')) return null;
        int start = pos;
        while (pos < n && isWordChar(src.charAt(pos))) pos++;
        return src.substring(start, pos);
    }

    private String word(String what) {
        String w = word();
        if (w == null) throw expected(what);
        return w;
    }

    private boolean atWord(String w) {
        spaces();
        return src.startsWith(w, pos) && !isWordChar(pos + w.length() < n ? src.charAt(pos + w.length()) : EOF);
    }

    private void keyword(String w) {
        if (!atWord(w)) throw expected("'" + w + "'");
        pos += w.length();
    }

    private DType dtype() {
        int at = here();
        String w = word("a dtype");
        DType d = DType.parse(w);
        if (d == null) throw error(at, "unknown dtype '" + w + "' (expected f16, bf16, f32, f64, i32, i64 or bool)");
        return d;
    }

    /// A non-negative decimal integer.
    private int integer(String what) {
        spaces();
        int start = pos;
        while (pos < n && Character.isDigit(src.charAt(pos))) pos++;
        if (pos == start) throw expected(what);
        try {
            return Integer.parseInt(src.substring(start, pos));
        } catch (NumberFormatException e) {
            throw error(start, what + " " + src.substring(start, pos) + " is out of range");
        }
    }

    /// A name as `Printer.graphName` writes it: bare (letters, digits, `_`, `.`) or quoted.
    private String name(String what) {
        spaces();
        if (ch() == '"') return string();
        int start = pos;
        while (pos < n && (isWordChar(src.charAt(pos)) || src.charAt(pos) == '.')) pos++;
        if (pos == start) throw expected(what);
        return src.substring(start, pos);
    }

    /// A string literal as `Printer.quote` writes it.
    private String string() {
        spaces();
        if (ch() != '"') throw expected("a string");
        Printer.Unquoted u = Printer.unquote(src, pos);
        pos = u.end();
        if (u.error() != null) throw error(u.errorAt(), u.error());
        return u.value();
    }

    // ---- program -------------------------------------------------------------------------

    private KernelProgram program() {
        skipBlank();
        keyword("program");
        expect('@', "'@' and the program name");
        String name = name("the program name");
        if (atWord("symbols")) {
            pos += "symbols".length();
            expect('[', "'[' to open the symbols");
            do {
                int at = here();
                String s = word("a symbol name");
                if (symbols.contains(s)) throw error(at, "symbol " + s + " is listed twice");
                symbols.add(s);
            } while (comma());
            expect(']', "',' or ']' in the symbols");
        }
        endLine();

        Binding bound = new Binding(symbols.size());
        List<Integer> results = new ArrayList<>();
        List<Integer> slotOf = new ArrayList<>();
        List<Integer> paramBuffer = new ArrayList<>();
        int paramCount = 0;
        skipBlank();
        while (ch() == 'b') {
            buffer(bound, results, slotOf, paramBuffer);
            if (buffers.getLast().kind() == BufferKind.PARAM) paramCount++;
            skipBlank();
        }
        for (int i = 0; i < paramCount; i++)
            if (i >= paramBuffer.size() || paramBuffer.get(i) == null) throw error(pos, "no buffer holds parameter " + i);
        for (int r = 0; r < results.size(); r++)
            if (results.get(r) == null) throw error(pos, "no buffer holds result " + r);
        for (int s = 0; s < symbols.size(); s++)
            if (bound.param[s] < 0) throw error(pos, "no parameter binds symbol " + symbols.get(s) + " (write '(" + symbols.get(s) + " = axis A)' on its buffer line)");

        List<NdArray> constants = new ArrayList<>();
        while (atWord("const")) {
            constants.add(constant(constants.size()));
            skipBlank();
        }
        for (Buffer b : buffers) {
            if (b.kind() != BufferKind.CONST) continue;
            if (b.index() >= constants.size())
                throw error(pos, "buffer b" + b.id() + " holds constant " + b.index() + ", which is not given (expected 'const " + b.index() + ": ...')");
            if (constants.get(b.index()).dtype() != b.dtype())
                throw error(pos, "buffer b" + b.id() + " is " + b.dtype() + ", but constant " + b.index() + " is " + constants.get(b.index()).dtype());
        }

        List<Kernel> kernels = new ArrayList<>();
        List<Integer> kernelLines = new ArrayList<>();
        while (pos < n) {
            kernelLines.add(lineOf(pos));
            kernels.add(kernel());
            skipBlank();
        }
        int[] slots = slotOf.stream().mapToInt(Integer::intValue).toArray();
        KernelProgram p = new KernelProgram(name, buffers, kernels, paramBuffer, results, constants, symbols,
                Arrays.stream(bound.param).boxed().toList(), Arrays.stream(bound.axis).boxed().toList(),
                BufferPlan.of(slots, buffers, kernels));
        // what the grammar cannot say (types, scopes, who writes a buffer first), at the kernel's line
        KirVerifier.verify(p, k -> dev.kiln.ir.Loc.of(file, k < 0 ? 1 : kernelLines.get(k)));
        return p;
    }

    /// For each symbol, the parameter and axis that bind it (-1 until a buffer line says).
    private record Binding(int[] param, int[] axis) {
        Binding(int count) {
            this(new int[count], new int[count]);
            Arrays.fill(param, -1);
        }
    }

    /// `b2: f32[(B * 4)] temp "%0" slot 0`, `b0: f32[(B * 4)] param 0 "x" (B = axis 0) result 1`.
    private void buffer(Binding bound, List<Integer> results, List<Integer> slotOf, List<Integer> paramBuffer) {
        int id = buffers.size(), at = here();
        if (!("b" + id).equals(word())) {
            pos = at;
            throw expected("buffer b" + id + " (buffers are numbered in order)");
        }
        expect(':', "':' after b" + id);
        spaces();
        DType dtype = dtype();
        expect('[', "'[' and the element count");
        Expr numel = expr();
        expect(']', "']' after the element count");
        int kindAt = here();
        String k = word("the buffer kind (param, const or temp)");
        BufferKind kind = switch (k) {
            case "param" -> BufferKind.PARAM;
            case "const" -> BufferKind.CONST;
            case "temp" -> BufferKind.TEMP;
            default -> throw error(kindAt, "unknown buffer kind '" + k + "' (expected param, const or temp)");
        };
        int index = -1;
        if (kind != BufferKind.TEMP) {
            int indexAt = here();
            index = integer("the " + k + " number");
            if (index > MAX_INDEX) throw error(indexAt, k + " number " + index + " is too large");
            if (kind == BufferKind.PARAM) {
                while (paramBuffer.size() <= index) paramBuffer.add(null);
                if (paramBuffer.get(index) != null) throw error(indexAt, "parameter " + index + " is already buffer b" + paramBuffer.get(index));
                paramBuffer.set(index, id);
            }
        }
        String name = string();
        spaces();
        if (ch() == '(') {
            if (kind != BufferKind.PARAM) throw error(pos, "only a parameter binds symbols");
            pos++;
            do {
                int symAt = here();
                String s = word("a symbol");
                int y = symbols.indexOf(s);
                if (y < 0) throw error(symAt, "'" + s + "' is not a symbol of the program");
                if (bound.param[y] >= 0) throw error(symAt, "symbol " + s + " is already bound by parameter " + bound.param[y]);
                expect('=', "'=' after " + s);
                keyword("axis");
                bound.param[y] = index;
                bound.axis[y] = integer("an axis");
            } while (comma());
            expect(')', "',' or ')' after a symbol binding");
        }
        if (atWord("result")) {
            pos += "result".length();
            do {
                int resultAt = here(), r = integer("a result number");
                if (r > MAX_INDEX) throw error(resultAt, "result number " + r + " is too large");
                while (results.size() <= r) results.add(null);
                if (results.get(r) != null) throw error(resultAt, "result " + r + " is already buffer b" + results.get(r));
                results.set(r, id);
            } while (comma());
        }
        int slot = -1;
        if (atWord("slot")) {
            pos += "slot".length();
            int slotAt = here();
            slot = integer("a slot number");
            if (kind != BufferKind.TEMP) throw error(slotAt, "only a temp buffer has a slot");
            if (slot > slotOf.stream().mapToInt(Integer::intValue).max().orElse(-1) + 1)
                throw error(slotAt, "slot " + slot + " skips a number (slots are numbered from 0 in order of first mention)");
            for (int other = 0; other < id; other++)
                if (slotOf.get(other) == slot && buffers.get(other).dtype() != dtype)
                    throw error(slotAt, "slot " + slot + " holds " + buffers.get(other).dtype() + " buffers (b" + other + "), not " + dtype);
        }
        endLine();
        buffers.add(new Buffer(id, name, dtype, numel, kind, index));
        slotOf.add(slot);
    }

    /// `const 0: f32[2,3] [1.0,2.0,3.0,4.0,5.0,6.0]`: values in row-major order, as the graph IR prints dense data.
    private NdArray constant(int index) {
        pos += "const".length();
        int at = here();
        if (integer("the constant number") != index) throw error(at, "expected constant " + index + " (constants are numbered in order)");
        expect(':', "':' and the constant's type");
        spaces();
        DType dtype = dtype();
        expect('[', "'[' and the constant's shape");
        List<Integer> dims = new ArrayList<>();
        spaces();
        if (ch() != ']')
            do dims.add(integer("a dimension")); while (comma());
        expect(']', "',' or ']' in the shape");
        int[] shape = dims.stream().mapToInt(Integer::intValue).toArray();
        long numel = 1;
        for (int d : shape) numel *= d;
        if (numel > Integer.MAX_VALUE - 8) throw error(at, "constant " + index + " is too large");
        NdArray a = NdArray.zeros(dtype, shape);
        expect('[', "'[' and the constant's values");
        for (int i = 0; i < numel; i++) {
            if (i > 0) expect(',', "',' and value " + i + " of " + numel);
            spaces();
            int valueAt = pos;
            String v = token();
            try {
                switch (dtype) {
                    case BOOL -> {
                        if (!v.equals("true") && !v.equals("false")) throw new NumberFormatException();
                        a.setBool(i, v.equals("true"));
                    }
                    case I32 -> a.setLong(i, Integer.parseInt(v));
                    case I64 -> a.setLong(i, Long.parseLong(v));
                    // the shortest float text reads back to the same bits
                    case F64 -> a.setDouble(i, Parser.parseDouble(v));
                    case F32, F16, BF16 -> a.setDouble(i, Parser.parseFloat(v));
                }
            } catch (NumberFormatException e) {
                throw error(valueAt, "expected a " + dtype + " value, found '" + v + "'");
            }
        }
        spaces();
        if (ch() != ']') throw expected(numel + " value" + (numel == 1 ? "" : "s") + " and ']'");
        pos++;
        endLine();
        return a;
    }

    /// The characters up to the next space, `,`, `]` or end of line.
    private String token() {
        int start = pos;
        while (pos < n && " \t\r\n,]".indexOf(src.charAt(pos)) < 0) pos++;
        return src.substring(start, pos);
    }

    // ---- kernels and statements ----------------------------------------------------------

    /// `kernel k0_relu  // Mlp.java:18` and its statements; without the comment the source is `unknown`.
    private Kernel kernel() {
        keyword("kernel");
        String name = name("the kernel name");
        spaces();
        String source = "unknown";
        if (src.startsWith("//", pos)) {
            pos += 2;
            if (ch() == ' ') pos++;
            int end = src.indexOf('\n', pos);
            source = src.substring(pos, end < 0 ? n : end);
            pos = end < 0 ? n : end;
        }
        endLine();
        locals.clear();
        List<Stmt> body = new ArrayList<>();
        while (true) {
            skipBlank();
            if (pos >= n || atWord("kernel")) return new Kernel(name, source, body);
            int at = pos;
            Stmt s = statement();
            if (!(s instanceof Loop || s instanceof Call)) throw error(at, "a kernel's top-level statements are loops and library calls");
            body.add(s);
        }
    }

    private Stmt statement() {
        if (atWord("for")) return loop();
        int at = pos;
        String w = word("a statement (for, a let such as 'f32 t0 = ...', a store such as 'b1[i0] = ...', or a call)");
        DType declared = DType.parse(w);
        if (declared != null) {
            spaces();
            int nameAt = pos;
            String name = word("the name of the local");
            expect('=', "'=' after " + name);
            Expr value = expr();
            if (value.type() != declared)
                throw error(nameAt, "local " + name + " is declared " + declared + ", but its value has type " + value.type());
            endLine();
            locals.put(name, declared);
            return new Let(name, value);
        }
        int buffer = bufferId(w, at);
        if (buffer >= 0 && ch() == '[') {
            pos++;
            Expr index = expr();
            expect(']', "']' after the index");
            expect('=', "'=' and the value to store");
            Expr value = expr();
            endLine();
            return new Store(buffer, index, value);
        }
        expect('=', "'=' after " + w);
        spaces();
        if (buffer >= 0 && (atWord("gemmNN") || atWord("gemmNT") || atWord("gemmTN") || atWord("gemmTT") || src.startsWith("conv2d", pos))) {
            LibCall c = call(buffer);
            endLine();
            skipBlank();
            Loop epilogue = null;
            if (atWord("epilogue")) {
                pos += "epilogue".length();
                expect(':', "':' after 'epilogue'");
                endLine();
                skipBlank();
                if (!atWord("for")) throw expected("the epilogue's loop");
                epilogue = loop();
            }
            return new Call(c, epilogue);
        }
        if (buffer >= 0) throw expected("a library call such as gemmNN(b0, b1) or conv2d(b0, b1)");
        if (!locals.containsKey(w)) throw error(at, "'" + w + "' is not a local declared above");
        Expr value = expr();
        endLine();
        return new Set(w, value);
    }

    /// `for i0 < extent {`, the body, `}`.
    private Loop loop() {
        pos += "for".length();
        String var = word("the loop counter");
        expect('<', "'<' and the loop's extent");
        Expr extent = expr();
        expect('{', "'{' to open the loop");
        endLine();
        locals.put(var, DType.I32);
        List<Stmt> body = new ArrayList<>();
        while (true) {
            skipBlank();
            if (ch() == '}') {
                pos++;
                endLine();
                return new Loop(var, extent, body);
            }
            if (pos >= n || atWord("kernel")) throw expected("'}' to close the loop over " + var);
            body.add(statement());
        }
    }

    /// The id of `w` when it is a buffer reference `b<id>` (checked against the buffers), else -1.
    private int bufferId(String w, int at) {
        if (w.length() < 2 || w.charAt(0) != 'b' || !w.substring(1).chars().allMatch(Character::isDigit)) return -1;
        int id;
        try {
            id = Integer.parseInt(w.substring(1));
        } catch (NumberFormatException e) {
            id = Integer.MAX_VALUE;
        }
        if (id >= buffers.size()) throw error(at, "buffer " + w + " is not declared (the program has b0 to b" + (buffers.size() - 1) + ")");
        return id;
    }

    private int bufferOperand() {
        int at = here();
        String w = word("a buffer such as b3");
        int b = bufferId(w, at);
        if (b < 0) throw error(at, "expected a buffer such as b3, found '" + w + "'");
        return b;
    }

    /// `gemmNT(b0, b1) batch=1 m=B n=128 k=784 f32` or `conv2d(b0, b1) n=B c=1 hw=28x28 ... f32`.
    private LibCall call(int out) {
        int at = here();
        String fn = word("a library call");
        expect('(', "'(' after " + fn);
        int x = bufferOperand();
        expect(',', "',' between the operands");
        int y = bufferOperand();
        expect(')', "')' after the operands");
        if (fn.startsWith("gemm")) {
            Expr batch = key("batch"), m = key("m"), nn = key("n"), k = key("k");
            return new Gemm(out, x, y, batch, m, nn, k, fn.charAt(4) == 'T', fn.charAt(5) == 'T', dtype());
        }
        ConvForm form = switch (fn) {
            case "conv2d" -> ConvForm.FORWARD;
            case "conv2d_grad_input" -> ConvForm.GRAD_INPUT;
            case "conv2d_grad_weight" -> ConvForm.GRAD_WEIGHT;
            default -> throw error(at, "unknown library call '" + fn + "' (expected gemmNN, gemmNT, gemmTN, gemmTT, conv2d, conv2d_grad_input or conv2d_grad_weight)");
        };
        Expr batch = key("n");
        int channels = intKey("c");
        int[] hw = pair("hw", 'x');
        int o = intKey("o");
        int[] k = pair("k", 'x'), outHw = pair("out", 'x'), stride = pair("stride", ','), pad = pair("pad", ','), dil = pair("dil", ',');
        int groups = intKey("groups");
        ConvGeom geom = new ConvGeom(channels, hw[0], hw[1], o, k[0], k[1], outHw[0], outHw[1], stride[0], stride[1], pad[0], pad[1],
                dil[0], dil[1], groups);
        return switch (form) { // the operands print in the order the form reads them
            case FORWARD -> new Conv(form, x, y, out, batch, geom, dtype());
            case GRAD_INPUT -> new Conv(form, out, y, x, batch, geom, dtype());
            case GRAD_WEIGHT -> new Conv(form, x, out, y, batch, geom, dtype());
        };
    }

    private void keyAt(String key) {
        keyword(key);
        if (ch() != '=') throw expected("'=' after " + key);
        pos++;
    }

    private Expr key(String key) {
        keyAt(key);
        return expr();
    }

    private int intKey(String key) {
        keyAt(key);
        return integer("a number after " + key + "=");
    }

    /// `hw=28x28`, `stride=1,1`.
    private int[] pair(String key, char separator) {
        keyAt(key);
        int a = integer("a number after " + key + "=");
        if (ch() != separator) throw expected("'" + separator + "' in " + key + "=");
        pos++;
        return new int[]{a, integer("a second number after " + key + "=")};
    }

    // ---- expressions ---------------------------------------------------------------------

    private static final Map<String, UnOp> UNARY = new HashMap<>();
    private static final Map<String, BinOp> CALLS = new HashMap<>();
    private static final Map<String, BinOp> INFIX = new HashMap<>();

    static {
        for (UnOp op : UnOp.values()) UNARY.put(op.name().toLowerCase(), op);
        for (BinOp op : BinOp.values()) {
            String s = KirPrinter.infix(op);
            if (s == null) CALLS.put(op.name().toLowerCase(), op);
            else INFIX.put(s, op);
        }
    }

    /// One expression as `KirPrinter.expr` writes it: every form but a cast is delimited.
    private Expr expr() {
        spaces();
        int at = pos, c = ch();
        if (c == '(') return parenthesized();
        if (c == '-' || (c >= '0' && c <= '9') || src.startsWith("NaN", pos) || src.startsWith("Infinity", pos)) return number();
        String w = word();
        if (w == null) throw expected("an expression");
        if (w.equals("true") || w.equals("false")) return new IntConst(w.equals("true") ? 1 : 0, DType.BOOL);
        if (ch() == '(') return call(w, at);
        int buffer = bufferId(w, at);
        if (buffer >= 0) {
            if (ch() != '[') throw expected("'[' and the index into " + w);
            pos++;
            Expr index = expr();
            expect(']', "']' after the index");
            return new Load(buffer, index, buffers.get(buffer).dtype());
        }
        DType local = locals.get(w);
        if (local != null) return new Local(w, local);
        if (symbols.contains(w)) return new Sym(w);
        throw error(at, "'" + w + "' is neither a local declared above nor a symbol of the program");
    }

    /// `(f32) x`, `(c ? a : b)` or `(a + b)`.
    private Expr parenthesized() {
        pos++;
        int save = pos;
        String w = word();
        DType to = w == null ? null : DType.parse(w);
        spaces();
        if (to != null && ch() == ')') {
            pos++;
            return new Convert(expr(), to);
        }
        pos = save;
        Expr a = expr();
        spaces();
        if (ch() == '?') {
            pos++;
            Expr onTrue = expr();
            expect(':', "':' in 'cond ? a : b'");
            Expr onFalse = expr();
            expect(')', "')' to close the select");
            return new Sel(a, onTrue, onFalse, onTrue.type(), true);
        }
        int opAt = pos;
        while (pos < n && "+-*/%<>=!&|".indexOf(src.charAt(pos)) >= 0) pos++;
        BinOp op = INFIX.get(src.substring(opAt, pos));
        if (op == null) {
            pos = opAt;
            throw expected("an operator (+ - * / % < <= > >= == != && ||), '?' or ')'");
        }
        Expr b = expr();
        expect(')', "')' after '" + KirPrinter.infix(op) + "' and its operands");
        return new Bin(op, a, b, op.isCompare() ? DType.BOOL : a.type());
    }

    /// `relu(x)`, `max(a, b)`, `select(c, a, b)`, `rand_f32(seed, index)`.
    private Expr call(String fn, int at) {
        pos++;
        UnOp un = UNARY.get(fn);
        if (un != null) {
            Expr x = expr();
            expect(')', "')' after the operand of " + fn);
            return new Un(un, x, un == UnOp.ISNAN ? DType.BOOL : x.type());
        }
        List<Expr> args = new ArrayList<>(List.of(expr()));
        while (comma()) args.add(expr());
        expect(')', "',' or ')' in the arguments of " + fn);
        BinOp bin = CALLS.get(fn);
        DType rand = fn.startsWith("rand_") ? DType.parse(fn.substring(5)) : null;
        int arity = bin != null || rand != null ? 2 : fn.equals("select") ? 3 : -1;
        if (arity < 0)
            throw error(at, "unknown function '" + fn + "' (expected " + String.join(", ", UNARY.keySet().stream().sorted().toList())
                    + ", pow, max, min, select or rand_<dtype>)");
        if (args.size() != arity) throw error(at, "'" + fn + "' takes " + arity + " operands, not " + args.size());
        if (bin != null) return new Bin(bin, args.get(0), args.get(1), args.get(0).type());
        if (rand != null) return new Rand(args.get(0), args.get(1), rand);
        return new Sel(args.get(0), args.get(1), args.get(2), args.get(1).type(), false);
    }

    /// `12` (i32), `12L` (i64), `-0.5f` (f32), `1.0E-5d` (f64), `0.5_f16`, `-Infinityd`, `NaNf`.
    private Expr number() {
        int at = pos;
        if (ch() == '-') pos++;
        boolean fraction = false;
        if (src.startsWith("Infinity", pos) || src.startsWith("NaN", pos)) {
            pos += src.startsWith("NaN", pos) ? 3 : 8;
            fraction = true;
        } else {
            int digits = pos;
            while (pos < n && Character.isDigit(src.charAt(pos))) pos++;
            if (pos == digits) throw expected("a digit");
            if (ch() == '.') {
                fraction = true;
                pos++;
                while (pos < n && Character.isDigit(src.charAt(pos))) pos++;
            }
            if (ch() == 'E' || ch() == 'e') {
                fraction = true;
                pos++;
                if (ch() == '-' || ch() == '+') pos++;
                while (pos < n && Character.isDigit(src.charAt(pos))) pos++;
            }
        }
        String text = src.substring(at, pos);
        DType type;
        if (ch() == 'L' || ch() == 'd' || ch() == 'f') {
            type = ch() == 'L' ? DType.I64 : ch() == 'd' ? DType.F64 : DType.F32;
            pos++;
        } else if (ch() == '_') {
            pos++;
            type = dtype();
        } else type = fraction ? null : DType.I32;
        if (type == null || isWordChar(ch()) || (fraction && !type.isFloat()))
            throw error(at, "malformed number '" + src.substring(at, Math.min(n, pos + 1)).strip()
                    + "' (integers: 12 or 12L; floats need a type: 1.5f, 1.5d, 1.5_f16, 1.5_bf16)");
        try {
            if (type.isFloat()) return new FloatConst(Double.parseDouble(text), type);
            long v = Long.parseLong(text);
            if (type == DType.I32 && v != (int) v) throw new NumberFormatException();
            return new IntConst(v, type);
        } catch (NumberFormatException e) {
            throw error(at, "number " + text + " is out of range for " + type);
        }
    }
}
