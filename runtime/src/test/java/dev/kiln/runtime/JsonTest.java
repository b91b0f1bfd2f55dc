package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void parsesTheSubsetInOrder() throws Json.SyntaxError {
        Json.Value v = Json.parse(" {\"z\": [1, -2, 0], \"a\": {\"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}, \"t\": true, \"n\": null} ");
        var members = ((Json.Obj) v).members();
        assertEquals(List.of("z", "a", "t", "n"), List.copyOf(members.keySet()));
        assertEquals(new Json.Arr(List.of(new Json.Int(1), new Json.Int(-2), new Json.Int(0))), members.get("z"));
        var inner = new LinkedHashMap<String, Json.Value>();
        inner.put("s", new Json.Str("x\"\\/\b\f\n\r\té😀"));
        assertEquals(new Json.Obj(inner), members.get("a"));
        assertEquals(new Json.Bool(true), members.get("t"));
        assertEquals(new Json.Null(), members.get("n"));
        assertEquals(new Json.Int(Long.MAX_VALUE), Json.parse("9223372036854775807"));
        assertEquals(new Json.Int(Long.MIN_VALUE), Json.parse("-9223372036854775808"));
    }

    private static void refused(String text, String fragment) {
        Json.SyntaxError e = assertThrows(Json.SyntaxError.class, () -> Json.parse(text));
        assertTrue(e.getMessage().contains(fragment), () -> "'" + fragment + "' not in: " + e.getMessage());
    }

    @Test
    void refusesWhatIsOutsideTheSubsetWithAnOffset() {
        refused("{\"a\":1,\"a\":2}", "at character 7: duplicate key \"a\"");
        refused("[1.5]", "only integers");
        refused("[1e3]", "only integers");
        refused("[01]", "expected ',' or ']'");
        refused("9223372036854775808", "out of range");
        refused("[1,]", "expected a value but found ']'");
        refused("{\"a\" 1}", "expected ':' but found '1'");
        refused("\"abc", "unterminated string");
        refused("\"a\tb\"", "raw control character U+0009");
        refused("\"\\x\"", "unknown escape");
        refused("\"\\u12g4\"", "bad \\u escape");
        refused("\"\\u12", "truncated \\u escape");
        refused("[1] [2]", "after the end of the JSON value");
        refused("tru", "expected a value");
        refused("", "expected a value but found end of text");
        refused("[".repeat(65) + "]".repeat(65), "nested deeper than 64 levels");
    }

    @Test
    void nestingUpToTheLimitIsFine() throws Json.SyntaxError {
        Json.parse("[".repeat(64) + "]".repeat(64));
    }

    @Test
    void quoteRoundTripsAwkwardStrings() throws Json.SyntaxError {
        for (String s : List.of("", "plain", "q\"b\\", "\u0000\u001f\n\t", "é😀", "\ud800 lone high", "lone low \udc00")) {
            String q = Json.quote(s);
            assertTrue(q.chars().noneMatch(c -> c < 0x20), q);
            assertEquals(new Json.Str(s), Json.parse(q));
        }
    }
}
