package dev.kiln.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/// Finding, downloading and reading the four files of an MNIST-format dataset
/// (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte`, each plain or `.gz`).
final class MnistFiles {
    private MnistFiles() {}

    enum Split {
        TRAIN("train", "training"), TEST("t10k", "test");

        final String prefix, adjective;

        Split(String prefix, String adjective) { this.prefix = prefix; this.adjective = adjective; }

        String images() { return prefix + "-images-idx3-ubyte"; }
        String labels() { return prefix + "-labels-idx1-ubyte"; }
    }

    /// What is known of one dataset: its name, the directory name under `~/.kiln/data`, a system
    /// directory a distribution package fills (or null) and that package, the download mirrors
    /// (URL prefixes, tried in order), the published MD5 of each `.gz` file, and the classpath
    /// directory of an embedded subset (or null).
    record Spec(String title, String dirName, Path systemDir, String debianPackage, List<String> mirrors,
                Map<String, String> md5, String embedded) {}

    /// The two files of one split, read, and where they came from.
    record Loaded(Idx images, Idx labels, String source) {}

    static final long MAX_DOWNLOAD_BYTES = 100L << 20; // the largest real file is 26 MB

    static Path homeDir(Spec spec) {
        return Path.of(System.getProperty("user.home"), ".kiln", "data", spec.dirName());
    }

    /// The public entry: `dir` non-null means that directory only (downloading into it if asked);
    /// null means `~/.kiln/data/<name>`, then the system directory, then a download into the first
    /// if asked, else the embedded subset.
    static Loaded load(Spec spec, Split split, Path dir, boolean download) {
        if (dir != null) return load(spec, split, List.of(dir), dir, download, false, System.err::println);
        List<Path> search = new ArrayList<>(List.of(homeDir(spec)));
        if (spec.systemDir() != null) search.add(spec.systemDir());
        return load(spec, split, search, homeDir(spec), download, !download && spec.embedded() != null, System.err::println);
    }

    static Loaded load(Spec spec, Split split, List<Path> search, Path downloadDir, boolean download,
                       boolean embeddedFallback, Consumer<String> note) {
        for (Path dir : search) {
            Path images = find(dir, split.images()), labels = find(dir, split.labels());
            if (images != null && labels != null) return new Loaded(Idx.read(images), Idx.read(labels), dir.toString());
        }
        if (download) {
            downloadSplit(spec, split, downloadDir);
            return new Loaded(Idx.read(find(downloadDir, split.images())), Idx.read(find(downloadDir, split.labels())),
                    downloadDir.toString());
        }
        String where = String.join(" or ", search.stream().map(Path::toString).toList());
        if (embeddedFallback) {
            Loaded l = embedded(spec, split);
            note.accept("kiln: " + spec.title() + " not found in " + where + "; using the embedded subset of "
                    + l.labels().dim(0) + " " + split.adjective + " images. For the full set: " + howToGet(spec, split, homeDir(spec))
                    + ", or load it with download=true.");
            return l;
        }
        String lacking = search.size() == 1 ? missing(search.getFirst(), split)
                : "need " + split.images() + "(.gz) and " + split.labels() + "(.gz)";
        throw new DataException("no " + spec.title() + " " + split.adjective + " files in " + where + ": "
                + lacking + ". " + capitalize(howToGet(spec, split, downloadDir))
                + ", or load it with download=true.");
    }

    /// `dir/base` if it exists, else `dir/base.gz`, else null.
    static Path find(Path dir, String base) {
        Path plain = dir.resolve(base), gz = dir.resolve(base + ".gz");
        return Files.isRegularFile(plain) ? plain : Files.isRegularFile(gz) ? gz : null;
    }

    private static String missing(Path dir, Split split) {
        List<String> names = new ArrayList<>();
        for (String base : List.of(split.images(), split.labels())) if (find(dir, base) == null) names.add(base + "(.gz)");
        return "missing " + String.join(" and ", names);
    }

    /// "put X and Y (gzipped or not) in DIR, or install the Debian package P (...)".
    static String howToGet(Spec spec, Split split, Path dir) {
        String s = "put " + split.images() + ".gz and " + split.labels() + ".gz (gzipped or not) in " + dir;
        if (spec.debianPackage() != null)
            s += ", or install the Debian package " + spec.debianPackage() + " (apt-get install " + spec.debianPackage()
                    + "), which puts them in " + spec.systemDir();
        return s;
    }

    private static String capitalize(String s) { return Character.toUpperCase(s.charAt(0)) + s.substring(1); }

    static Loaded embedded(Spec spec, Split split) {
        return new Loaded(resource(spec, split.images()), resource(spec, split.labels()), "embedded subset");
    }

    private static Idx resource(Spec spec, String base) {
        String path = spec.embedded() + "/" + base + ".gz";
        try (InputStream in = MnistFiles.class.getResourceAsStream(path)) {
            if (in == null) throw new DataException("embedded " + spec.title() + " subset: resource " + path
                    + " is missing from the classpath");
            return Idx.read(in, "resource " + path);
        } catch (IOException e) {
            throw new DataException("resource " + path + ": cannot read: " + DataLoader.describe(e), e);
        }
    }

    // ---- download ----

    /// Downloads the `.gz` files of `split` that `dir` lacks, each into a temporary file that is
    /// renamed into place once its MD5 matches. A directory created for it is removed on failure.
    static void downloadSplit(Spec spec, Split split, Path dir) {
        boolean created = !Files.isDirectory(dir);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new DataException("cannot create " + dir + " for the " + spec.title() + " download: " + DataLoader.describe(e), e);
        }
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(15))
                .followRedirects(HttpClient.Redirect.NORMAL).build()) {
            for (String base : List.of(split.images(), split.labels())) downloadFile(client, spec, split, dir, base);
        } catch (DataException e) {
            if (created) {
                try {
                    Files.deleteIfExists(dir); // only if still empty: a failed download leaves nothing behind
                } catch (IOException ignored) {
                    // not empty, or not ours to remove any more
                }
            }
            throw e;
        }
    }

    /// Fetches `base.gz` into `dir` from the first mirror that serves it with the published MD5,
    /// unless `dir` already holds `base` or `base.gz`.
    private static void downloadFile(HttpClient client, Spec spec, Split split, Path dir, String base) {
        if (find(dir, base) != null) return;
        String name = base + ".gz";
        List<String> failures = new ArrayList<>();
        for (String mirror : spec.mirrors()) {
            String url = mirror + name;
            try {
                fetch(client, URI.create(url), dir.resolve(name), spec.md5().get(name));
                return;
            } catch (IOException e) {
                failures.add(url + ": " + reason(e));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DataException("interrupted while downloading " + url);
            }
        }
        throw new DataException("cannot download " + spec.title() + " " + name + " (" + String.join("; ", failures)
                + "). Without network, " + howToGet(spec, split, dir) + ".");
    }

    private static void fetch(HttpClient client, URI uri, Path target, String md5) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(10)).GET().build();
        HttpResponse<InputStream> response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
        Path tmp = null;
        try (InputStream body = response.body()) {
            if (response.statusCode() != 200) throw new IOException("HTTP status " + response.statusCode());
            tmp = Idx.tempSibling(target);
            MessageDigest digest = md5();
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                byte[] buf = new byte[1 << 16];
                long total = 0;
                for (int r; (r = body.read(buf)) != -1; ) {
                    total += r;
                    if (total > MAX_DOWNLOAD_BYTES) throw new IOException("more than " + MAX_DOWNLOAD_BYTES + " bytes, not the expected file");
                    digest.update(buf, 0, r);
                    out.write(buf, 0, r);
                }
            }
            String got = HexFormat.of().formatHex(digest.digest());
            if (!got.equalsIgnoreCase(md5)) throw new IOException("MD5 " + got + " differs from the published " + md5);
            Idx.moveAtomically(tmp, target);
        } finally {
            if (tmp != null) Files.deleteIfExists(tmp);
        }
    }

    private static MessageDigest md5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK provides MD5", e);
        }
    }

    /// A short reason for a failed request: the JDK's HTTP client often reports a missing network
    /// as a ConnectException without a message, its cause saying what happened.
    static String reason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UnresolvedAddressException || t instanceof UnknownHostException) return "host not found";
            if (t instanceof HttpConnectTimeoutException) return "connection timed out";
            if (t instanceof HttpTimeoutException) return "request timed out";
        }
        for (Throwable t = e; t != null; t = t.getCause()) if (t.getMessage() != null) return t.getMessage();
        return e.getClass().getSimpleName();
    }
}
