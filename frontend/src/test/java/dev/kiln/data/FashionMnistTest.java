package dev.kiln.data;

import static org.junit.jupiter.api.Assertions.*;

import com.sun.net.httpserver.HttpServer;
import dev.kiln.data.MnistFiles.Split;
import dev.kiln.runtime.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTest {
    static final Path DEBIAN = Path.of("/usr/share/datasets/fashion-mnist");
    static final Path SUBSET_SOURCE = Path.of("src/main/resources/dev/kiln/data/fashion-mnist-subset");
    static final int TRAIN_PER_CLASS = 200, TEST_PER_CLASS = 50;

    static void assumeDebianPackage() {
        boolean present = Files.isDirectory(DEBIAN);
        if (!present) System.err.println("SKIPPED: " + DEBIAN + " is missing; install the Debian package dataset-fashion-mnist");
        Assumptions.assumeTrue(present, DEBIAN + " is missing; install the Debian package dataset-fashion-mnist");
    }

    @Test void loadsTheFullSetsFromTheDebianPackage() {
        assumeDebianPackage();
        FashionMnist train = FashionMnist.train(DEBIAN), test = FashionMnist.test(DEBIAN);
        assertEquals(60000, train.size());
        assertEquals(10000, test.size());
        assertEquals(DEBIAN.toString(), train.source());
        // Fashion-MNIST is balanced: 6,000 and 1,000 images per class.
        for (int c = 0; c < 10; c++) {
            assertEquals(6000, train.classCounts()[c]);
            assertEquals(1000, test.classCounts()[c]);
        }
        // Known first labels of the published files: train 9 (ankle boot), 0, 0; test 9, 2, 1.
        assertEquals(List.of(9, 0, 0), List.of(train.label(0), train.label(1), train.label(2)));
        assertEquals(List.of(9, 2, 1), List.of(test.label(0), test.label(1), test.label(2)));
        checkNormalization(train, 0, FashionMnist.MEAN, FashionMnist.STD);
        checkNormalization(test, 9999, FashionMnist.MEAN, FashionMnist.STD);
    }

    /// get(i) is (pixel/255 - mean)/std in float, shaped f32[1,28,28], with an i64 scalar label.
    static void checkNormalization(LabeledImages ds, int i, float mean, float std) {
        Example e = ds.get(i);
        assertEquals(DType.F32, e.input().dtype());
        assertArrayEquals(new int[] {1, 28, 28}, e.input().shape());
        assertEquals(DType.I64, e.target().dtype());
        assertEquals(0, e.target().rank());
        assertEquals(ds.label(i), e.target().getLong(0));
        float[] x = (float[]) e.input().data();
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                assertEquals((ds.pixel(i, r, c) / 255f - mean) / std, x[r * 28 + c], 0f);
        // The extreme pixel values map where the formula says.
        assertEquals((0 - 0.2860) / 0.3530, (0 / 255f - FashionMnist.MEAN) / FashionMnist.STD, 1e-6);
        assertEquals((1 - 0.2860) / 0.3530, (255 / 255f - FashionMnist.MEAN) / FashionMnist.STD, 1e-6);
    }

    @Test void fallsBackToTheEmbeddedSubsetAndSaysSo(@TempDir Path empty) {
        List<String> notes = new ArrayList<>();
        var train = new FashionMnist(MnistFiles.load(FashionMnist.SPEC, Split.TRAIN, List.of(empty), empty, false, true, notes::add));
        var test = new FashionMnist(MnistFiles.load(FashionMnist.SPEC, Split.TEST, List.of(empty), empty, false, true, notes::add));
        assertEquals("embedded subset", train.source());
        assertEquals(2000, train.size());
        assertEquals(500, test.size());
        for (int c = 0; c < 10; c++) {
            assertEquals(TRAIN_PER_CLASS, train.classCounts()[c]);
            assertEquals(TEST_PER_CLASS, test.classCounts()[c]);
        }
        assertEquals(2, notes.size());
        String note = notes.getFirst();
        assertTrue(note.contains("not found in " + empty), note);
        assertTrue(note.contains("embedded subset of 2000 training images"), note);
        assertTrue(note.contains("apt-get install dataset-fashion-mnist"), note);
        assertTrue(note.contains("download=true"), note);
        checkNormalization(train, 1999, FashionMnist.MEAN, FashionMnist.STD);
    }

    /// The embedded subset is the first 200 (train) and 50 (test) images of each class of the
    /// full files, in file order. With -Dsubset.update=true this test writes it instead.
    @Test void embeddedSubsetIsTheFirstImagesOfEachClass() throws IOException {
        assumeDebianPackage();
        for (Split split : Split.values()) {
            int perClass = split == Split.TRAIN ? TRAIN_PER_CLASS : TEST_PER_CLASS;
            Idx images = Idx.read(MnistFiles.find(DEBIAN, split.images()));
            Idx labels = Idx.read(MnistFiles.find(DEBIAN, split.labels()));
            byte[] px = (byte[]) images.data(), lb = (byte[]) labels.data();
            int[] taken = new int[10];
            ByteArrayOutputStream selPx = new ByteArrayOutputStream(), selLb = new ByteArrayOutputStream();
            for (int i = 0; i < lb.length; i++) {
                if (taken[lb[i]] == perClass) continue;
                taken[lb[i]]++;
                selLb.write(lb[i]);
                selPx.write(px, i * 784, 784);
            }
            int n = 10 * perClass;
            Idx wantImages = Idx.of(Idx.Type.UBYTE, selPx.toByteArray(), n, 28, 28);
            Idx wantLabels = Idx.of(Idx.Type.UBYTE, selLb.toByteArray(), n);
            Idx gotImages, gotLabels;
            if (Boolean.getBoolean("subset.update")) { // write the sources, check what was written
                wantImages.write(SUBSET_SOURCE.resolve(split.images() + ".gz"), true);
                wantLabels.write(SUBSET_SOURCE.resolve(split.labels() + ".gz"), true);
                gotImages = Idx.read(SUBSET_SOURCE.resolve(split.images() + ".gz"));
                gotLabels = Idx.read(SUBSET_SOURCE.resolve(split.labels() + ".gz"));
            } else {
                MnistFiles.Loaded embedded = MnistFiles.embedded(FashionMnist.SPEC, split);
                gotImages = embedded.images();
                gotLabels = embedded.labels();
            }
            assertArrayEquals(new int[] {n, 28, 28}, gotImages.shape());
            assertArrayEquals(selPx.toByteArray(), (byte[]) gotImages.data(), split + " images");
            assertArrayEquals(selLb.toByteArray(), (byte[]) gotLabels.data(), split + " labels");
        }
    }

    @Test void anExplicitDirectoryWithoutTheFilesSaysWhatToPutWhere(@TempDir Path dir) {
        var e = assertThrows(DataException.class, () -> FashionMnist.train(dir));
        assertEquals("no Fashion-MNIST training files in " + dir + ": missing train-images-idx3-ubyte(.gz) and "
                + "train-labels-idx1-ubyte(.gz). Put train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz "
                + "(gzipped or not) in " + dir + ", or install the Debian package dataset-fashion-mnist "
                + "(apt-get install dataset-fashion-mnist), which puts them in /usr/share/datasets/fashion-mnist, "
                + "or load it with download=true.", e.getMessage());
    }

    @Test void readsUncompressedFilesAndChecksTheirContents(@TempDir Path dir) throws IOException {
        byte[] px = new byte[3 * 28 * 28];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 7);
        Idx.of(Idx.Type.UBYTE, px, 3, 28, 28).write(dir.resolve("t10k-images-idx3-ubyte"), false);
        Idx.of(Idx.Type.UBYTE, new byte[] {4, 0, 9}, 3).write(dir.resolve("t10k-labels-idx1-ubyte"), false);
        Mnist test = Mnist.test(dir);
        assertEquals(3, test.size());
        assertEquals(9, test.label(2));
        assertEquals((784 + 5 * 28 + 6) * 7 & 0xff, test.pixel(1, 5, 6)); // pixel i holds (byte) (7 i)
        checkNormalization(test, 1, Mnist.MEAN, Mnist.STD);

        Idx.of(Idx.Type.UBYTE, new byte[] {4, 10, 9}, 3).write(dir.resolve("t10k-labels-idx1-ubyte"), false);
        var e = assertThrows(DataException.class, () -> Mnist.test(dir));
        assertEquals(dir + ": label 10 of example 1 is not one of the 10 classes", e.getMessage());

        Idx.of(Idx.Type.UBYTE, new byte[] {4, 1}, 2).write(dir.resolve("t10k-labels-idx1-ubyte"), false);
        e = assertThrows(DataException.class, () -> Mnist.test(dir));
        assertEquals(dir + ": 3 images but 2 labels", e.getMessage());

        Idx.of(Idx.Type.UBYTE, new byte[784 * 3], 3, 784).write(dir.resolve("t10k-images-idx3-ubyte"), false);
        e = assertThrows(DataException.class, () -> Mnist.test(dir));
        assertEquals(dir + ": the images file holds idx ubyte[3,784], not ubyte[count,rows,cols]", e.getMessage());
    }

    // ---- download, against a local HTTP server ----

    record Served(Map<String, byte[]> files, MnistFiles.Spec spec) {}

    /// Two small gzip IDX files for the test split, and a spec whose MD5 sums are theirs.
    static Served smallSplit(Path scratch, List<String> mirrors) throws Exception {
        Map<String, byte[]> files = new ConcurrentHashMap<>();
        Idx.of(Idx.Type.UBYTE, new byte[2 * 784], 2, 28, 28).write(scratch.resolve("i.gz"), true);
        Idx.of(Idx.Type.UBYTE, new byte[] {3, 8}, 2).write(scratch.resolve("l.gz"), true);
        files.put("t10k-images-idx3-ubyte.gz", Files.readAllBytes(scratch.resolve("i.gz")));
        files.put("t10k-labels-idx1-ubyte.gz", Files.readAllBytes(scratch.resolve("l.gz")));
        Map<String, String> md5 = new ConcurrentHashMap<>();
        for (var f : files.entrySet())
            md5.put(f.getKey(), HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(f.getValue())));
        return new Served(files, new MnistFiles.Spec("Test-MNIST", "test-mnist", null, null, mirrors, md5, null));
    }

    static HttpServer serve(Map<String, byte[]> files) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            byte[] body = files.get(exchange.getRequestURI().getPath().substring(1));
            exchange.sendResponseHeaders(body == null ? 404 : 200, body == null ? -1 : body.length);
            if (body != null) exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        return server;
    }

    static String url(HttpServer s) { return "http://127.0.0.1:" + s.getAddress().getPort() + "/"; }

    @Test void downloadsVerifiesAndRenamesIntoPlace(@TempDir Path scratch, @TempDir Path dir) throws Exception {
        Served good = smallSplit(scratch, List.of());
        // The first mirror serves a corrupted images file, the second the real ones.
        Map<String, byte[]> corrupted = new ConcurrentHashMap<>(good.files());
        byte[] bad = good.files().get("t10k-images-idx3-ubyte.gz").clone();
        bad[bad.length / 2] ^= 1;
        corrupted.put("t10k-images-idx3-ubyte.gz", bad);
        HttpServer badMirror = serve(corrupted), goodMirror = serve(good.files());
        try {
            var spec = new MnistFiles.Spec("Test-MNIST", "test-mnist", null, null, List.of(url(badMirror), url(goodMirror)),
                    good.spec().md5(), null);
            var loaded = MnistFiles.load(spec, Split.TEST, List.of(dir), dir, true, false, s -> fail(s));
            assertEquals(List.of(3L, 8L), List.of(loaded.labels().getLong(0), loaded.labels().getLong(1)));
            assertArrayEquals(good.files().get("t10k-images-idx3-ubyte.gz"), Files.readAllBytes(dir.resolve("t10k-images-idx3-ubyte.gz")));
            try (var listing = Files.list(dir)) { // no temporary files left behind
                assertEquals(List.of("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
                        listing.map(p -> p.getFileName().toString()).sorted().toList());
            }
        } finally {
            badMirror.stop(0);
            goodMirror.stop(0);
        }
    }

    @Test void aFailedDownloadNamesEachMirrorAndWhatToDoOffline(@TempDir Path scratch, @TempDir Path dir) throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) { closedPort = s.getLocalPort(); }
        Served served = smallSplit(scratch, List.of());
        HttpServer notFound = serve(Map.of());
        try {
            String refused = "http://127.0.0.1:" + closedPort + "/";
            var spec = new MnistFiles.Spec("Fashion-MNIST", "fashion-mnist", DEBIAN, "dataset-fashion-mnist",
                    List.of(refused, url(notFound)), served.spec().md5(), null);
            var e = assertThrows(DataException.class,
                    () -> MnistFiles.load(spec, Split.TEST, List.of(dir), dir, true, false, s -> fail(s)));
            String m = e.getMessage();
            assertTrue(m.startsWith("cannot download Fashion-MNIST t10k-images-idx3-ubyte.gz (" + refused
                    + "t10k-images-idx3-ubyte.gz: "), m);
            assertTrue(m.contains(url(notFound) + "t10k-images-idx3-ubyte.gz: HTTP status 404)"), m);
            assertTrue(m.endsWith("Without network, put t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
                    + "(gzipped or not) in " + dir + ", or install the Debian package dataset-fashion-mnist "
                    + "(apt-get install dataset-fashion-mnist), which puts them in " + DEBIAN + "."), m);
            try (var listing = Files.list(dir)) { assertEquals(0, listing.count()); }
            // A directory created for the download is removed again when it fails.
            Path fresh = dir.resolve("fresh");
            assertThrows(DataException.class,
                    () -> MnistFiles.load(spec, Split.TEST, List.of(fresh), fresh, true, false, s -> fail(s)));
            assertFalse(Files.exists(fresh));
        } finally {
            notFound.stop(0);
        }
    }

    @Test void mnistWithoutFilesOrNetworkFailsWithInstructions() {
        // No subset is embedded for MNIST, so the default search ends in an error, not a fallback.
        var spec = Mnist.SPEC;
        Path nowhere = Path.of("/nonexistent/kiln-test");
        var e = assertThrows(DataException.class,
                () -> MnistFiles.load(spec, Split.TRAIN, List.of(nowhere), nowhere, false, false, s -> fail(s)));
        assertEquals("no MNIST training files in " + nowhere + ": missing train-images-idx3-ubyte(.gz) and "
                + "train-labels-idx1-ubyte(.gz). Put train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz "
                + "(gzipped or not) in " + nowhere + ", or load it with download=true.", e.getMessage());
    }
}
