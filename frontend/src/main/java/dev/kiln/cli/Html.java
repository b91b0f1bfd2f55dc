package dev.kiln.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

import dev.kiln.cli.GraphView.Attr;
import dev.kiln.cli.Layout.Drawing;
import dev.kiln.cli.Layout.Label;
import dev.kiln.cli.Layout.Path;
import dev.kiln.cli.Layout.Placed;

/// A `GraphView` as one self-contained HTML page: the template `dump.html` (inline CSS and a
/// small script, nothing fetched) with the laid-out graph inserted as JSON. The script draws the
/// SVG from it (nodes, edges, type labels, kernel boxes), handles pan, zoom, hover and click
/// (statement, location, attributes, operands and users of a node) and finally marks the body
/// `data-rendered="<nodes drawn>"`, which the tests read back from a headless browser.
/// Invariant: the page refers to no file or URL, and the JSON is safe inside `<script>`
/// (`<`, `>`, `&` and line separators are escaped).
final class Html {
    private Html() {}

    static final String PLACEHOLDER = "/*KILN-DATA*/";

    static String of(GraphView view) {
        Drawing d = Layout.of(view);
        String template = template();
        int at = template.indexOf(PLACEHOLDER);
        if (at < 0) throw new IllegalStateException("dump.html has no " + PLACEHOLDER);
        String title = view.name().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
        return template.substring(0, at).replace("{{TITLE}}", title) + json(view, d) + template.substring(at + PLACEHOLDER.length());
    }

    private static String template() {
        try (InputStream in = Html.class.getResourceAsStream("dump.html")) {
            if (in == null) throw new IllegalStateException("resource dump.html is missing from the build");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String json(GraphView view, Drawing d) {
        StringBuilder s = new StringBuilder("{");
        field(s, "name", view.name()).append(',');
        field(s, "signature", view.signature()).append(',');
        s.append("\"width\":").append(num(d.width())).append(",\"height\":").append(num(d.height())).append(",\"nodes\":[");
        List<Placed> nodes = d.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            Placed p = nodes.get(i);
            var n = p.node();
            s.append(i > 0 ? ",{" : "{");
            field(s, "id", n.id()).append(',');
            field(s, "kind", n.kind().name().toLowerCase(Locale.ROOT)).append(',');
            field(s, "title", n.title()).append(',');
            field(s, "name", n.name()).append(',');
            field(s, "type", n.type()).append(',');
            field(s, "stmt", n.statement()).append(',');
            field(s, "loc", n.loc()).append(',');
            field(s, "phase", n.phase().name().toLowerCase(Locale.ROOT)).append(',');
            s.append("\"parent\":").append(p.parent() == null ? "null" : string(p.parent())).append(",\"lines\":[");
            for (int k = 0; k < p.lines().size(); k++) s.append(k > 0 ? "," : "").append(string(p.lines().get(k)));
            s.append("],\"attrs\":[");
            for (int k = 0; k < n.attributes().size(); k++) {
                Attr a = n.attributes().get(k);
                s.append(k > 0 ? ",[" : "[").append(string(a.name())).append(',').append(string(a.value())).append(']');
            }
            s.append("],\"x\":").append(num(p.box().x())).append(",\"y\":").append(num(p.box().y()))
                    .append(",\"w\":").append(num(p.box().w())).append(",\"h\":").append(num(p.box().h())).append('}');
        }
        s.append("],\"edges\":[");
        List<Path> paths = d.paths();
        for (int i = 0; i < paths.size(); i++) {
            Path p = paths.get(i);
            s.append(i > 0 ? ",{" : "{");
            field(s, "from", p.edge().from()).append(',');
            field(s, "to", p.edge().to()).append(',');
            field(s, "phase", p.edge().phase().name().toLowerCase(Locale.ROOT)).append(",\"port\":").append(p.edge().port())
                    .append(",\"pts\":[");
            for (int k = 0; k < p.points().length; k++) s.append(k > 0 ? "," : "").append(num(p.points()[k]));
            s.append("]}");
        }
        s.append("],\"labels\":[");
        List<Label> labels = d.labels();
        for (int i = 0; i < labels.size(); i++) {
            Label l = labels.get(i);
            s.append(i > 0 ? ",{" : "{");
            field(s, "from", l.from()).append(',');
            field(s, "text", l.text()).append(',');
            field(s, "phase", l.phase().name().toLowerCase(Locale.ROOT)).append(",\"x\":").append(num(l.x()))
                    .append(",\"y\":").append(num(l.y())).append(",\"w\":").append(num(l.w())).append('}');
        }
        return s.append("]}").toString();
    }

    private static StringBuilder field(StringBuilder s, String name, String value) {
        return s.append(string(name)).append(':').append(string(value));
    }

    /// A JSON string that may also sit inside an HTML `<script>` element.
    static String string(String v) {
        StringBuilder s = new StringBuilder("\"");
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            switch (c) {
                case '"' -> s.append("\\\"");
                case '\\' -> s.append("\\\\");
                case '\n' -> s.append("\\n");
                case '\r' -> s.append("\\r");
                case '\t' -> s.append("\\t");
                default -> {
                    if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x2028 || c == 0x2029 || c == 0x7f)
                        s.append(String.format("\\u%04x", (int) c));
                    else s.append(c);
                }
            }
        }
        return s.append('"').toString();
    }

    /// One decimal is plenty for pixels, and keeps the page small.
    private static String num(double v) {
        long tenths = Math.round(v * 10);
        return tenths % 10 == 0 ? Long.toString(tenths / 10) : String.format(Locale.ROOT, "%.1f", tenths / 10.0);
    }
}
