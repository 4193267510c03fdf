package quorumkv.node;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import quorumkv.config.Settings;
import quorumkv.replication.FollowerActor;
import quorumkv.replication.ReadResult;
import quorumkv.storage.BackupFileTest;
import quorumkv.storage.KeyValue;
import quorumkv.storage.SqliteStore;

/**
 * RESTORE_FROM on one node's data directory: a sound backup becomes the replica's state at the
 * backup's index, durably (a replica started afterwards recovers it from a snapshot); a bad file
 * writes nothing; a data directory that already holds a replica is never overwritten.
 */
public class RestoreTest {
  private static final String NODE = "node3";

  @Rule public final TemporaryFolder tmp = new TemporaryFolder();

  private Config unresolved(Path dataDir, Path backup) {
    return ConfigFactory.parseString("quorumkv.node-id = " + NODE + "\n"
            + "quorumkv.data-dir = \"" + dataDir.toString().replace("\\", "/") + "\"\n"
            + "quorumkv.restore-from = \"" + backup.toString().replace("\\", "/") + "\"\n"
            + "quorumkv.replication.state-transfer-chunk = 300\n")
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference());
  }

  private Restore restore(Path dataDir, Path backup) {
    Config config = unresolved(dataDir, backup);
    return new Restore(Settings.from(config.resolve()), config);
  }

  private Path write(String text) throws Exception {
    Path f = tmp.newFile().toPath();
    Files.writeString(f, text, StandardCharsets.UTF_8);
    return f;
  }

  private static List<KeyValue> pairs(int n) {
    List<KeyValue> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(new KeyValue(String.format("k%05d", i), "value-" + i, 1 + (i * 7L) % 5000));
    }
    return out;
  }

  private interface ReplicaCheck {
    void run(ActorTestKit kit, ActorRef<FollowerActor.Command> replica) throws Exception;
  }

  /** Starts the node's replica over {@code dataDir} in a local system, as the node will. */
  private static void withReplica(Path dataDir, ReplicaCheck check) throws Exception {
    Config config = ConfigFactory.parseString("akka.actor.provider = local\n"
            + "quorumkv.data-dir = \"" + dataDir.toString().replace("\\", "/") + "\"\n")
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
    ActorTestKit testKit = ActorTestKit.create(config);
    try {
      check.run(testKit, testKit.spawn(FollowerActor.create(NODE, 5000, 100)));
    } finally {
      testKit.shutdownTestKit();
    }
  }

  @Test
  public void aSoundBackupBecomesTheReplicasDurableStateAtItsIndex() throws Exception {
    Path dataDir = tmp.newFolder().toPath();
    List<KeyValue> pairs = pairs(1000);
    Path backup = write(BackupFileTest.backup(5000, pairs));
    assertTrue(restore(dataDir, backup).runIfRequested());
    assertTrue(Files.exists(dataDir.resolve(SqliteStore.FILE_NAME)));
    assertTrue(Files.readString(dataDir.resolve(Restore.MARKER)).contains("\"index\":5000"));
    assertFalse("the work directory is gone", Files.exists(dataDir.resolve("restoring")));
    try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve(SqliteStore.FILE_NAME));
        var rows = c.createStatement().executeQuery("SELECT count(*) FROM snapshot")) {
      assertTrue(rows.next());
      assertEquals("the state is snapshotted before the node starts", 1, rows.getLong(1));
    }

    withReplica(dataDir, (kit, replica) -> {
      TestProbe<FollowerActor.Position> position = kit.createTestProbe();
      replica.tell(new FollowerActor.GetPosition(position.ref()));
      FollowerActor.Position p = position.receiveMessage(Duration.ofSeconds(60));
      assertEquals(5000, p.appliedIndex());
      assertEquals(5000, p.lastIndex());
      assertEquals(5000, p.baseIndex());
      assertEquals(1000, p.keyCount());
      assertEquals(headerDigest(backup), p.digest());
      TestProbe<ReadResult> read = kit.createTestProbe();
      replica.tell(new FollowerActor.ReadAt("k00123", 0, read.ref()));
      FollowerActor.Value v = (FollowerActor.Value) read.receiveMessage();
      assertEquals("value-123", v.value());
      assertEquals(1 + 123 * 7L, v.version());
    });

    // Started again with RESTORE_FROM still set (a container restarted): the replica is kept.
    assertFalse(restore(dataDir, backup).runIfRequested());
  }

  @Test
  public void anEmptyStateAtAnIndexIsRestoredToo() throws Exception {
    Path dataDir = tmp.newFolder().toPath();
    Path backup = write(BackupFileTest.backup(77, List.of()));
    assertTrue(restore(dataDir, backup).runIfRequested());
    withReplica(dataDir, (kit, replica) -> {
      TestProbe<FollowerActor.Position> position = kit.createTestProbe();
      replica.tell(new FollowerActor.GetPosition(position.ref()));
      FollowerActor.Position p = position.receiveMessage(Duration.ofSeconds(60));
      assertEquals(77, p.appliedIndex());
      assertEquals(0, p.keyCount());
    });
  }

  @Test
  public void aBadBackupWritesNothing() throws Exception {
    Path dataDir = tmp.newFolder().toPath();
    String good = BackupFileTest.backup(5000, pairs(10));
    Path truncated = write(good.substring(0, good.length() - 30));
    Restore.RestoreFailed e = assertThrows(Restore.RestoreFailed.class, () -> restore(dataDir, truncated).runIfRequested());
    assertTrue(e.getMessage(), e.getMessage().startsWith("not restoring: "));
    assertTrue(e.badBackup());
    try (var files = Files.list(dataDir)) {
      assertEquals("nothing written", List.of(), files.toList());
    }
  }

  @Test
  public void aDataDirectoryThatHoldsAReplicaIsNeverOverwritten() throws Exception {
    Path dataDir = tmp.newFolder().toPath();
    SqliteStore.prepare(dataDir);
    withReplica(dataDir, (kit, replica) -> {
      TestProbe<FollowerActor.ReplicateReply> leader = kit.createTestProbe();
      replica.tell(new FollowerActor.Replicate(1, "leader", 0, 0,
          List.of(new quorumkv.storage.LogEntry(1, 1, "mine", "kept")), 1, 0, leader.ref()));
      leader.receiveMessage(Duration.ofSeconds(60));
    });
    Path backup = write(BackupFileTest.backup(5000, pairs(10)));
    assertFalse(restore(dataDir, backup).runIfRequested());
    assertFalse(Files.exists(dataDir.resolve(Restore.MARKER)));
    withReplica(dataDir, (kit, replica) -> {
      TestProbe<FollowerActor.Position> position = kit.createTestProbe();
      replica.tell(new FollowerActor.GetPosition(position.ref()));
      FollowerActor.Position p = position.receiveMessage(Duration.ofSeconds(60));
      assertEquals(1, p.lastIndex());
    });
  }

  @Test
  public void anEmptyPreparedDatabaseCountsAsNoReplica() throws Exception {
    Path dataDir = tmp.newFolder().toPath();
    SqliteStore.prepare(dataDir);
    assertEquals(null, Restore.existingReplica(dataDir));
    assertTrue(restore(dataDir, write(BackupFileTest.backup(20, pairs(3)))).runIfRequested());
    assertTrue(Restore.existingReplica(dataDir).contains("already holds this node's replica"));
  }

  private static String headerDigest(Path backup) throws Exception {
    String header = Files.readAllLines(backup).get(0);
    return header.replaceAll(".*\"digest\":\"([0-9a-f]+)\".*", "$1");
  }
}
