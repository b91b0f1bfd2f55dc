package dev.kiln.codegen.jvm.jar;

import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.StandardLocation;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/// Compiles one generated source file with the JDK's `javac` (javax.tools), against exactly the
/// classes that go into the jar, so a class the jar lacks fails here and not on a user's JRE.
/// Invariant: returns only the class files of the compiled source, keyed by their jar path.
final class SourceCompiler {
    private SourceCompiler() {}

    static Map<String, byte[]> compile(String fqn, String source, Map<String, byte[]> classpath) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null)
            throw new IllegalStateException("exporting a jar compiles its entry class with javac, which this Java runtime lacks; run Kiln on a JDK");
        Path tmp = null;
        try {
            tmp = Files.createTempDirectory("kiln-export");
            Path cp = tmp.resolve("cp"), out = tmp.resolve("out");
            for (var e : classpath.entrySet()) {
                Path f = cp.resolve(e.getKey());
                Files.createDirectories(f.getParent());
                Files.write(f, e.getValue());
            }
            Files.createDirectories(out);
            DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
            try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, null)) {
                files.setLocationFromPaths(StandardLocation.CLASS_PATH, List.of(cp));
                files.setLocationFromPaths(StandardLocation.CLASS_OUTPUT, List.of(out));
                JavaFileObject unit = new SimpleJavaFileObject(URI.create("string:///" + fqn.replace('.', '/') + ".java"),
                        JavaFileObject.Kind.SOURCE) {
                    @Override public CharSequence getCharContent(boolean ignoreEncodingErrors) { return source; }
                };
                boolean ok = javac.getTask(null, files, diagnostics, List.of("--release", "25", "-proc:none", "-implicit:none", "-g",
                        "-Xlint:none", "-encoding", "UTF-8"), null, List.of(unit)).call();
                if (!ok) {
                    String first = diagnostics.getDiagnostics().stream().filter(d -> d.getKind() == Diagnostic.Kind.ERROR)
                            .map(d -> "line " + d.getLineNumber() + ": " + d.getMessage(null)).findFirst().orElse("no diagnostic");
                    throw new IllegalStateException("the generated entry class " + fqn + " does not compile (a bug in Kiln): " + first);
                }
            }
            Map<String, byte[]> classes = new TreeMap<>();
            try (Stream<Path> walk = Files.walk(out)) {
                for (Path f : walk.filter(Files::isRegularFile).toList())
                    classes.put(out.relativize(f).toString().replace('\\', '/'), Files.readAllBytes(f));
            }
            return classes;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot compile the entry class: " + e.getMessage(), e);
        } finally {
            if (tmp != null) delete(tmp);
        }
    }

    private static void delete(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            // a leftover temporary directory is harmless
        }
    }
}
