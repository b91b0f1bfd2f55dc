package dev.kiln.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/// An integer expression over a graph's dimension symbols (a buffer's length, a loop's extent, a
/// launch's grid), in postfix form so that a compiled program's run-time plan can carry it as
/// plain data: each element of
/// `code` is a literal (`LIT` then the value), a symbol (`SYM` then its index) or an
/// operator. Operators evaluate as the kernel IR's size arithmetic does: integer division
/// and remainder by zero give 0.
public record Size(long[] code) {
    static final long LIT = 0, SYM = 1, ADD = 2, SUB = 3, MUL = 4, DIV = 5, MOD = 6, MAX = 7, MIN = 8;
    private static final String[] OPS = {null, null, "+", "-", "*", "/", "%", "max", "min"};

    public static final Size ZERO = literal(0);

    public static Size literal(long v) { return new Size(new long[]{LIT, v}); }

    public static Size symbol(int index) { return new Size(new long[]{SYM, index}); }

    /// `op` is one of `+ - * / % max min`.
    public static Size apply(String op, Size a, Size b) {
        long code = Arrays.asList(OPS).indexOf(op);
        if (code < ADD) throw new IllegalArgumentException("no size operator '" + op + "'");
        long[] c = Arrays.copyOf(a.code, a.code.length + b.code.length + 1);
        System.arraycopy(b.code, 0, c, a.code.length, b.code.length);
        c[c.length - 1] = code;
        return new Size(c);
    }

    public long eval(int[] dims) {
        long[] stack = new long[code.length];
        int top = 0;
        for (int i = 0; i < code.length; i++) {
            long op = code[i];
            if (op == LIT) stack[top++] = code[++i];
            else if (op == SYM) stack[top++] = dims[(int) code[++i]];
            else {
                long y = stack[--top], x = stack[--top];
                stack[top++] = switch ((int) op) {
                    case (int) ADD -> x + y;
                    case (int) SUB -> x - y;
                    case (int) MUL -> x * y;
                    case (int) DIV -> y == 0 ? 0 : x / y;
                    case (int) MOD -> y == 0 ? 0 : x % y;
                    case (int) MAX -> Math.max(x, y);
                    default -> Math.min(x, y);
                };
            }
        }
        return stack[0];
    }

    /// `$0,128,*`: comma-separated postfix tokens, `$i` for symbol i.
    @Override public boolean equals(Object o) { return o instanceof Size s && Arrays.equals(code, s.code); }

    @Override public int hashCode() { return Arrays.hashCode(code); }

    @Override public String toString() { return text(); }

    public String text() {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < code.length; i++) {
            if (!s.isEmpty()) s.append(',');
            if (code[i] == LIT) s.append(code[++i]);
            else if (code[i] == SYM) s.append('$').append(code[++i]);
            else s.append(OPS[(int) code[i]]);
        }
        return s.toString();
    }

    public static Size parse(String text, int symbols) {
        List<Long> c = new ArrayList<>();
        int depth = 0;
        for (String t : text.split(",")) {
            int op = Arrays.asList(OPS).indexOf(t);
            if (op >= ADD) {
                if (depth < 2) throw new IllegalArgumentException("size '" + text + "' is not postfix");
                depth--;
                c.add((long) op);
            } else if (t.startsWith("$")) {
                int s = Integer.parseInt(t.substring(1));
                if (s < 0 || s >= symbols) throw new IllegalArgumentException("size '" + text + "' names symbol " + s);
                c.add(SYM);
                c.add((long) s);
                depth++;
            } else {
                c.add(LIT);
                c.add(Long.parseLong(t));
                depth++;
            }
        }
        if (depth != 1) throw new IllegalArgumentException("size '" + text + "' is not postfix");
        return new Size(c.stream().mapToLong(Long::longValue).toArray());
    }
}
