package dev.kiln.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;

/// A strict reader for the JSON that tensor file headers hold, a quoting helper for writing it,
/// and the value tree that the `.npy` header reader (a Python literal) shares.
///
/// Only the subset such headers need: numbers must be integers that fit a long (fractions and
/// exponents are refused rather than rounded), objects refuse duplicate keys, and nesting deeper
/// than [#MAX_DEPTH] is refused so that hostile input cannot overflow the stack. Invariant: every
/// failure is a [SyntaxError] naming the character offset; nothing else escapes `parse`.
final class Json {
    private Json() {}

    static final int MAX_DEPTH = 64;

    sealed interface Value {}
    /// Members in the order they appear in the text.
    record Obj(SequencedMap<String, Value> members) implements Value {}
    record Arr(List<Value> items) implements Value {}
    record Str(String value) implements Value {}
    record Int(long value) implements Value {}
    record Bool(boolean value) implements Value {}
    record Null() implements Value {}

    /// Text that is not in the accepted subset; the message names the offset and the problem.
    static final class SyntaxError extends Exception {
        SyntaxError(String message) { super(message); }
    }

    /// "an object", "a string", ...: for messages about a value of the wrong kind.
    static String kind(Value v) {
        return switch (v) {
            case Obj _ -> "an object";
            case Arr _ -> "a list";
            case Str _ -> "a string";
            case Int _ -> "an integer";
            case Bool _ -> "a boolean";
            case Null _ -> "null";
        };
    }

    /// Parses one JSON value; only whitespace may follow it.
    static Value parse(String text) throws SyntaxError {
        Reader r = new Reader(text);
        r.skipSpace();
        Value v = r.value();
        r.skipSpace();
        if (r.pos < text.length()) throw r.error("unexpected " + r.found() + " after the end of the JSON value");
        return v;
    }

    /// `s` as a JSON string literal. Non-ASCII characters stay as they are (the file is UTF-8);
    /// control characters and unpaired surrogates are escaped, so the result always encodes.
    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    boolean pairedHigh = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
                    if (pairedHigh) b.append(c).append(s.charAt(++i));
                    else if (c < 0x20 || Character.isSurrogate(c)) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }

    private static final class Reader {
        final String s;
        int pos;
        int depth;

        Reader(String s) { this.s = s; }

        SyntaxError error(String what) { return new SyntaxError("at character " + pos + ": " + what); }

        String found() {
            if (pos >= s.length()) return "end of text";
            char c = s.charAt(pos);
            return c >= 0x20 && c < 0x7f ? "'" + c + "'" : String.format("character U+%04X", (int) c);
        }

        void skipSpace() {
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
                pos++;
            }
        }

        void expect(char c) throws SyntaxError {
            if (pos >= s.length() || s.charAt(pos) != c) throw error("expected '" + c + "' but found " + found());
            pos++;
        }

        Value value() throws SyntaxError {
            if (pos >= s.length()) throw error("expected a value but found end of text");
            char c = s.charAt(pos);
            return switch (c) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> new Str(string());
                case 't' -> literal("true", new Bool(true));
                case 'f' -> literal("false", new Bool(false));
                case 'n' -> literal("null", new Null());
                default -> {
                    if (c == '-' || (c >= '0' && c <= '9')) yield number();
                    throw error("expected a value but found " + found());
                }
            };
        }

        void enter() throws SyntaxError {
            if (++depth > MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH + " levels");
        }

        Value object() throws SyntaxError {
            enter();
            pos++;
            SequencedMap<String, Value> members = new LinkedHashMap<>();
            skipSpace();
            if (pos < s.length() && s.charAt(pos) == '}') { pos++; depth--; return new Obj(members); }
            while (true) {
                skipSpace();
                int keyAt = pos;
                if (pos >= s.length() || s.charAt(pos) != '"') throw error("expected a string key but found " + found());
                String key = string();
                if (members.containsKey(key)) {
                    pos = keyAt;
                    throw error("duplicate key " + quote(key));
                }
                skipSpace();
                expect(':');
                skipSpace();
                members.put(key, value());
                skipSpace();
                if (pos < s.length() && s.charAt(pos) == ',') { pos++; continue; }
                if (pos < s.length() && s.charAt(pos) == '}') { pos++; depth--; return new Obj(members); }
                throw error("expected ',' or '}' but found " + found());
            }
        }

        Value array() throws SyntaxError {
            enter();
            pos++;
            List<Value> items = new ArrayList<>();
            skipSpace();
            if (pos < s.length() && s.charAt(pos) == ']') { pos++; depth--; return new Arr(items); }
            while (true) {
                skipSpace();
                items.add(value());
                skipSpace();
                if (pos < s.length() && s.charAt(pos) == ',') { pos++; continue; }
                if (pos < s.length() && s.charAt(pos) == ']') { pos++; depth--; return new Arr(items); }
                throw error("expected ',' or ']' but found " + found());
            }
        }

        String string() throws SyntaxError {
            pos++;                                            // the opening quote
            StringBuilder b = new StringBuilder();
            while (true) {
                if (pos >= s.length()) throw error("unterminated string");
                char c = s.charAt(pos);
                if (c == '"') { pos++; return b.toString(); }
                if (c < 0x20) throw error("raw control character U+" + String.format("%04X", (int) c) + " in a string");
                if (c != '\\') { b.append(c); pos++; continue; }
                if (pos + 1 >= s.length()) { pos++; throw error("unterminated string"); }
                char e = s.charAt(pos + 1);
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (pos + 6 > s.length()) throw error("truncated \\u escape");
                        int code = 0;
                        for (int i = pos + 2; i < pos + 6; i++) {
                            int digit = Character.digit(s.charAt(i), 16);
                            if (digit < 0) throw error("bad \\u escape: '" + s.substring(pos, pos + 6) + "'");
                            code = code * 16 + digit;
                        }
                        b.append((char) code);
                        pos += 4;
                    }
                    default -> throw error("unknown escape '\\" + e + "'");
                }
                pos += 2;
            }
        }

        Value number() throws SyntaxError {
            int start = pos;
            if (s.charAt(pos) == '-') pos++;
            if (pos >= s.length() || !isDigit(s.charAt(pos))) throw error("expected a digit but found " + found());
            if (s.charAt(pos) == '0') pos++;
            else while (pos < s.length() && isDigit(s.charAt(pos))) pos++;
            if (pos < s.length() && (s.charAt(pos) == '.' || s.charAt(pos) == 'e' || s.charAt(pos) == 'E'))
                throw error("only integers are allowed, found a fraction or exponent");
            String digits = s.substring(start, pos);
            try {
                return new Int(Long.parseLong(digits));
            } catch (NumberFormatException e) {
                pos = start;
                throw error("integer " + (digits.length() > 40 ? digits.substring(0, 40) + "..." : digits) + " is out of range");
            }
        }

        Value literal(String word, Value v) throws SyntaxError {
            if (!s.startsWith(word, pos)) throw error("expected a value but found " + found());
            pos += word.length();
            return v;
        }

        static boolean isDigit(char c) { return c >= '0' && c <= '9'; }
    }
}
