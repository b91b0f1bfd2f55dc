package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {

    private static List<String> names(Path dir) throws IOException {
        try (var s = Files.list(dir)) { return s.map(p -> p.getFileName().toString()).sorted().toList(); }
    }

    @Test
    void writesANewFileAndReplacesAnOldOne(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("f.bin");
        AtomicFiles.write(p, "first".getBytes(StandardCharsets.US_ASCII));
        assertEquals("first", Files.readString(p));
        AtomicFiles.write(p, out -> { out.write('s'); out.write("econd".getBytes(StandardCharsets.US_ASCII)); });
        assertEquals("second", Files.readString(p));
        assertEquals(List.of("f.bin"), names(dir));
    }

    @Test
    void aFailingBodyLeavesTheOldFileAndNoTemporaryFile(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("f.bin");
        Files.writeString(p, "old");
        IOException boom = new IOException("disk full");
        IOException thrown = assertThrows(IOException.class, () -> AtomicFiles.write(p, out -> {
            out.write(new byte[100_000]);                  // more than the buffer: some bytes reach the temp file
            throw boom;
        }));
        assertSame(boom, thrown);
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(p, out -> { throw new IllegalStateException("bug"); }));
        assertEquals("old", Files.readString(p));
        assertEquals(List.of("f.bin"), names(dir));
    }

    @Test
    void aBodyThatClosesTheStreamStillCompletes(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("f.bin");
        byte[] big = new byte[200_000];
        big[199_999] = 42;
        AtomicFiles.write(p, out -> { try (out) { out.write(big); } });
        assertArrayEquals(big, Files.readAllBytes(p));
    }

    @Test
    void aMissingDirectoryFailsWithoutCreatingAnything(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("missing/f.bin");
        assertThrows(IOException.class, () -> AtomicFiles.write(p, new byte[1]));
        assertFalse(Files.exists(dir.resolve("missing")));
        assertEquals(List.of(), names(dir));
    }

    @Test
    void aDirectoryInTheWayFailsAndCleansUp(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("d");
        Files.createDirectory(p);
        Files.writeString(p.resolve("inside"), "x");
        assertThrows(IOException.class, () -> AtomicFiles.write(p, new byte[1]));
        assertEquals(List.of("d"), names(dir));
    }
}
