package dev.kiln.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/// Headless Chromium (Debian's `chromium` package, which `.ci/run` installs) for the tests that
/// look at the HTML dump in a real browser: the DOM after the page's script ran, and screenshots.
final class Chromium {
    private Chromium() {}

    private static final List<String> NAMES = List.of("chromium", "chromium-browser", "google-chrome");

    /// The browser on PATH, or null.
    static Path find() {
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String name : NAMES)
            for (String dir : path.split(File.pathSeparator)) {
                Path p = Path.of(dir, name);
                if (Files.isExecutable(p)) return p;
            }
        return null;
    }

    /// The page's DOM after its scripts ran (`--dump-dom`).
    static String dumpDom(Path browser, String url, Path work) throws IOException, InterruptedException {
        return run(browser, work, List.of("--dump-dom", url));
    }

    /// A screenshot of the page at 1200x900 written to `png`.
    static void screenshot(Path browser, String url, Path png, Path work) throws IOException, InterruptedException {
        run(browser, work, List.of("--screenshot=" + png.toAbsolutePath(), "--window-size=1200,900", url));
        if (!Files.exists(png)) throw new IOException("chromium wrote no screenshot to " + png);
    }

    private static String run(Path browser, Path work, List<String> args) throws IOException, InterruptedException {
        Path profile = Files.createTempDirectory(work, "profile");
        Path out = work.resolve("chromium.out"), err = work.resolve("chromium.err");
        List<String> cmd = new ArrayList<>(List.of(browser.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + profile));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("chromium did not finish within 120 s: " + cmd);
        }
        if (p.exitValue() != 0)
            throw new IOException("chromium exited with " + p.exitValue() + ": " + Files.readString(err, StandardCharsets.UTF_8));
        return Files.readString(out, StandardCharsets.UTF_8);
    }
}
