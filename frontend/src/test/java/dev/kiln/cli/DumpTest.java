package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.kiln.cli.MainTest.Result;
import dev.kiln.ir.Graph;
import dev.kiln.ir.text.Parser;
import dev.kiln.passes.PassManager;
import dev.kiln.passes.autodiff.Differentiate;

/// `kiln dump` as text, DOT and HTML; the HTML is opened in headless Chromium when it is installed.
class DumpTest {
    @TempDir Path tmp;

    static final List<String> MLP_WEIGHTS = List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias");

    static String mlp() { return Examples.file("mlp.kir").toString(); }

    static String fused() { return Examples.file("fused.kir").toString(); }

    static Graph parse(Path f) throws Exception { return Parser.parse(Files.readString(f), f.toString()); }

    static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) n++;
        return n;
    }

    static int edges(GraphView.Scene s) {
        int n = s.edges().size();
        for (GraphView.Node node : s.nodes()) if (node.region() != null) n += edges(node.region());
        return n;
    }

    @Test void textIsTheIrWithLocations() throws Exception {
        Result r = MainTest.run("dump", mlp(), "--format", "text");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("%1 = matmul %x, %0 : f32[B,128]"), r.out());
        assertEquals(27, count(r.out(), "loc(" + mlp() + ":"));
        Graph back = Parser.parse(r.out(), "dump.kir");
        assertEquals(parse(Examples.file("mlp.kir")).toString(), back.toString());
    }

    @Test void dotHasANodePerValueAClusterPerKernelAndAnEdgePerUse() throws Exception {
        Result r = MainTest.run("dump", fused(), "--format", "dot");
        assertEquals(0, r.code(), r.err());
        String dot = r.out();
        assertTrue(dot.startsWith("digraph \"layer\" {\n"), dot);
        assertTrue(dot.endsWith("}\n"), dot);
        assertEquals(2, count(dot, "subgraph \"cluster_"));
        GraphView view = GraphView.of(parse(Examples.file("fused.kir")));
        // every node but the two kernels (which are clusters) is a DOT node
        assertEquals(view.allNodes().size() - 2, dot.lines().filter(l -> l.contains(" [label=") && !l.contains(" -> ")).count());
        assertEquals(edges(view.scene()), dot.lines().filter(l -> l.matches("\\s*\"[^\"]*\" -> \".*")).count());
        // an edge into a kernel ends at its region parameter; one out of it starts at its yield
        assertTrue(dot.contains("\"p2\" -> \"v1.p1\""), dot);
        assertTrue(dot.contains("\"v5.yield\" -> \"v12\""), dot);
        // backward ops are orange, forward blue
        assertTrue(dot.contains("\"v12\" [label=\"matmul %12\\nf32[64,32]\", fillcolor=\"#ffedd5\""), dot);
        assertTrue(dot.contains("\"v0\" [label=\"matmul %0\\nf32[B,32]\", fillcolor=\"#dbeafe\""), dot);
        // the tooltip holds the statement, the location and the attributes
        assertTrue(dot.contains("tooltip=\"%11 = transpose %x {perm=[1,0]} : f32[64,B]\\nloc: grad(fused.kir:8)\\nperm = [1,0]\""), dot);
    }

    @Test void dotIsAcceptedByGraphviz() throws Exception {
        Path dotExe = Path.of("/usr/bin/dot");
        Assumptions.assumeTrue(Files.isExecutable(dotExe), "Graphviz is not installed: not checking the DOT output with dot");
        for (String f : List.of(mlp(), fused(), Examples.file("conv.kir").toString())) {
            Path out = tmp.resolve("g.dot");
            assertEquals(0, MainTest.run("dump", f, "--format", "dot", "-o", out.toString()).code());
            Process p = new ProcessBuilder(dotExe.toString(), "-Tsvg", out.toString()).redirectErrorStream(true).start();
            String svg = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), svg);
            assertTrue(svg.contains("<svg"), svg);
        }
    }

    @Test void dotQuotesWhateverNamesHold() {
        assertEquals("\"a\\\"b\\\\c\\nd\"", Dot.quote("a\"b\\c\nd\u0001"));
    }

    @Test void htmlIsSelfContained() throws Exception {
        Result r = MainTest.run("dump", mlp(), "--format", "html", "--grad", String.join(",", MLP_WEIGHTS));
        assertEquals(0, r.code(), r.err());
        String html = r.out();
        assertTrue(html.startsWith("<!DOCTYPE html>"), html);
        // nothing to fetch: no external scripts, styles, images or links (the SVG namespace is a name, not a fetch)
        for (String banned : List.of("<link", " src=", "@import", "url(http", "https://", "href=\"http"))
            assertFalse(html.contains(banned), banned);
        assertEquals(count(html, "http://"), count(html, "http://www.w3.org/2000/svg"), "only the SVG namespace");
        assertFalse(html.contains(Html.PLACEHOLDER));
        assertTrue(html.contains("\"phase\":\"backward\""));
    }

    @Test void htmlEscapesNamesThatLookLikeMarkup() throws Exception {
        Path f = tmp.resolve("evil.kir");
        Files.writeString(f, "graph @\"</script><b>x\"(%\"<img src=x onerror=alert(1)>\": f32[2]) -> (f32[2]) {\n"
                + "  %0 = neg %\"<img src=x onerror=alert(1)>\" : f32[2]\n  return %0\n}\n");
        Result r = MainTest.run("dump", f.toString(), "--format", "html");
        assertEquals(0, r.code(), r.err());
        assertEquals(2, count(r.out(), "</script>"), "only the page's own two scripts close");
        assertFalse(r.out().contains("<img"));
        assertFalse(r.out().contains("<b>x"));
    }

    @Test void outputFileIsWrittenWhole() throws Exception {
        Path out = tmp.resolve("sub/mlp.html");
        Result r = MainTest.run("dump", mlp(), "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals("wrote " + out + " (html, 27 ops)\n", r.out());
        assertTrue(Files.readString(out).endsWith("</html>\n"));
        try (var files = Files.list(out.getParent())) {
            assertEquals(List.of(out), files.toList(), "no temporary file is left behind");
        }
    }

    @Test void kernelsAndBytecodeShowWhatTheJvmBackendMakes() {
        Result k = MainTest.run("dump", mlp(), "--format", "kernels");
        assertEquals(0, k.code(), k.err());
        assertTrue(k.out().startsWith("program @mlp symbols [B]\n"), k.out());
        // fusion ran first: the first layer is one kernel, a matrix product with its bias and relu
        assertTrue(k.out().contains("kernel k1_matmul_add_relu"), k.out());
        Result b = MainTest.run("dump", mlp(), "--format", "bytecode");
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().startsWith("// class version "), b.out());
        assertTrue(b.out().contains("implements dev/kiln/codegen/jvm/rt/KernelSet"), b.out());
    }

    @Test void badFormatIsAUsageError() {
        Result r = MainTest.run("dump", mlp(), "--format", "svg");
        assertEquals(2, r.code());
        assertEquals(List.of("kiln: error: unknown format 'svg' for --format (expected text, dot, html, kernels, bytecode); "
                + "see 'kiln dump --help'"),
                r.errLines());
    }

    // ---- in a real browser ---------------------------------------------------------------------

    private static Path browser() {
        Path b = Chromium.find();
        if (b == null) System.err.println("SKIPPED: chromium is not installed; the HTML dump is not checked in a browser "
                + "(apt-get install chromium, as .ci/run does)");
        Assumptions.assumeTrue(b != null, "chromium is not installed (apt-get install chromium, as .ci/run does)");
        return b;
    }

    @Test void browserDrawsEveryNodeAndEdge() throws Exception {
        Path chromium = browser();
        Graph joint = Differentiate.joint(parse(Examples.file("mlp.kir")), MLP_WEIGHTS);
        Graph fusedJoint = PassManager.withFusion(PassManager.Options.none()).run(joint);
        Map<List<String>, Graph> cases = new LinkedHashMap<>();
        // each launch of the browser takes seconds: two pages, hand-written kernels and fusion's
        cases.put(List.of(fused()), parse(Examples.file("fused.kir")));
        cases.put(List.of(mlp(), "--grad", String.join(",", MLP_WEIGHTS), "--opt"), fusedJoint);
        for (var c : cases.entrySet()) {
            String file = c.getKey().toString();
            Path html = tmp.resolve("page.html");
            List<String> args = new ArrayList<>(List.of("dump", "-o", html.toString()));
            args.addAll(c.getKey());
            assertEquals(0, MainTest.run(args.toArray(String[]::new)).code());
            GraphView view = GraphView.of(c.getValue());
            String dom = Chromium.dumpDom(chromium, html.toUri().toString(), tmp);
            int nodes = view.allNodes().size();
            Matcher m = Pattern.compile("<body[^>]* data-rendered=\"(\\d+)\"").matcher(dom);
            assertTrue(m.find(), "the page's script did not finish: " + dom.substring(0, Math.min(dom.length(), 2000)));
            assertEquals(nodes, Integer.parseInt(m.group(1)), file);
            assertEquals(nodes, count(dom, "<g class=\"node "), file);
            assertEquals(edges(view.scene()), count(dom, "<path class=\"edge "), file);
            long kernels = view.allNodes().stream().filter(n -> n.kind() == GraphView.Kind.FUSED).count();
            assertEquals(kernels, count(dom, "<g class=\"node fused "), file);
            if (c.getKey().contains("--opt")) assertTrue(kernels >= 4, "the fused joint graph has kernels: " + kernels);
        }
    }

    @Test void browserOpensOnTheNodeTheAddressNames() throws Exception {
        Path chromium = browser();
        Path html = tmp.resolve("mlp.html");
        assertEquals(0, MainTest.run("dump", mlp(), "-o", html.toString()).code());
        String dom = Chromium.dumpDom(chromium, html.toUri() + "#3", tmp);
        assertTrue(dom.contains("<h2>add %3</h2>"), dom);
        assertTrue(dom.contains("<pre>%3 = add %1, %2 : f32[B,128]</pre>"), dom);
        assertTrue(dom.contains("<pre>" + mlp() + ":20</pre>"), "the location is shown");
        assertTrue(dom.contains("<g class=\"node op forward on sel\" data-id=\"v3\""), dom);
    }

    @Test void screenshotShowsForwardAndBackwardInTheirColours() throws Exception {
        Path chromium = browser();
        Path html = tmp.resolve("joint.html"), png = tmp.resolve("joint.png");
        assertEquals(0, MainTest.run("dump", mlp(), "--grad", String.join(",", MLP_WEIGHTS), "-o", html.toString()).code());
        Chromium.screenshot(chromium, html.toUri().toString(), png, tmp);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(1200, img.getWidth());
        int forward = 0, backward = 0, param = 0;
        for (int y = 0; y < img.getHeight(); y++)
            for (int x = 0; x < img.getWidth(); x++) {
                int rgb = img.getRGB(x, y) & 0xffffff;
                if (rgb == 0xdbeafe) forward++;
                else if (rgb == 0xffedd5) backward++;
                else if (rgb == 0xdcfce7) param++;
            }
        assertTrue(forward > 2000, "forward fill pixels: " + forward);
        assertTrue(backward > 2000, "backward fill pixels: " + backward);
        assertTrue(param > 1000, "parameter fill pixels: " + param);
        // the joint graph has forward and backward ops, and the picture tells them apart
        Graph joint = Differentiate.joint(parse(Examples.file("mlp.kir")), MLP_WEIGHTS);
        assertTrue(joint.body().stream().anyMatch(v -> v.loc() instanceof dev.kiln.ir.Loc.Grad));
    }
}
