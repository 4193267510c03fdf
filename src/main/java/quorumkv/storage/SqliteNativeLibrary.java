package quorumkv.storage;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLConnection;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import org.sqlite.SQLiteJDBCLoader;
import org.sqlite.util.LibraryLoaderUtil;
import org.sqlite.util.OSInfo;

/**
 * Where a node's SQLite driver loads its native library from. Left to itself, sqlite-jdbc copies
 * the library out of its jar into {@code java.io.tmpdir} on every start, under a new name and with
 * a lock file, and deletes both only when the JVM exits normally: every node killed with SIGKILL
 * (a crash, the fault suite, the nemesis) left 1 MiB behind for good (its clean-up keeps any copy
 * whose lock file is still there), 1.2 GiB in this machine's {@code /tmp} after two days of fault
 * runs, and every start listed all of {@code /tmp} looking for copies to delete.
 *
 * <p>Instead the node keeps one copy in its data directory, written once per driver version and
 * platform (to a temporary name, flushed, then renamed: a copy under the final name is whole), and
 * points the driver at it ({@code org.sqlite.lib.path}, {@code org.sqlite.lib.name}), with the
 * driver's own temporary directory there too. When the copy cannot be made or loaded the driver
 * falls back to its usual extraction. An operator who sets {@code org.sqlite.lib.path} keeps it.
 */
public final class SqliteNativeLibrary {
  static final String LIB_PATH = "org.sqlite.lib.path";
  static final String LIB_NAME = "org.sqlite.lib.name";
  static final String TMP_DIR = "org.sqlite.tmpdir";

  private SqliteNativeLibrary() {}

  /**
   * Has this JVM's SQLite driver load its native library from a copy under {@code dataDir}
   * (made if missing); must run before the driver's first connection. Returns the library file, or
   * empty when the driver is left to itself ({@code org.sqlite.lib.path} already set, or no
   * library bundled for this platform).
   */
  public static Optional<Path> useCopyIn(Path dataDir) throws IOException {
    if (System.getProperty(LIB_PATH) != null) {
      return Optional.empty();
    }
    Optional<Path> library = install(dataDir);
    library.ifPresent(file -> {
      String dir = file.getParent().toAbsolutePath().toString();
      System.setProperty(LIB_PATH, dir);
      System.setProperty(LIB_NAME, file.getFileName().toString());
      System.setProperty(TMP_DIR, dir);
    });
    return library;
  }

  /**
   * The bundled library for this platform as a file under {@code dataDir/native/}, written if it
   * is not there whole; empty when the driver bundles none for this platform.
   */
  static Optional<Path> install(Path dataDir) throws IOException {
    String name = LibraryLoaderUtil.getNativeLibName();
    URL resource = SQLiteJDBCLoader.class.getResource(LibraryLoaderUtil.getNativeLibResourcePath() + "/" + name);
    if (resource == null) {
      return Optional.empty();
    }
    URLConnection connection = resource.openConnection();
    long size = connection.getContentLengthLong();
    String platform = OSInfo.getNativeLibFolderPathForCurrentOS().replace('/', '-');
    Path dir = dataDir.resolve("native").resolve("sqlite-" + SQLiteJDBCLoader.getVersion() + "-" + platform);
    Path file = dir.resolve(name);
    if (size >= 0 && Files.isRegularFile(file) && Files.size(file) == size) {
      return Optional.of(file);
    }
    Files.createDirectories(dir);
    try (var stale = Files.newDirectoryStream(dir, "*.partial")) {
      for (Path left : stale) {
        Files.deleteIfExists(left); // a copy cut short by a crash
      }
    }
    Path partial = Files.createTempFile(dir, name, ".partial");
    try {
      try (InputStream in = connection.getInputStream()) {
        Files.copy(in, partial, StandardCopyOption.REPLACE_EXISTING);
      }
      try (FileChannel channel = FileChannel.open(partial, StandardOpenOption.WRITE)) {
        channel.force(true);
      }
      Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(partial);
    }
    return Optional.of(file);
  }
}
