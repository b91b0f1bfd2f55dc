package dev.kiln.runtime;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/// The text form that standalone jars store their run-time plans in (the JVM backend's and the
/// CUDA backend's): a first line naming the format and its version, then a line per item,
/// `kind key=value ...`, names URL-encoded so that any name is one token. Errors are
/// IllegalArgumentException, one line naming the text and the line.
public final class PlanText {
    private PlanText() {}

    /// One item: its line number (from 1), its kind and its fields.
    public record Line(int number, String kind, Map<String, String> fields) {
        public String get(String key) {
            String v = fields.get(key);
            if (v == null) throw new IllegalArgumentException("missing " + key + "=");
            return v;
        }

        public int integer(String key) {
            String v = get(key);
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(key + "=" + abbreviate(v) + " is not an integer");
            }
        }

        public DType dtype(String key) {
            String s = get(key);
            DType d = DType.parse(s);
            if (d == null) throw new IllegalArgumentException("unknown dtype '" + abbreviate(s) + "'");
            return d;
        }

        public String name(String key) { return dec(get(key)); }

        public int[] dims(String key) {
            String s = get(key);
            return s.isEmpty() ? new int[0] : Arrays.stream(s.split(",")).mapToInt(Integer::parseInt).toArray();
        }
    }

    /// What reading one item does; an IllegalArgumentException it throws gets the line's place.
    public interface Reader {
        void read(Line line);
    }

    /// Checks that `text` starts with `magic` (what names `what` in the error) and hands `reader`
    /// each non-blank line after it.
    public static void read(String text, String magic, String what, String source, Reader reader) {
        String[] lines = text.split("\n");
        if (lines.length == 0 || !lines[0].equals(magic))
            throw new IllegalArgumentException(source + ": not " + what + " (expected '" + magic + "' on line 1, found '"
                    + (lines.length == 0 ? "" : abbreviate(lines[0])) + "')");
        for (int ln = 1; ln < lines.length; ln++) {
            if (lines[ln].isBlank()) continue;
            String[] tokens = lines[ln].split(" ");
            try {
                Map<String, String> kv = new HashMap<>();
                for (int i = 1; i < tokens.length; i++) {
                    int eq = tokens[i].indexOf('=');
                    if (eq <= 0) throw new IllegalArgumentException("expected key=value, got '" + abbreviate(tokens[i]) + "'");
                    kv.put(tokens[i].substring(0, eq), tokens[i].substring(eq + 1));
                }
                reader.read(new Line(ln + 1, tokens[0], kv));
            } catch (IllegalArgumentException e) { // NumberFormatException included
                throw new IllegalArgumentException(source + ":" + (ln + 1) + ": " + e.getMessage());
            }
        }
    }

    /// `-1,784`: a dimension list as `Line.dims` reads it.
    public static String dims(int[] d) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < d.length; i++) s.append(i > 0 ? "," : "").append(d[i]);
        return s.toString();
    }

    public static String unknown(String what, String s) { return "unknown " + what + " '" + abbreviate(s) + "'"; }

    static String abbreviate(String s) { return s.length() <= 40 ? s : s.substring(0, 40) + "..."; }

    /// A bare `%` (which encoding never produces) stands for the empty string, so no value is empty.
    public static String enc(String s) { return s.isEmpty() ? "%" : URLEncoder.encode(s, StandardCharsets.UTF_8); }

    static String dec(String s) { return s.equals("%") ? "" : URLDecoder.decode(s, StandardCharsets.UTF_8); }
}
