package quorumkv;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import quorumkv.harness.FileTrees;
import quorumkv.storage.SqliteStore;

/**
 * Configuration for in-JVM tests: the repository's application.conf with a fresh SQLite file in
 * a temporary directory (so the journal is real) and the given overrides, resolved together so
 * that the JDBC URL follows the data directory.
 */
public final class TestConfig {
  private TestConfig() {}

  /** Directories to delete when the test JVM exits, unless {@code -Dquorumkv.test.keep-data=true}. */
  private static final Set<Path> TEMPORARY = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(TestConfig::deleteTemporary, "quorumkv-test-cleanup"));
  }

  /** A fresh data directory with the replica's SQLite file prepared; deleted when the test JVM exits. */
  public static Path newDataDir(String prefix) {
    Path dir = tempDir(prefix);
    try {
      SqliteStore.prepare(dir);
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An empty temporary directory {@code quorumkv-<prefix>...}, deleted when the test JVM exits. */
  public static Path tempDir(String prefix) {
    try {
      Path dir = Files.createTempDirectory("quorumkv-" + prefix);
      TEMPORARY.add(dir);
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Runs at JVM exit: the actor systems are gone or going; open SQLite files may be unlinked on Linux. */
  private static void deleteTemporary() {
    if (Boolean.getBoolean("quorumkv.test.keep-data")) {
      return;
    }
    TEMPORARY.forEach(FileTrees::delete);
  }

  /** A local (non-cluster) ActorSystem config over {@code dataDir}. */
  public static Config local(Path dataDir, String overrides) {
    return resolve(dataDir, "akka.actor.provider = local\n" + overrides);
  }

  /** A single-node cluster config over {@code dataDir} on a random port; join it to itself in the test. */
  public static Config singleNodeCluster(Path dataDir, String overrides) {
    return resolve(dataDir, """
        akka.actor.provider = cluster
        akka.remote.artery.canonical.hostname = 127.0.0.1
        akka.remote.artery.canonical.port = 0
        akka.cluster.seed-nodes = []
        akka.cluster.roles = [node0]
        """ + overrides);
  }

  private static Config resolve(Path dataDir, String overrides) {
    // The first persistent actor of a JVM waits for Slick and SQLite to start: seconds on a busy machine.
    // In-JVM replicas hear each other within milliseconds: elections may time out sooner.
    return ConfigFactory.parseString(overrides)
        .withFallback(ConfigFactory.parseString("akka.actor.testkit.typed.single-expect-default = 15s"))
        .withFallback(ConfigFactory.parseString("""
            quorumkv.replication.election {
              heartbeat-interval = 50ms
              timeout-min = 300ms
              timeout-max = 600ms
              tick = 20ms
            }
            """))
        .withFallback(ConfigFactory.parseString("quorumkv.data-dir = \"" + dataDir.toString().replace("\\", "/") + "\""))
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }
}
