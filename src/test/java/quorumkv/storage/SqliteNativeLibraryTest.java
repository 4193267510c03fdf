package quorumkv.storage;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;
import org.junit.Test;
import org.sqlite.SQLiteJDBCLoader;
import org.sqlite.util.LibraryLoaderUtil;
import quorumkv.TestConfig;

public class SqliteNativeLibraryTest {

  private static byte[] bundled() throws Exception {
    String resource = LibraryLoaderUtil.getNativeLibResourcePath() + "/" + LibraryLoaderUtil.getNativeLibName();
    try (InputStream in = SQLiteJDBCLoader.class.getResourceAsStream(resource)) {
      return in.readAllBytes();
    }
  }

  @Test
  public void theBundledLibraryIsCopiedOnceIntoTheDataDirectory() throws Exception {
    Path dataDir = TestConfig.tempDir("sqlite-native");
    Path file = SqliteNativeLibrary.install(dataDir).orElseThrow();
    assertTrue(file + " is under " + dataDir, file.startsWith(dataDir.resolve("native")));
    assertTrue(file.getParent().getFileName().toString().startsWith("sqlite-" + SQLiteJDBCLoader.getVersion() + "-"));
    assertArrayEquals(bundled(), Files.readAllBytes(file));

    FileTime old = FileTime.fromMillis(1_000_000L);
    Files.setLastModifiedTime(file, old);
    assertEquals(file, SqliteNativeLibrary.install(dataDir).orElseThrow());
    assertEquals("a whole copy is not written again", old, Files.getLastModifiedTime(file));
  }

  @Test
  public void aCopyCutShortIsWrittenAgainAndLeftoversGo() throws Exception {
    Path dataDir = TestConfig.tempDir("sqlite-native-cut");
    Path file = SqliteNativeLibrary.install(dataDir).orElseThrow();
    Files.write(file, new byte[] {1, 2, 3});
    Path leftover = file.resolveSibling(file.getFileName() + "123.partial");
    Files.write(leftover, new byte[] {4});

    assertEquals(file, SqliteNativeLibrary.install(dataDir).orElseThrow());
    assertArrayEquals(bundled(), Files.readAllBytes(file));
    assertFalse(Files.exists(leftover));
    try (Stream<Path> files = Files.list(file.getParent())) {
      assertEquals(List.of(file), files.toList());
    }
  }
}
